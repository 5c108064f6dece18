"""Runs that stop part-way are finished by the next run: the CLI killed with SIGKILL at
seeded random points of collect, and runs that reach their --time-budget."""

from __future__ import annotations

import random

import pytest
from harness import collect_killed_after, run_binary
from scale import assert_archived_exactly_once, assert_each_error_alerted_once, synthetic_fleet

SEED = 20261122


@pytest.mark.slow
def test_collect_killed_at_random_points_then_rerun_archives_everything_once(emu):
    fleet = synthetic_fleet(emu, amis=16, entries=600, errors=3, COLLECT_CONCURRENCY="2")
    emu.control("config", {"max_results_cap": 200})  # several pages per report
    now = emu.now()
    assert run_binary(emu, ["create", "--now", now], fleet.env).code == 0

    # Kill points inside the archive phase: after the k-th object write of a run (the
    # fleet needs 29: 13 entries and 16 report objects), where a report may be half
    # written (entries object without its report object).
    rng = random.Random(SEED)
    kills = 0
    for _ in range(5):
        kills += collect_killed_after(emu, fleet.env, now, rng.randint(1, 8))
    assert kills >= 3, "the runs finished before they could be killed: the test proves nothing"

    final = run_binary(emu, ["collect", "--now", now], fleet.env)
    assert final.code == 0, final.stderr
    assert final.summary["failed"] == [] and final.summary["expiring_unarchived"] == []
    assert final.summary["archived"] + final.summary["already_archived"] == 16
    again = run_binary(emu, ["collect", "--now", emu.now()], fleet.env)
    assert again.code == 0 and again.summary["archived"] == 0 and again.summary["alert"] is None
    reports = assert_archived_exactly_once(emu, fleet)
    assert_each_error_alerted_once(emu, reports, fleet)


@pytest.mark.slow
def test_create_stops_at_its_time_budget_and_the_next_run_finishes(emu):
    # 30 AMIs at 10 creates/s after a burst of 2 need about 3 s: a 1 s budget stops early.
    fleet = synthetic_fleet(emu, amis=30, entries=10, errors=0, EC2_MUTATING_RATE="10", EC2_MUTATING_BURST="2")
    emu.control("config", {"report_ready_after_seconds": 3600})
    now = emu.now()
    first = run_binary(emu, ["create", "--now", now, "--time-budget", "1"], fleet.env)
    assert first.code == 0, first.stderr
    s = first.summary
    assert s["stopped_because"] == "time budget reached"
    assert 0 < s["created"] < 30 and s["created"] + s["remaining"] == 30

    second = run_binary(emu, ["create", "--now", now], fleet.env)
    assert second.code == 0, second.stderr
    assert second.summary["created"] == s["remaining"] and second.summary["already_reported"] == s["created"]
    assert second.summary["remaining"] == 0
    reports = emu.client("ec2").describe_image_usage_reports()["ImageUsageReports"]
    assert sorted(r["ImageId"] for r in reports) == sorted(fleet.image_ids)  # one each, none twice


@pytest.mark.slow
def test_collect_stops_at_its_time_budget_and_the_next_run_finishes(emu):
    # One report at a time, each report's single page paced to 5/s: 20 reports need ~4 s.
    fleet = synthetic_fleet(
        emu, amis=20, entries=40, errors=2, COLLECT_CONCURRENCY="1", EC2_DESCRIBE_RATE="5", EC2_DESCRIBE_BURST="3"
    )
    now = emu.now()
    assert run_binary(emu, ["create", "--now", now], fleet.env).code == 0
    first = run_binary(emu, ["collect", "--now", now, "--time-budget", "1"], fleet.env)
    assert first.code == 0, first.stderr
    assert 0 < first.summary["archived"] < 20
    assert first.summary["archived"] + first.summary["remaining"] == 20

    second = run_binary(emu, ["collect", "--now", now], fleet.env)
    assert second.code == 0, second.stderr
    assert second.summary["archived"] == first.summary["remaining"] and second.summary["remaining"] == 0
    reports = assert_archived_exactly_once(emu, fleet)
    assert_each_error_alerted_once(emu, reports, fleet)


def test_unfinished_uploads_of_a_killed_run_are_aborted_by_the_next_one(emu):
    """A run killed while it streamed an entries object leaves a multipart upload (here
    made by hand, as the killed run would have): the next collect aborts it once it is
    older than any live run could be, and leaves uploads outside its prefix alone."""
    from fleet import archive_and_alerting
    from harness import base_env

    alerting = archive_and_alerting(emu)
    env = base_env(emu, ARCHIVE_BUCKET=alerting.bucket, ARCHIVE_PREFIX="ami-usage")
    s3 = emu.client("s3")
    leftover = "ami-usage/entries/region=us-east-1/report_date=2026-01-01/amiur-0123456789abcdef0.json.gz"
    for key in (leftover, "elsewhere/big.bin"):
        upload = s3.create_multipart_upload(Bucket=alerting.bucket, Key=key)["UploadId"]
        s3.upload_part(Bucket=alerting.bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * 1024)

    def unfinished() -> list[str]:
        return sorted(u["Key"] for u in s3.list_multipart_uploads(Bucket=alerting.bucket).get("Uploads", []))

    fresh = run_binary(emu, ["collect", "--now", emu.now()], env)
    assert fresh.code == 0 and fresh.summary["aborted_uploads"] == 0, fresh.stderr
    assert unfinished() == [
        "ami-usage/entries/region=us-east-1/report_date=2026-01-01/amiur-0123456789abcdef0.json.gz",
        "elsewhere/big.bin",
    ], "a young upload may belong to a live run"
    later = run_binary(emu, ["collect", "--now", emu.advance(2 * 3600)], env)
    assert later.code == 0 and later.summary["aborted_uploads"] == 1, later.stderr
    assert unfinished() == ["elsewhere/big.bin"]
