"""SYNTHETIC seeding for scale tests and benchmarks (``POST /_emulator/synthetic``).

Clearly not AWS behaviour: usage is otherwise computed from the instances and
launch templates moto holds, and a million entries would need a million
emulated instances.  Synthetic seeding instead registers N AMIs in one account
(owned, tagged, selected like any other AMI) and marks them so that a usage
report created for one of them carries M generated entries instead of computed
ones.  Everything else is the real path: CreateImageUsageReport (ClientToken,
quotas, token buckets, faults), states and expiry, the Describe actions, the
wire format through botocore's model.

Entries are generated on demand, deterministic in (seed, index), in the order
the Describe action pages them (account id, then resource type): entry ``i``
belongs to account pair ``i // 2``, with one ``ec2:Instance`` and one
``ec2:LaunchTemplate`` row per account.  A report's entries are never
materialised, so a million-entry report costs no memory, and paging one
report locates its start by binary search instead of scanning every entry
(see :func:`entry_page`).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from ..config import ConfigError
from ..reports.model import INSTANCE, LAUNCH_TEMPLATE, Entry, ReportError
from ..wire import iso_millis, opaque_token, read_token

MAX_AMIS = 100_000
MAX_ENTRIES = 10_000_000
KNOWN_KEYS = {"amis", "entries_per_report", "tags", "name_prefix", "seed", "account", "region"}
_MIX = 0x9E3779B97F4A7C15  # 64-bit golden-ratio multiplier: cheap, well-spread hashing


def _hash(seed: int, n: int) -> int:
    return ((n + 1) * _MIX ^ seed * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF


class SyntheticEntries(Sequence[Entry]):
    """``count`` generated entries, sorted by (account id, resource type)."""

    def __init__(self, count: int, seed: int) -> None:
        self.count = count
        self.seed = seed

    def __len__(self) -> int:
        return self.count

    def account(self, pair: int) -> str:
        # Strictly increasing in `pair` (sort order) with pseudo-random low digits.
        return f"{100_000_000_000 + pair * 1000 + _hash(self.seed, pair) % 1000:012d}"

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.count))]
        if i < 0:
            i += self.count
        if not 0 <= i < self.count:
            raise IndexError(i)
        kind = INSTANCE if i % 2 == 0 else LAUNCH_TEMPLATE
        return Entry(kind, self.account(i // 2), 1 + _hash(self.seed, i) % 40)


def _int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be an integer from {low} to {high}")
    return value


class SyntheticFleet:
    """Which AMIs are synthetic, and how many entries their reports carry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._images: dict[tuple[str, str, str], tuple[int, int]] = {}

    def seed(self, body: Any, default_account: str) -> dict[str, Any]:
        """Register ``amis`` AMIs whose reports will carry ``entries_per_report`` entries."""
        from moto.ec2.models import ec2_backends
        from moto.ec2.models.amis import Ami
        from moto.ec2.utils import random_ami_id

        if not isinstance(body, dict) or set(body) - KNOWN_KEYS:
            raise ConfigError(f"synthetic takes {sorted(KNOWN_KEYS)}")
        amis = _int("amis", body.get("amis"), 1, MAX_AMIS)
        entries = _int("entries_per_report", body.get("entries_per_report", 0), 0, MAX_ENTRIES)
        seed = _int("seed", body.get("seed", 0), 0, 2**31)
        tags = body.get("tags", {"Synthetic": "true"})
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise ConfigError("tags must be an object of strings")
        prefix = str(body.get("name_prefix", "synthetic"))
        account = str(body.get("account", default_account))
        region = str(body.get("region", "us-east-1"))
        backend = ec2_backends[account][region]
        ids = []
        for n in range(amis):
            ami = Ami(
                backend,
                random_ami_id(),
                name=f"{prefix}-{n:06d}",
                description="synthetic AMI (emulator scale seeding)",
                architecture="x86_64",
                virtualization_type="hvm",
                root_device_type="ebs",
                tags=dict(tags),
            )
            backend.amis[ami.id] = ami
            ids.append(ami.id)
        with self._lock:
            for n, image_id in enumerate(ids):
                self._images[(account, region, image_id)] = (entries, seed * 1_000_003 + n)
        return {
            "synthetic": True,
            "account": account,
            "region": region,
            "image_ids": ids,
            "entries_per_report": entries,
        }

    def entries_for(self, owner: str, region: str, image_id: str) -> SyntheticEntries | None:
        with self._lock:
            known = self._images.get((owner, region, image_id))
        return None if known is None else SyntheticEntries(*known)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"synthetic_amis": len(self._images), "entries": sum(count for count, _ in self._images.values())}


def _decode_after(token: str | None) -> list[Any] | None:
    if not token:
        return None
    try:
        decoded = read_token(token)
        if decoded.get("kind") != "entries":
            raise ValueError("kind")
        return list(decoded["after"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ReportError(
            "InvalidPaginationToken", "The specified pagination token is not valid or is expired."
        ) from None


def entry_page(
    reports: list[Any], filters: list[Any], size: int, token: str | None, now: Any
) -> tuple[list[tuple[int, dict[str, Any]]], str | None] | None:
    """One page of DescribeImageUsageReportEntries over synthetic reports, or ``None``.

    Answers only when every selected report is synthetic and no filter is given
    (the benchmark's and scale tests' case); the general path answers the rest.
    Same order, page size and token format as ``listing.paginate``, so a
    client cannot tell the two paths apart.
    """
    if filters or not reports or not all(isinstance(r.entries, SyntheticEntries) for r in reports):
        return None
    after = _decode_after(token)
    page: list[tuple[int, dict[str, Any]]] = []
    more = False
    for r in reports:
        if r.state(now) != "available" or (after and r.seq < after[0]):
            continue
        start = 0
        if after and r.seq == after[0]:
            start = bisect.bisect_right(r.entries, (after[1], after[2]), key=lambda e: (e.account_id, e.resource_type))
        stop = min(len(r.entries), start + size - len(page))
        for e in r.entries[start:stop]:
            page.append(
                (
                    r.seq,
                    {
                        "ResourceType": e.resource_type,
                        "ReportId": r.report_id,
                        "UsageCount": e.usage_count,
                        "AccountId": e.account_id,
                        "ImageId": r.image_id,
                        "ReportCreationTime": r.creation_time,
                    },
                )
            )
        if len(page) == size:
            more = stop < len(r.entries) or any(
                o.seq > r.seq and o.state(now) == "available" and len(o.entries) for o in reports
            )
            break
    if not more or not page:
        return page, None
    last = page[-1]
    return page, opaque_token({"kind": "entries", "after": [last[0], last[1]["AccountId"], last[1]["ResourceType"]]})


def entries_xml(page: list[tuple[int, dict[str, Any]]], token: str | None) -> str:
    """The DescribeImageUsageReportEntries response body moto's EC2 serializer writes
    for this page (before the wrapper's request-id and namespace polish)."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<DescribeImageUsageReportEntriesResponse '
        'xmlns="http://ec2.amazonaws.com/doc/2016-11-15">'
    ]
    if token:
        parts.append(f"<nextToken>{escape(token)}</nextToken>")
    if not page:
        parts.append("<imageUsageReportEntrySet/>")
    else:
        parts.append("<imageUsageReportEntrySet>")
        stamp: dict[Any, str] = {}
        for _, e in page:
            t = e["ReportCreationTime"]
            when = stamp.get(t) or stamp.setdefault(t, iso_millis(t))
            parts.append(
                f"<item><resourceType>{escape(e['ResourceType'])}</resourceType>"
                f"<reportId>{escape(e['ReportId'])}</reportId>"
                f"<usageCount>{int(e['UsageCount'])}</usageCount>"
                f"<accountId>{escape(e['AccountId'])}</accountId>"
                f"<imageId>{escape(e['ImageId'])}</imageId>"
                f"<reportCreationTime>{when}</reportCreationTime></item>"
            )
        parts.append("</imageUsageReportEntrySet>")
    parts.append("<requestId>request-id</requestId></DescribeImageUsageReportEntriesResponse>")
    return "".join(parts)
