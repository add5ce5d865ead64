"""Run one app process exactly as `reflex run --env prod` runs its backend, serving a
frontend that was built once beforehand (`reflex export --frontend-only`, as the Dockerfile
does), on the port given: `python -m tests.support.cluster_backend PORT`.

Why not the CLI itself: `reflex run --env prod` rebuilds the frontend at every start (minutes
under load, and two processes would build into one folder), and `--backend-only` serves no
pages. This is the CLI's own prod path (`_run_prod` -> `exec.run_backend_prod`) with the
build skipped and the compiled frontend mounted, so every process serves pages, the API and
the websocket on one port, like the image's replicas behind their proxy.
"""

from __future__ import annotations

import sys


def main(port: int) -> None:
    from reflex.utils import exec as reflex_exec
    from reflex_base import constants
    from reflex_base.environment import environment

    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_COMPILE_CONTEXT.set(constants.CompileContext.RUN)
    environment.REFLEX_SKIP_COMPILE.set(True)
    reflex_exec.run_backend_prod(
        "127.0.0.1", port, constants.LogLevel.INFO, mount_frontend_compiled_app=True
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
