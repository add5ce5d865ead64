"""Sign-in methods: listed, removable, never the last one; removals audited."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app import security
from app.db import session_scope
from app.models import AuditEvent, User, UserIdentity
from app.services import accounts, audit, sign_in_methods


def test_methods_are_listed_and_the_last_one_stays(engine: Engine) -> None:
    with session_scope(engine) as s:
        user, _ = accounts.sign_up(s, "m@a.io", "a-long-password", "Acme")
        user_id = user.id
        s.add(UserIdentity(user_id=user_id, provider="google", subject="g1", email="m@a.io"))
        s.add(UserIdentity(user_id=user_id, provider="github", subject="7", email="m@a.io"))
    actor = audit.Actor.user(user_id, "m@a.io")
    with session_scope(engine) as s:
        methods = sign_in_methods.list_methods(s, user_id)
        assert [m.label for m in methods] == ["Password", "Google", "GitHub"]
        google, github = methods[1].id, methods[2].id
        with pytest.raises(sign_in_methods.SignInMethodError, match="not linked"):
            sign_in_methods.remove_method(s, "someone-else", google, actor)
        sign_in_methods.remove_method(s, user_id, google, actor)
        sign_in_methods.remove_method(s, user_id, sign_in_methods.PASSWORD_ID, actor)
    with session_scope(engine) as s:
        assert s.get(User, user_id).password_hash == security.NO_PASSWORD
        assert [m.id for m in sign_in_methods.list_methods(s, user_id)] == [github]
        with pytest.raises(sign_in_methods.SignInMethodError, match="only way"):
            sign_in_methods.remove_method(s, user_id, github, actor)
        # Without a password, a password login fails like a wrong password.
        with pytest.raises(accounts.AccountError):
            accounts.authenticate(s, "m@a.io", "a-long-password")
    with session_scope(engine) as s:
        removed = s.exec(
            select(AuditEvent).where(AuditEvent.action == "account.sign_in_method_removed")
        ).all()
        assert sorted(e.diff["method"]["before"] for e in removed) == ["google", "password"]
