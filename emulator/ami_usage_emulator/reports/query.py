"""The filters and page size of the two Describe actions.

EC2 semantics: several filters AND together, several values of one filter OR
together, values may use ``*`` (any run of characters) and ``?`` (one
character), as ``listing.matches_any`` reads them.  Paging itself is
``listing.paginate``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..clock import rfc3339
from ..listing import matches_any
from .model import Report, ReportError

REPORT_FILTERS = ("state", "creation-time", "tag-key")
ENTRY_FILTERS = ("account-id", "resource-type", "creation-time")


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
