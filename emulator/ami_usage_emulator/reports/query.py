"""Filters and paging shared by the two Describe actions.

EC2 semantics: several filters AND together, several values of one filter OR
together, values may use ``*`` (any run of characters) and ``?`` (one
character).  Paging keys on the item's position in a stable order (the report's
creation sequence, then account and resource type) rather than an offset, so
deleting a report between two pages neither skips nor repeats items.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..clock import rfc3339
from .store import Report, ReportError

REPORT_FILTERS = ("state", "creation-time", "tag-key")
ENTRY_FILTERS = ("account-id", "resource-type", "creation-time")


def _wildcard(pattern: str) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


def matches_any(patterns: Sequence[str], value: str | None) -> bool:
    return value is not None and any(_wildcard(p).fullmatch(value) for p in patterns)


def parse_filters(
    raw: list[dict[str, Any]] | None, allowed: Sequence[str], allow_tags: bool
) -> list[tuple[str, list[str]]]:
    """[(name, values)] after checking names; unknown names -> InvalidParameterValue."""
    out = []
    for f in raw or []:
        name = f.get("Name")
        values = [str(v) for v in (f.get("Values") or [])]
        if not name or not (name in allowed or (allow_tags and name.startswith("tag:"))):
            raise ReportError("InvalidParameterValue", f"The filter '{name}' is invalid")
        if not values:
            raise ReportError("InvalidParameterValue", f"The filter '{name}' requires at least one value")
        out.append((name, values))
    return out


def report_matches(report: Report, filters: list[tuple[str, list[str]]], state: str, tags: dict[str, str]) -> bool:
    for name, values in filters:
        if name == "state":
            ok = matches_any(values, state)
        elif name == "creation-time":
            ok = matches_any(values, rfc3339(report.creation_time))
        elif name == "tag-key":
            ok = any(matches_any(values, k) for k in tags)
        else:  # tag:<key>
            ok = matches_any(values, tags.get(name[4:]))
        if not ok:
            return False
    return True


def entry_matches(entry: dict[str, Any], filters: list[tuple[str, list[str]]]) -> bool:
    for name, values in filters:
        value = {
            "account-id": entry["AccountId"],
            "resource-type": entry["ResourceType"],
            "creation-time": rfc3339(entry["ReportCreationTime"]),
        }[name]
        if not matches_any(values, value):
            return False
    return True


def page_size(max_results: Any, cap: int) -> int:
    if max_results is None:
        return cap
    n = int(max_results)
    if n < 1:
        raise ReportError(
            "InvalidParameterValue",
            f"Value ({n}) for parameter maxResults is invalid. Expecting a value greater than 0.",
        )
    return n


def _start(
    items: list[Any], key: Callable[[Any], list[Any]], token: str | None, kind: str, by_bisection: bool = False
) -> int:
    """Index of the first item after the token's key.

    Entries with oddities (extra rows, dropped fields) need not be sorted by
    ``key``, so the general rule is a scan up to the first later key; callers
    whose items are sorted ask for bisection.
    """
    if not token:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        if decoded.get("kind") != kind:
            raise ValueError(kind)
        after = decoded["after"]
        if by_bisection:
            return bisect.bisect_right(items, after, key=key)
        start = 0
        while start < len(items) and key(items[start]) <= after:
            start += 1
        return start
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, UnicodeDecodeError):
        raise ReportError(
            "InvalidPaginationToken", "The specified pagination token is not valid or is expired."
        ) from None


def _token(kind: str, after: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"kind": kind, "after": after}).encode()).decode()


def paginate(
    items: list[Any], key: Callable[[Any], list[Any]], size: int, token: str | None, kind: str
) -> tuple[list[Any], str | None]:
    """Items after the token's key, at most ``size`` of them, and the next token."""
    start = _start(items, key, token, kind)
    page = items[start : start + size]
    if start + size >= len(items) or not page:
        return page, None
    return page, _token(kind, key(page[-1]))


def paginate_lazily(
    items: list[Any],
    key: Callable[[Any], list[Any]],
    size: int,
    token: str | None,
    kind: str,
    keep: Callable[[Any], bool],
) -> tuple[list[Any], str | None]:
    """``paginate`` over the items (sorted by ``key``) that ``keep`` accepts, calling it
    only as far as needed."""
    page: list[Any] = []
    for i in range(_start(items, key, token, kind, by_bisection=True), len(items)):
        if keep(items[i]):
            if len(page) == size:  # one more match exists: there is a next page
                return page, _token(kind, key(page[-1]))
            page.append(items[i])
    return page, None
