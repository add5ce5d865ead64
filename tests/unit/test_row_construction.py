"""New table rows remember whether a default factory takes the validated data
(app/models/row_construction.py) without changing what the rows get."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic._internal import _fields

from app.models import Conversation, Message
from app.models.row_construction import _remembering


def test_the_check_is_wrapped_once_models_are_imported() -> None:
    assert getattr(_fields.takes_validated_data_argument, "remembers", False)


def test_answers_are_the_originals_and_asked_once_per_factory() -> None:
    asked: list[Any] = []

    def original(factory: Any) -> bool:
        asked.append(factory)
        return bool(_fields.takes_validated_data_argument.__wrapped__(factory))  # type: ignore[attr-defined]

    check = _remembering(original)

    def with_data(data: dict[str, Any]) -> int:
        return len(data)

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, data: dict[str, Any]) -> int:
            return 0

    odd = Unhashable()
    for _ in range(3):
        assert check(list) is False
        assert check(with_data) is True
        assert check(odd) is True
    assert asked.count(list) == 1 and asked.count(with_data) == 1
    assert asked.count(odd) == 3  # cannot be remembered: asked every time, as before


def test_rows_still_get_fresh_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Any] = []
    real = _fields.takes_validated_data_argument

    def counting(factory: Any) -> bool:
        asked.append(factory)
        return bool(real(factory))

    monkeypatch.setattr(_fields, "takes_validated_data_argument", _remembering(counting))
    rows = [Message(tenant_id="t", conversation_id="c", role="user", text="hi") for _ in range(50)]
    conversations = [Conversation(tenant_id="t") for _ in range(50)]
    fields = [*Message.model_fields.values(), *Conversation.model_fields.values()]
    factories = {f.default_factory for f in fields if f.default_factory is not None}
    assert len(asked) <= len(factories)  # once per factory, not once per row and field
    assert len({r.id for r in rows}) == 50 and len({c.id for c in conversations}) == 50
    assert rows[0].sources is not rows[1].sources  # a new list per row, not a shared one
