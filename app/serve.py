"""`python -m app.serve`: the production server for an image whose frontend is already built.

`reflex run --env prod` compiles and exports the frontend at every start (minutes, and
replicas sharing a folder would build into it at once). The Dockerfile exports the frontend
once at build time (`reflex export --frontend-only`); this runs the CLI's own prod backend
path (`run_backend_prod`) with the build skipped and that compiled frontend mounted, so one
port serves pages, the API and the websocket, exactly as `reflex run --env prod` does.
The two-process browser test (tests/support/cluster.py) runs its app processes this way.
"""

from __future__ import annotations

import argparse

from app.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.serve", description=__doc__)
    # All interfaces, as `reflex run` binds: inside a container the port is what is exposed.
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104
    parser.add_argument("--port", type=int, default=get_settings().port)  # PORT
    parser.add_argument("--loglevel", default="warning", choices=["debug", "info", "warning"])
    args = parser.parse_args(argv)

    from reflex.utils import exec as reflex_exec
    from reflex_base import constants
    from reflex_base.environment import environment

    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_COMPILE_CONTEXT.set(constants.CompileContext.RUN)
    environment.REFLEX_SKIP_COMPILE.set(True)
    reflex_exec.run_backend_prod(
        args.host, args.port, constants.LogLevel(args.loglevel), mount_frontend_compiled_app=True
    )


if __name__ == "__main__":
    main()
