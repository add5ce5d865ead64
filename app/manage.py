"""Operator commands: `python -m app.manage migrate | check | reset-link EMAIL`.

`reset-link` prints a single-use, 30-minute password reset link for an account, for
servers without SMTP_URL (the operator hands it over; it is printed, never logged).
"""

from __future__ import annotations

import sys

from pydantic import ValidationError

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
        if command == "reset-link" and len(argv) == 2:
            return _reset_link(argv[1])
        if command == "check":
            resolve_secret_key(get_settings())
            print("configuration ok")
            return 0
    except (SettingsError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("usage: python -m app.manage migrate | check | reset-link EMAIL", file=sys.stderr)
    return 2


def _reset_link(email: str) -> int:
    from app.db import session_scope
    from app.services import accounts, password_reset
    from app.startup import schema_is_current

    resolve_secret_key(get_settings())
    if not schema_is_current():
        print("error: the database schema is not up to date; run migrate first", file=sys.stderr)
        return 2
    try:
        with session_scope() as session:
            link = password_reset.operator_reset_link(session, email)
    except accounts.AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(link)
    print(
        f"Works once, for {password_reset.RESET_MINUTES} minutes. Give it only to the "
        "account's owner.",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
