"""A request's members against botocore's input shape: what the service itself checks.

SDKs check only a part of the model before sending (botocore: required members, types
and minimums; the SDK for Rust: required members), the service checks the rest: enum
values, maximum lengths and sizes, ranges and patterns.  ``violations`` walks the
parsed input and reports each breach with the member's path (``ResourceTypes.1.ResourceType``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from botocore.model import Shape

MISSING = "missing"
INVALID = "invalid"


@dataclass(frozen=True)
class Violation:
    kind: str  # MISSING or INVALID
    path: str  # member path as on the wire's model names, list items 1-based
    value: Any
    constraint: str  # "Member must not be null", "Member must satisfy enum value set: [...]"
    code: str | None = None  # a rule's own error code (InvalidParameterCombination…), else the protocol's


@functools.lru_cache(maxsize=4096)
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error:  # a Java-only construct (\p{…}): the service's own, not checkable here
        return None


def violations(shape: Shape | None, value: Any, path: str = "") -> list[Violation]:
    if shape is None:
        return []
    out: list[Violation] = []
    _walk(shape, value, path, out)
    return out


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _walk(shape: Shape, value: Any, path: str, out: list[Violation]) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return
        for name in shape.required_members:
            if value.get(name) is None:
                out.append(Violation(MISSING, _join(path, name), None, "Member must not be null"))
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _walk(member, value[name], _join(path, name), out)
    elif kind == "list":
        if isinstance(value, list):
            _size(shape, value, path, out)
            for i, item in enumerate(value, 1):
                _walk(shape.member, item, f"{path}.{i}", out)
    elif kind == "map":
        if isinstance(value, dict):
            _size(shape, value, path, out)
            for key, item in value.items():
                _walk(shape.key, key, f"{path}.{key}", out)
                _walk(shape.value, item, f"{path}.{key}", out)
    elif kind == "string":
        _string(shape, value, path, out)
    elif kind in ("integer", "long"):
        _range(shape, value, path, out)
    elif kind == "blob":
        _size(shape, value, path, out)


def _string(shape: Shape, value: Any, path: str, out: list[Violation]) -> None:
    if not isinstance(value, str):
        return
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        out.append(Violation(INVALID, path, value, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
        return
    _size(shape, value, path, out)
    pattern = shape.metadata.get("pattern")
    compiled = _pattern(pattern) if pattern else None
    if compiled is not None and compiled.search(value) is None:
        out.append(Violation(INVALID, path, value, f"Member must satisfy regular expression pattern: {pattern}"))


def _size(shape: Shape, value: Any, path: str, out: list[Violation]) -> None:
    if not hasattr(value, "__len__"):
        return
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and len(value) < low:
        out.append(Violation(INVALID, path, value, f"Member must have length greater than or equal to {low}"))
    elif high is not None and len(value) > high:
        out.append(Violation(INVALID, path, value, f"Member must have length less than or equal to {high}"))


def _range(shape: Shape, value: Any, path: str, out: list[Violation]) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        return
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        out.append(Violation(INVALID, path, value, f"Member must have value greater than or equal to {low}"))
    elif high is not None and value > high:
        out.append(Violation(INVALID, path, value, f"Member must have value less than or equal to {high}"))
