"""How the emulator's listings select and page, as EC2 does.

* Wildcards: a filter value may use ``*`` (any run of characters) and ``?`` (one
  character); several values of one filter OR together.
* Paging keys on the item's position in a stable order (a report's creation sequence,
  then account and resource type; a rule's identifier; an ARN …) rather than an offset,
  so deleting an item between two pages neither skips nor repeats the others.  The
  token is opaque (``wire.opaque_token``); one that is malformed or minted for another listing
  raises ``InvalidToken``, which each caller answers in its service's words.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from typing import Any

from .wire import AwsError, opaque_token, read_token


class InvalidToken(AwsError):
    def __init__(self) -> None:
        super().__init__("InvalidPaginationToken", "The specified pagination token is not valid or is expired.")


def _wildcard(pattern: str) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


def matches_any(patterns: Sequence[str], value: str | None) -> bool:
    return value is not None and any(_wildcard(p).fullmatch(value) for p in patterns)


def _start(
    items: list[Any], key: Callable[[Any], list[Any]], after_token: str | None, kind: str, by_bisection: bool = False
) -> int:
    """Index of the first item after the token's key.

    Entries with oddities (extra rows, dropped fields) need not be sorted by
    ``key``, so the general rule is a scan up to the first later key; callers
    whose items are sorted ask for bisection.
    """
    if not after_token:
        return 0
    try:
        decoded = read_token(after_token)
        if decoded.get("kind") != kind:
            raise ValueError(kind)
        after = decoded["after"]
        if by_bisection:
            return bisect.bisect_right(items, after, key=key)
        start = 0
        while start < len(items) and key(items[start]) <= after:
            start += 1
        return start
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidToken() from None


def _token(kind: str, after: list[Any]) -> str:
    return opaque_token({"kind": kind, "after": after})


def paginate(
    items: list[Any], key: Callable[[Any], list[Any]], size: int, after_token: str | None, kind: str
) -> tuple[list[Any], str | None]:
    """Items after the token's key, at most ``size`` of them, and the next token."""
    start = _start(items, key, after_token, kind)
    page = items[start : start + size]
    if start + size >= len(items) or not page:
        return page, None
    return page, _token(kind, key(page[-1]))


def paginate_lazily(
    items: list[Any],
    key: Callable[[Any], list[Any]],
    size: int,
    after_token: str | None,
    kind: str,
    keep: Callable[[Any], bool],
) -> tuple[list[Any], str | None]:
    """``paginate`` over the items (sorted by ``key``) that ``keep`` accepts, calling it
    only as far as needed."""
    page: list[Any] = []
    for i in range(_start(items, key, after_token, kind, by_bisection=True), len(items)):
        if keep(items[i]):
            if len(page) == size:  # one more match exists: there is a next page
                return page, _token(kind, key(page[-1]))
            page.append(items[i])
    return page, None
