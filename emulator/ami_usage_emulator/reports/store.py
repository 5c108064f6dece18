"""Image usage reports: the model, the store, and how usage is computed.

A report is a snapshot: at creation it counts, from what moto really holds in
its EC2 backends for the report's region (and the emulator's Image Builder
recipes, ``recipes.py``), the instances, launch templates, image recipes and
container recipes of every *other* account that reference the AMI (the owner too when
``include_owner_account`` is set).  Nothing here is canned: add an instance
in a consumer account and the next report counts it.

States follow the emulator clock: ``pending`` until ``ready_at``, then
``available`` (or ``error`` for AMIs listed in ``error_images``); the report
disappears once the clock passes ``expiration_time`` (creation + 30 days).
"""

from __future__ import annotations

import heapq
import json
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..clock import THIRTY_DAYS, as_utc
from ..services.recipes import CONTAINER_RECIPE, IMAGE_RECIPE, RECIPES
from ..wire import AwsError

INSTANCE = "ec2:Instance"
LAUNCH_TEMPLATE = "ec2:LaunchTemplate"
# ImageUsageResourceTypeName's documented values; the recipes live in recipes.py.
VALID_RESOURCE_TYPES = (INSTANCE, LAUNCH_TEMPLATE, IMAGE_RECIPE, CONTAINER_RECIPE)
DEFAULT_VERSION_DEPTH = 20
NOT_COUNTED_STATES = ("terminated", "shutting-down")


def new_report_id() -> str:
    return "amiur-" + secrets.token_hex(9)[:17]


@dataclass
class Entry:
    """One row of a report: how many resources of one type one account has."""

    resource_type: str
    account_id: str
    usage_count: int


@dataclass
class Report:
    report_id: str
    owner: str
    region: str
    image_id: str
    resource_types: list[dict[str, Any]]  # as in the request, normalised
    account_ids: list[str]
    creation_time: datetime
    ready_at: datetime
    error_reason: str | None
    seq: int = 0  # creation order within the store: the stable sort/paging key
    entries: list[Entry] = field(default_factory=list)

    @property
    def expiration_time(self) -> datetime:
        return self.creation_time + THIRTY_DAYS

    def state(self, now: datetime) -> str:
        if now < self.ready_at:
            return "pending"
        return "error" if self.error_reason is not None else "available"

    def expired(self, now: datetime) -> bool:
        return now >= self.expiration_time

    def to_output(self, now: datetime, tags: dict[str, str]) -> dict[str, Any]:
        """Dict keyed by botocore member names, ready for moto's EC2 serializer.

        Tags live in moto's EC2 tag store (so CreateTags/DeleteTags work on
        reports); the caller passes them in.
        """
        state = self.state(now)
        out: dict[str, Any] = {
            "ImageId": self.image_id,
            "ReportId": self.report_id,
            "ResourceTypes": self.resource_types,
            "AccountIds": self.account_ids,
            "State": state,
            "CreationTime": self.creation_time,
            "ExpirationTime": self.expiration_time,
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        }
        if state == "error":
            out["StateReason"] = self.error_reason
        return out

    def entry_outputs(self) -> list[dict[str, Any]]:
        return [
            {
                "ResourceType": e.resource_type,
                "ReportId": self.report_id,
                "UsageCount": e.usage_count,
                "AccountId": e.account_id,
                "ImageId": self.image_id,
                "ReportCreationTime": self.creation_time,
            }
            for e in self.entries
        ]


def version_depth(resource_types: list[dict[str, Any]]) -> int:
    for rt in resource_types:
        if rt["ResourceType"] == LAUNCH_TEMPLATE:
            for opt in rt.get("ResourceTypeOptions", []):
                if opt["OptionName"] == "version-depth":
                    return int(opt["OptionValues"][0])
    return DEFAULT_VERSION_DEPTH


def _instance_count(backend: Any, image_id: str, lag_seconds: float, cutoff: datetime) -> int:
    return sum(
        1
        for inst in backend.all_instances()
        if inst.image_id == image_id
        and inst.state not in NOT_COUNTED_STATES
        and (lag_seconds <= 0 or as_utc(inst.launch_time) <= cutoff)
    )


def _template_count(backend: Any, image_id: str, depth: int) -> int:
    return sum(
        1
        for tpl in list(backend.launch_templates.values())
        if any(v.image_id == image_id for v in tpl.versions[-depth:])
    )


def _account_counts(
    account_id: str,
    region: str,
    backend: Any,
    image_id: str,
    wanted: set[str],
    depth: int,
    lag_seconds: float,
    cutoff: datetime,
) -> list[Entry]:
    """One account's non-zero counts, for the requested resource types only."""
    counts: dict[str, int] = {}
    if backend is not None and INSTANCE in wanted:
        counts[INSTANCE] = _instance_count(backend, image_id, lag_seconds, cutoff)
    if backend is not None and LAUNCH_TEMPLATE in wanted:
        counts[LAUNCH_TEMPLATE] = _template_count(backend, image_id, depth)
    for recipe in RECIPES.referencing(account_id, region, image_id):
        if recipe.resource_type in wanted:
            counts[recipe.resource_type] = counts.get(recipe.resource_type, 0) + 1
    return [Entry(rtype, account_id, n) for rtype, n in counts.items() if n]


def compute_entries(
    owner: str,
    region: str,
    image_id: str,
    resource_types: list[dict[str, Any]],
    account_ids: list[str],
    include_owner: bool,
    lag_seconds: float,
    now: datetime,
) -> list[Entry]:
    """Count, account by account, what references ``image_id`` in moto (and the recipe
    store) right now: every account with an EC2 backend or a recipe in the Region."""
    from moto.ec2.models import ec2_backends

    wanted = {rt["ResourceType"] for rt in resource_types}
    depth = version_depth(resource_types)
    cutoff = now - timedelta(seconds=lag_seconds)
    backends = {a: b for a, r, b in list(ec2_backends.iter_backends()) if r == region}
    entries: list[Entry] = []
    for account_id in sorted(set(backends) | RECIPES.accounts(region)):
        if (account_id == owner and not include_owner) or (account_ids and account_id not in account_ids):
            continue
        entries += _account_counts(
            account_id, region, backends.get(account_id), image_id, wanted, depth, lag_seconds, cutoff
        )
    return entries


class ReportError(AwsError):
    """Raised by the store; turned into an EC2 error by the action layer."""


class _Bucket:
    """The reports of one (account, region), indexed so that no call scans all of them.

    ``reports`` keeps creation (``seq``) order.  ``waiting`` is a heap of the
    reports whose ``ready_at`` had not come when last looked at: the only ones
    that can be pending by time.  ``by_image`` finds an AMI's reports.
    ``next_expiry`` is the earliest expiration time, so expired reports are
    looked for only once one has expired.
    """

    def __init__(self) -> None:
        self.reports: dict[str, Report] = {}
        self.waiting: list[tuple[datetime, int, str]] = []
        self.by_image: dict[str, dict[str, Report]] = {}
        self.next_expiry: datetime | None = None

    def add(self, report: Report) -> None:
        self.reports[report.report_id] = report
        self.by_image.setdefault(report.image_id, {})[report.report_id] = report
        if report.ready_at > report.creation_time:
            heapq.heappush(self.waiting, (report.ready_at, report.seq, report.report_id))
        if self.next_expiry is None or report.expiration_time < self.next_expiry:
            self.next_expiry = report.expiration_time

    def remove(self, report_id: str) -> None:
        report = self.reports.pop(report_id)
        same_image = self.by_image[report.image_id]
        del same_image[report_id]
        if not same_image:
            del self.by_image[report.image_id]
        if any(rid == report_id for _, _, rid in self.waiting):
            self.waiting = [w for w in self.waiting if w[2] != report_id]
            heapq.heapify(self.waiting)

    def purge(self, now: datetime) -> None:
        if self.next_expiry is not None and now >= self.next_expiry:
            for rid in [rid for rid, r in self.reports.items() if r.expired(now)]:
                self.remove(rid)
            self.next_expiry = min((r.expiration_time for r in self.reports.values()), default=None)
        while self.waiting and self.waiting[0][0] <= now:
            heapq.heappop(self.waiting)

    def pending(self, now: datetime, pending_images: Sequence[str]) -> list[Report]:
        """The pending reports, in creation order.

        Candidates are the reports still waiting for ``ready_at`` and those of
        ``pending_images`` (owner_usage.py makes ``Report.state`` answer
        pending for them); ``state`` itself decides.
        """
        candidates = {rid: self.reports[rid] for _, _, rid in self.waiting}
        for image_id in pending_images:
            candidates.update(self.by_image.get(image_id, {}))
        return sorted((r for r in candidates.values() if r.state(now) == "pending"), key=lambda r: r.seq)


class ReportStore:
    """All reports, per (account, region), plus the ClientToken memory."""

    def __init__(self, entry_source: Callable[[str, str, str], Sequence[Entry] | None] | None = None) -> None:
        self._lock = threading.RLock()
        # Synthetic seeding (synthetic.py): generated entries instead of computed ones.
        self.entry_source = entry_source
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._buckets: dict[tuple[str, str], _Bucket] = {}
            self._tokens: dict[tuple[str, str, str], tuple[str, str]] = {}
            self._seq = 0

    def _bucket(self, owner: str, region: str, now: datetime) -> _Bucket:
        bucket = self._buckets.get((owner, region))
        if bucket is None:
            bucket = self._buckets[(owner, region)] = _Bucket()
        bucket.purge(now)
        return bucket

    def live(self, owner: str, region: str, now: datetime) -> list[Report]:
        """Unexpired reports of one account/region, in creation order."""
        with self._lock:
            return list(self._bucket(owner, region, now).reports.values())

    def find(self, owner: str, region: str, report_ids: Sequence[str], now: datetime) -> tuple[list[Report], list[str]]:
        """(the live reports among ``report_ids`` in creation order, the ids not found)."""
        with self._lock:
            reports = self._bucket(owner, region, now).reports
            wanted = list(dict.fromkeys(report_ids))
            found = sorted((reports[rid] for rid in wanted if rid in reports), key=lambda r: r.seq)
            return found, [rid for rid in wanted if rid not in reports]

    def snapshot(self, now: datetime) -> dict[tuple[str, str], list[Report]]:
        with self._lock:
            return {key: self.live(key[0], key[1], now) for key in list(self._buckets)}

    def create(
        self,
        *,
        owner: str,
        region: str,
        image_id: str,
        resource_types: list[dict[str, Any]],
        account_ids: list[str],
        tags: dict[str, str],
        client_token: str | None,
        now: datetime,
        config: dict[str, Any],
    ) -> tuple[str, bool]:
        """Create a report, or replay an earlier ClientToken call: (report id, created?)."""
        fingerprint = json.dumps([image_id, resource_types, sorted(account_ids), tags], sort_keys=True)
        with self._lock:
            bucket = self._bucket(owner, region, now)
            if client_token:
                seen = self._tokens.get((owner, region, client_token))
                if seen is not None:
                    if seen[0] != fingerprint:
                        raise ReportError(
                            "IdempotentParameterMismatch",
                            f"The client token '{client_token}' was already used "
                            "with different parameters. Use a different client token.",
                        )
                    return seen[1], False  # replay, even if the report is gone since
            pending = bucket.pending(now, config.get("pending_images", []))
            for report in pending:
                if report.image_id == image_id:
                    raise ReportError(
                        "IncorrectState",
                        f"A usage report for image {image_id} is already pending "
                        f"({report.report_id}). Wait until it is available, or "
                        "delete it, before creating another.",
                    )
            limit = config["max_pending_reports_per_account"]
            if len(pending) >= limit:
                raise ReportError(
                    "ResourceLimitExceeded",
                    f"You have reached the limit of {limit} pending image usage "
                    "reports for this account in this Region.",
                )
            error_reason = config["error_images"].get(image_id)
            report = Report(
                report_id=new_report_id(),
                owner=owner,
                region=region,
                image_id=image_id,
                resource_types=resource_types,
                account_ids=list(account_ids),
                creation_time=now,
                ready_at=now + timedelta(seconds=config["report_ready_after_seconds"]),
                error_reason=error_reason,
                seq=self._seq + 1,
            )
            self._seq += 1
            synthetic = self.entry_source and self.entry_source(owner, region, image_id)
            if error_reason is None and synthetic is not None:
                report.entries = synthetic  # type: ignore[assignment]
            elif error_reason is None:
                report.entries = compute_entries(
                    owner,
                    region,
                    image_id,
                    resource_types,
                    account_ids,
                    config["include_owner_account"],
                    config["instance_activity_lag_seconds"],
                    now,
                )
            bucket.add(report)
            if client_token:
                self._tokens[(owner, region, client_token)] = (fingerprint, report.report_id)
            return report.report_id, True

    def delete(self, owner: str, region: str, report_id: str, now: datetime) -> None:
        """Forget a report (the caller drops its tags from moto's tag store)."""
        with self._lock:
            bucket = self._bucket(owner, region, now)  # purges expired ones first
            if report_id not in bucket.reports:
                raise ReportError(
                    "InvalidImageUsageReportId.NotFound", f"The image usage report ID '{report_id}' does not exist"
                )
            bucket.remove(report_id)
