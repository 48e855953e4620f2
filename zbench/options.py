"""Plugin options: every plugin declares a pydantic model, unknown keys refused."""

from __future__ import annotations

import types
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from zbench.errors import OptionsError

OptionsT = TypeVar("OptionsT", bound="PluginOptions")


class PluginOptions(BaseModel):
    """Base of every plugin's ``Options`` model.

    Subclass it and declare fields with types and defaults; an option a suite
    sets that the model does not declare is an error, as is a value of the
    wrong type.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None:
            check_strict(value, field.annotation)
        return value


def scalar_types(annotation: Any) -> set[Any]:
    """The plain types an annotation admits (``int | None`` -> {int, NoneType})."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return scalar_types(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return set().union(*(scalar_types(a) for a in get_args(annotation)))
    return {annotation}


def strict_problem(value: Any, annotation: Any) -> str | None:
    """Why ``value`` is a loose stand-in for a number or a flag (``true`` for an int,
    ``1.5`` or ``8.0`` for an int, ``1`` for a bool), or None.  Strings pass: ``--set``
    values are strings, converted by the options model."""
    kinds = scalar_types(annotation)
    if Any in kinds or object in kinds:
        return None
    numeric = bool(kinds & {int, float})
    if isinstance(value, bool):
        if bool not in kinds and numeric:
            return (f"expected {'an integer' if float not in kinds else 'a number'}, "
                    f"not {str(value).lower()}")
    elif isinstance(value, float):
        if int in kinds and float not in kinds:
            return f"expected an integer, not {value!r}"
        if bool in kinds and not numeric:
            return f"expected true or false, not {value!r}"
    elif isinstance(value, int) and bool in kinds and not numeric:
        return f"expected true or false, not {value!r}"
    return None


def check_strict(value: Any, annotation: Any) -> None:
    """Raise a pydantic error (message without a prefix) for :func:`strict_problem`."""
    problem = strict_problem(value, annotation)
    if problem is not None:
        raise PydanticCustomError("strict_scalar", problem)


def parse_options(model: type[OptionsT], values: dict[str, Any] | None, where: str) -> OptionsT:
    """Validate ``values`` against ``model``; errors name ``where`` + the field.

    ``where`` is a location prefix such as ``suites/x.yaml: allocators[0].options``.
    Only the first error is reported, on one line.
    """
    try:
        return model.model_validate(values or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        path = f"{where}.{field}" if field else where
        msg = err["msg"].removeprefix("Value error, ")
        raise OptionsError(f"{path}: {msg}") from None


def parse_assignments(pairs: list[str] | tuple[str, ...], where: str = "--set") -> dict[str, Any]:
    """Turn ``["chain_size=8", "kernel=6.10"]`` into a dict of strings.

    Values stay strings (so ``6.10`` is not read as the float 6.1); the
    plugin's options model converts them to its field types.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise OptionsError(f"{where} {pair!r}: expected KEY=VALUE")
        out[key.strip()] = raw.strip()
    return out
