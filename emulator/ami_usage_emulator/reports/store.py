"""Image usage reports, the store: every report per (account, Region), the ClientToken
memory, the pending-report quotas and expiry, indexed so that no call scans them all."""

from __future__ import annotations

import heapq
import json
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from ..config import Config
from ..services.recipes import RecipeStore
from .model import Entry, Report, ReportError, new_report_id
from .usage import compute_entries


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
        ``pending_images`` (``Report.state`` answers pending for them); ``state`` itself decides.
        """
        candidates = {rid: self.reports[rid] for _, _, rid in self.waiting}
        for image_id in pending_images:
            candidates.update(self.by_image.get(image_id, {}))
        return sorted((r for r in candidates.values() if r.state(now) == "pending"), key=lambda r: r.seq)


class ReportStore:
    """All reports, per (account, region), plus the ClientToken memory.

    ``config`` is the emulator's: read when a report is created (readiness, quotas,
    error images, what is counted) and, for ``pending_images``, whenever a report's state
    is looked at.  ``recipes`` is the recipe store a report counts from, and
    ``entry_source`` (synthetic seeding) gives generated entries instead of computed ones.
    """

    def __init__(
        self,
        config: Config,
        recipes: RecipeStore,
        entry_source: Callable[[str, str, str], Sequence[Entry] | None] | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._config = config
        self._recipes = recipes
        self.entry_source = entry_source
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._buckets: dict[tuple[str, str], _Bucket] = {}
            self._tokens: dict[tuple[str, str, str], tuple[str, str]] = {}
            self._seq = 0

    def _pending_images(self) -> list[str]:
        return self._config.get("pending_images")

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
    ) -> tuple[str, bool]:
        """Create a report, or replay an earlier ClientToken call: (report id, created?)."""
        config = self._config.snapshot()
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
            _check_quotas(bucket.pending(now, config.get("pending_images", [])), image_id, config)
            self._seq += 1
            report = Report(
                report_id=new_report_id(),
                owner=owner,
                region=region,
                image_id=image_id,
                resource_types=resource_types,
                account_ids=list(account_ids),
                creation_time=now,
                ready_at=now + timedelta(seconds=config["report_ready_after_seconds"]),
                error_reason=config["error_images"].get(image_id),
                seq=self._seq,
                held_images=self._pending_images,
            )
            if report.error_reason is None:
                report.entries = self._entries(report, config)
            bucket.add(report)
            if client_token:
                self._tokens[(owner, region, client_token)] = (fingerprint, report.report_id)
            return report.report_id, True

    def _entries(self, report: Report, config: dict[str, Any]) -> Any:
        """Synthetic entries for a seeded AMI, else those counted in moto right now."""
        synthetic = self.entry_source(report.owner, report.region, report.image_id) if self.entry_source else None
        if synthetic is not None:
            return synthetic
        return compute_entries(
            self._recipes,
            report.owner,
            report.region,
            report.image_id,
            report.resource_types,
            report.account_ids,
            config["include_owner_account"],
            (config["instance_activity_lag_seconds"], config["launch_template_activity_lag_seconds"]),
            report.creation_time,
        )

    def delete(self, owner: str, region: str, report_id: str, now: datetime) -> None:
        """Forget a report (the caller drops its tags from moto's tag store)."""
        with self._lock:
            bucket = self._bucket(owner, region, now)  # purges expired ones first
            if report_id not in bucket.reports:
                raise ReportError(
                    "InvalidImageUsageReportId.NotFound", f"The image usage report ID '{report_id}' does not exist"
                )
            bucket.remove(report_id)


def _check_quotas(pending: list[Report], image_id: str, config: dict[str, Any]) -> None:
    """One pending report per AMI, and at most ``max_pending_reports_per_account``."""
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
            f"You have reached the limit of {limit} pending image usage reports for this account in this Region.",
        )
