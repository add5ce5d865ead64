"""New table rows without an `inspect.signature` per defaulted field.

SQLModel builds a table row without validation (`sqlmodel_table_construct`) and, for every
field left to its default, asks pydantic whether the field's `default_factory` takes the
validated data: `pydantic._internal._fields.takes_validated_data_argument`, an
`inspect.signature` call each time. For builtins (`list`, `dict`) that parses a text
signature with `ast`. Under load it was ~7% of the web process's GIL time (py-spy), and a
new Message plus Conversation cost 460 µs to construct instead of 135 µs. The answer never
changes for a given factory, so it is remembered (factories that cannot be hashed are
asked each time, as before).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

MAX_FACTORIES = 1024  # the app declares a few dozen; a bound all the same


def remember_default_factory_signatures() -> None:
    """Wrap pydantic's check once per process (a no-op if pydantic no longer has it)."""
    try:
        from pydantic._internal import _fields
    except ImportError:  # pragma: no cover - a pydantic without the private module
        return
    original = getattr(_fields, "takes_validated_data_argument", None)
    if original is None or getattr(original, "remembers", False):
        return
    _fields.takes_validated_data_argument = _remembering(original)


def _remembering(original: Callable[[Any], bool]) -> Callable[[Any], bool]:
    known: dict[Any, bool] = {}

    @functools.wraps(original)
    def takes_validated_data_argument(default_factory: Any) -> bool:
        try:
            return known[default_factory]
        except KeyError:
            pass
        except TypeError:  # an unhashable callable object
            return original(default_factory)
        answer = original(default_factory)
        if len(known) < MAX_FACTORIES:
            known[default_factory] = answer
        return answer

    takes_validated_data_argument.remembers = True  # type: ignore[attr-defined]
    return takes_validated_data_argument
