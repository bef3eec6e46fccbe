"""Values read from JSON checked against a dataclass's fields, before the dataclass is built from them."""

from __future__ import annotations

import dataclasses
import math

MAX_WHOLE_NUMBER = 2**63 - 1  # what an int64 holds: far above any size, count or seed a run can use


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_WHOLE_NUMBER


def _number(value: object) -> bool:
    return _whole(value) or (isinstance(value, float) and math.isfinite(value))


# A field's annotation -> (its check, the words for one value, the words for a list of them)
KINDS = {
    "int": (_whole, "a whole number", "whole numbers"),
    "float": (_number, "a finite number", "finite numbers"),
    "bool": (lambda v: isinstance(v, bool), "true or false", "true/false values"),
    "str": (lambda v: isinstance(v, str), "a text", "texts"),
}


def _options(annotation: str) -> list[tuple[str, bool]]:
    """"tuple[int, ...] | None" -> [("int", True), ("None", False)]: each kind, and whether it is a list of it."""
    options = []
    for option in annotation.split(" | "):
        inner = option.removeprefix("tuple[").removesuffix(", ...]")
        options.append((inner, inner != option))
    return options


def _fits(annotation: str, value: object) -> bool:
    for kind, many in _options(annotation):
        if kind == "None":
            if value is None:
                return True
        elif many:
            if isinstance(value, (list, tuple)) and all(KINDS[kind][0](v) for v in value):
                return True
        elif KINDS[kind][0](value):
            return True
    return False


def _words(annotation: str) -> str:
    return " or ".join("null" if kind == "None" else f"a list of {KINDS[kind][2]}" if many else KINDS[kind][1]
                       for kind, many in _options(annotation))


def check_field_types(cls: type, data: object) -> None:
    """Refuse data (a dict read from JSON) whose keys are not fields of the dataclass cls or whose values do not fit.

    A whole-number field takes only whole numbers (not 1.5, true or Infinity), a number field only finite ones.
    """
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} must be a JSON object of fields, not {type(data).__name__}.")
    annotations = {f.name: f.type for f in dataclasses.fields(cls)}
    unknown = sorted(repr(k) for k in data if k not in annotations)
    if unknown:
        raise ValueError(f"Unknown {cls.__name__} fields: {', '.join(unknown[:5])}.")
    for name, value in data.items():
        if not _fits(annotations[name], value):
            raise ValueError(f"{name} must be {_words(annotations[name])}.")
