"""Private copies of stored records, made without a JSON round trip.

A record is validated once when it is written; after that the store hands out copies that share
everything immutable (strings, numbers, datetimes, enums, frozen models of such values) and copy
only what a caller could mutate (dicts, lists, models that are not deeply frozen). The plan of
which fields of a model class need copying is worked out once per class, on first use.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import enum
import types
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel

__all__ = ["is_deeply_frozen", "private_copy"]

T = TypeVar("T")
_Copier = Callable[[Any], Any]

_ATOMS: tuple[type, ...] = (
    str,
    int,
    float,
    bool,
    type(None),
    bytes,
    dt.datetime,
    dt.date,
    dt.time,
    dt.timedelta,
    decimal.Decimal,
    uuid.UUID,
)
_set = object.__setattr__


def _same(value: Any) -> Any:
    return value


def _copy_dict(value: dict[str, object]) -> dict[str, object]:
    copiers = _COPIERS
    return {k: (copiers.get(type(v)) or _copier_of(v))(v) for k, v in value.items()}


def _copy_list(value: list[object]) -> list[object]:
    copiers = _COPIERS
    return [(copiers.get(type(v)) or _copier_of(v))(v) for v in value]


def _copy_tuple(value: tuple[object, ...]) -> tuple[object, ...]:
    return tuple(_copy_list(list(value)))


_COPIERS: dict[type, _Copier] = {
    **{atom: _same for atom in _ATOMS},
    dict: _copy_dict,
    list: _copy_list,
    tuple: _copy_tuple,
}


def private_copy(value: T) -> T:
    """A copy of `value` that shares nothing mutable with it.

    Immutable values (and deeply frozen models) come back as they are; dicts, lists and models
    are rebuilt as deep as they can be mutated. Anything else falls back to `copy.deepcopy`.
    """
    copier = _COPIERS.get(type(value)) or _copier_of(value)
    result: T = copier(value)
    return result


def is_deeply_frozen(cls: type[BaseModel]) -> bool:
    """Whether instances of `cls` can be shared: frozen, with only immutable fields."""
    return _model_copier(cls) is _same


def _copier_of(value: object) -> _Copier:
    cls = type(value)
    if isinstance(value, enum.Enum):
        copier: _Copier = _same
    elif isinstance(value, BaseModel):
        copier = _model_copier(type(value))
    else:
        return copy.deepcopy
    _COPIERS[cls] = copier
    return copier


def _model_copier(cls: type[BaseModel]) -> _Copier:
    known = _COPIERS.get(cls)
    if known is not None:
        return known
    mutable = _mutable_fields(cls, frozenset({cls}))
    if cls.model_config.get("frozen") and not mutable and not cls.__private_attributes__:
        _COPIERS[cls] = _same
        return _same

    def copy_model(model: BaseModel) -> BaseModel:
        fields: dict[str, object] = model.__dict__.copy()
        copiers = _COPIERS
        for name in mutable:
            value = fields[name]
            fields[name] = (copiers.get(type(value)) or _copier_of(value))(value)
        new = cls.__new__(cls)
        _set(new, "__dict__", fields)
        _set(new, "__pydantic_fields_set__", set(model.__pydantic_fields_set__))
        extra = model.__pydantic_extra__
        _set(new, "__pydantic_extra__", None if extra is None else _copy_dict(extra))
        private = model.__pydantic_private__
        _set(new, "__pydantic_private__", None if private is None else copy.deepcopy(private))
        return new

    _COPIERS[cls] = copy_model
    return copy_model


def _mutable_fields(cls: type[BaseModel], seen: frozenset[type]) -> tuple[str, ...]:
    return tuple(
        name for name, info in cls.model_fields.items() if not _immutable(info.annotation, seen)
    )


def _immutable(annotation: Any, seen: frozenset[type]) -> bool:
    """Whether every value `annotation` admits is immutable (so it can be shared)."""
    if annotation is None or annotation in _ATOMS:
        return True
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return True
        if issubclass(annotation, BaseModel) and annotation not in seen:
            return (
                bool(annotation.model_config.get("frozen"))
                and not annotation.__private_attributes__
                and not _mutable_fields(annotation, seen | {annotation})
            )
        return False
    origin = get_origin(annotation)
    if origin is Literal:
        return True
    if origin is Annotated:
        return _immutable(get_args(annotation)[0], seen)
    if origin is Union or origin is types.UnionType:
        return all(_immutable(arg, seen) for arg in get_args(annotation))
    return False
