"""Operator commands: `python -m app.manage migrate | check`."""

from __future__ import annotations

import sys

from app.db import run_migrations
from app.settings import SettingsError, get_settings, resolve_secret_key


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    try:
        if command == "migrate":
            settings = get_settings()
            resolve_secret_key(settings)
            run_migrations(settings)
            print(f"database ready: {settings.resolved_database_url.split('@')[-1]}")
            return 0
        if command == "check":
            resolve_secret_key(get_settings())
            print("configuration ok")
            return 0
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("usage: python -m app.manage migrate|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
