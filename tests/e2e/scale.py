"""A synthetic fleet (the emulator's SYNTHETIC seeding: N AMIs whose reports carry M
generated entries, a few ending in `error`) and the exactly-once checks that fault and
resume tests run on the archive and the alerts after their re-runs."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from archive import objects, rows
from fleet import archive_and_alerting
from harness import Emulator, base_env

PREFIX = "ami-usage"
TAG = "Scale=fault-matrix"


@dataclass
class SyntheticFleet:
    image_ids: list[str]
    errors: set[str]  # image ids whose reports end in `error`
    entries_per_report: int
    env: dict
    bucket: str


def synthetic_fleet(emu: Emulator, amis: int, entries: int, errors: int, **env: str) -> SyntheticFleet:
    seeded = emu.control("synthetic", {"amis": amis, "entries_per_report": entries, "tags": {"Scale": "fault-matrix"}})
    image_ids = seeded["image_ids"]
    failing = set(image_ids[:errors])
    emu.control("config", {"error_images": {i: "Injected: the report could not be generated." for i in failing}})
    alerting = archive_and_alerting(emu)
    settings = dict(
        ARCHIVE_BUCKET=alerting.bucket,
        ARCHIVE_PREFIX=PREFIX,
        ALERT_TOPIC_ARN=alerting.topic_arn,
        AMI_TAG_FILTERS=TAG,
        RUST_LOG="warn",
    )
    settings.update(env)
    return SyntheticFleet(image_ids, failing, entries, base_env(emu, **settings), alerting.bucket)


def assert_archived_exactly_once(emu: Emulator, fleet: SyntheticFleet) -> dict[str, dict]:
    """Every report EC2 holds is archived once, entries complete and never doubled, and
    no multipart upload is left open. Returns the reports by id."""
    reports = {r["ReportId"]: r for r in emu.client("ec2").describe_image_usage_reports()["ImageUsageReports"]}
    assert {r["ImageId"] for r in reports.values()} == set(fleet.image_ids)
    s3 = emu.client("s3")
    archive = objects(s3, fleet.bucket, f"{PREFIX}/")
    report_rows = rows(archive, "reports")
    assert sorted(r["report_id"] for r in report_rows) == sorted(reports), "each report archived exactly once"
    entry_rows = rows(archive, "entries")
    keys = Counter((e["report_id"], e["account_id"], e["resource_type"]) for e in entry_rows)
    assert [k for k, n in keys.items() if n > 1] == [], "no duplicate entry rows"
    per_report = Counter(e["report_id"] for e in entry_rows)
    for rid, r in reports.items():
        expected = 0 if r["ImageId"] in fleet.errors else fleet.entries_per_report
        assert per_report.get(rid, 0) == expected, rid
        [row] = [x for x in report_rows if x["report_id"] == rid]
        assert row["state"] == ("error" if r["ImageId"] in fleet.errors else "available")
        assert row["entry_count"] == expected
    assert s3.list_multipart_uploads(Bucket=fleet.bucket).get("Uploads", []) == []
    return reports


def assert_each_error_alerted_once(emu: Emulator, reports: dict[str, dict], fleet: SyntheticFleet) -> None:
    """Exactly one published alert names each report in `error`; none names it twice."""
    emails = [json.loads(m["Message"])["email"] for m in emu.control("sns/published")["messages"]]
    for rid, r in reports.items():
        carried = sum(1 for text in emails if f"- {rid} ({r['ImageId']})" in text)
        assert carried == (1 if r["ImageId"] in fleet.errors else 0), (rid, carried, len(emails))
