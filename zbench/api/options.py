"""Plugin options: every plugin declares a pydantic model, unknown keys refused."""

from __future__ import annotations

import difflib
import types
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from zbench.api.errors import OptionsError

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


class OptionValueError(OptionsError):
    """An options error that also says which field failed and why, without the location
    (so a caller can blame the flag that set the field instead of the suite file)."""

    def __init__(self, message: str, field: str, detail: str) -> None:
        super().__init__(message)
        self.field = field
        self.detail = detail


def unknown_option(name: str, valid: list[str]) -> str:
    """``unknown option 'chain_sise'; did you mean 'chain_size'? (options: ...)``."""
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown option {name!r}{hint} (options: {', '.join(valid) or 'none'})"


def _got(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def describe_error(err: ErrorDetails, model: type[BaseModel] | None = None) -> str:
    """One pydantic error in the user's terms (``unknown option``, ``expected an integer``,
    ``must be at least 4``, ``must be one of 'a' or 'b'``); other errors keep their message."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "extra_forbidden":
        name = str(err["loc"][-1]) if err["loc"] else "?"
        valid = sorted(model.model_fields) if model is not None and len(err["loc"]) == 1 else []
        return unknown_option(name, valid)
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected an integer, not {_got(value)}"
    if kind in ("float_parsing", "float_type"):
        return f"expected a number, not {_got(value)}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, not {_got(value)}"
    bounds = {"greater_than": ("greater than", "gt"), "greater_than_equal": ("at least", "ge"),
              "less_than": ("less than", "lt"), "less_than_equal": ("at most", "le")}
    if kind in bounds:
        words, key = bounds[kind]
        limit = ctx.get(key)
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)
        return f"must be {words} {limit} (got {_got(value)})"
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected')} (got {_got(value)})"
    if kind == "missing":
        return "required option missing"
    return str(err["msg"]).removeprefix("Value error, ")


def parse_options(model: type[OptionsT], values: dict[str, Any] | None, where: str,
                  base_dir: Path | None = None) -> OptionsT:
    """Validate ``values`` against ``model``; errors name ``where`` + the field.

    ``base_dir`` (the suite's folder) reaches the validators as the validation context
    ``{"base_dir": base_dir}`` (pydantic's ``ValidationInfo.context``): an option that
    names a file resolves a relative path against it (:func:`suite_path`).

    ``where`` is a location prefix such as ``suites/x.yaml: allocators[0].options``.
    Only the first error is reported, on one line, in the user's terms
    (:func:`describe_error`); an unknown option lists the valid ones and the nearest.
    """
    try:
        context = {"base_dir": base_dir} if base_dir is not None else None
        return model.model_validate(values or {}, context=context)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        path = f"{where}.{field}" if field else where
        detail = describe_error(err, model)
        raise OptionValueError(f"{path}: {detail}", field, detail) from None


def suite_path(value: Path, info: ValidationInfo) -> Path:
    """A file an option names: a relative path is taken against the suite's folder when
    the file is there (the validation context's ``base_dir``, as the suite's dumps are),
    else as given (relative to the working directory: the command line's options)."""
    base = (info.context or {}).get("base_dir") if info is not None else None
    if base is not None and not value.is_absolute() and (Path(base) / value).exists():
        return Path(base) / value
    return value


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
