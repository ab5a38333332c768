"""Building a pydantic model from values claimrules computed itself, without validating them again."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

_M = TypeVar("_M", bound=BaseModel)


def unvalidated(cls: type[_M], values: dict[str, Any], fields_set: set[str],
                private: dict[str, Any] | None = None) -> _M:
    """An instance of ``cls`` with ``values`` as its fields (all of them, in declared order), as
    ``model_construct`` makes it: no validation, for values claimrules computed itself (a decision's
    parts, money from exact arithmetic on valid amounts)."""
    value = cls.__new__(cls)
    object.__setattr__(value, "__dict__", values)
    object.__setattr__(value, "__pydantic_fields_set__", fields_set)
    object.__setattr__(value, "__pydantic_extra__", None)
    object.__setattr__(value, "__pydantic_private__", private)
    return value
