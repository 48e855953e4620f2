"""Plugin options: every plugin declares a pydantic model, unknown keys refused."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from zbench.errors import OptionsError

OptionsT = TypeVar("OptionsT", bound="PluginOptions")


class PluginOptions(BaseModel):
    """Base of every plugin's ``Options`` model.

    Subclass it and declare fields with types and defaults; an option a suite
    sets that the model does not declare is an error, as is a value of the
    wrong type.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


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
        raise OptionsError(f"{path}: {err['msg']}") from None


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
