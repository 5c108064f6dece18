"""The fault matrix on the real binary: throttling and 5xx on every EC2 action, failing
S3 PutObject, failing SNS Publish. After the re-runs each report is archived exactly
once and each piece of news was carried by exactly one alert."""

from __future__ import annotations

import json

import pytest
from harness import run_binary
from scale import assert_archived_exactly_once, assert_each_error_alerted_once, synthetic_fleet


def create_and_collect(emu, fleet, expect_create=0, expect_collect=0):
    now = emu.now()
    created = run_binary(emu, ["create", "--now", now], fleet.env, timeout=120)
    assert created.code == expect_create, created.stderr
    collected = run_binary(emu, ["collect", "--now", now], fleet.env, timeout=120)
    assert collected.code == expect_collect, collected.stderr
    return created, collected


@pytest.mark.slow
def test_throttling_and_server_errors_on_every_ec2_action_are_retried(emu):
    fleet = synthetic_fleet(emu, amis=12, entries=1000, errors=2)
    emu.control("config", {"max_results_cap": 500})  # 2 pages per report: more calls to fail
    emu.control(
        "faults",
        {
            "throttle_probability": 0.3,
            "server_error_probability": 0.05,
            "seed": 5,
            "s3_put_object": {"probability": 0.2, "status": 503},
        },
    )
    created, collected = create_and_collect(emu, fleet)
    assert created.summary["created"] == 12 and created.summary["failed"] == []
    assert collected.summary["archived"] == 12 and collected.summary["failed"] == []

    counters = emu.control("faults")["counters"]
    by_action = counters["ec2"]["by_action"]
    for action in (
        "DescribeImages",
        "CreateImageUsageReport",
        "DescribeImageUsageReports",
        "DescribeImageUsageReportEntries",
    ):
        assert by_action[action]["calls"] > 0, action  # the faults apply to every action
    assert counters["ec2"]["totals"]["throttled"] >= 0.15 * counters["ec2"]["totals"]["calls"]
    assert counters["ec2"]["totals"]["server_errors"] > 0
    assert counters["s3_put_object"]["failed"] > 0

    emu.control("faults", {})
    again = run_binary(emu, ["collect", "--now", emu.now()], fleet.env)
    assert again.code == 0 and again.summary["archived"] == 0
    reports = assert_archived_exactly_once(emu, fleet)
    assert_each_error_alerted_once(emu, reports, fleet)


def test_failed_s3_writes_are_finished_by_the_next_run_without_duplicates(emu):
    fleet = synthetic_fleet(emu, amis=10, entries=800, errors=2, COLLECT_CONCURRENCY="2")
    # Refused writes (not retried by the SDK): some reports are left half-written.
    emu.control("faults", {"seed": 11, "s3_put_object": {"probability": 0.35, "status": 403, "code": "AccessDenied"}})
    now = emu.now()
    assert run_binary(emu, ["create", "--now", now], fleet.env).code == 0
    first = run_binary(emu, ["collect", "--now", now], fleet.env)
    assert first.code in (1, 3), first.stderr  # items failed, or the state write itself did
    assert emu.control("faults")["counters"]["s3_put_object"]["failed"] > 0

    emu.control("faults", {})
    second = run_binary(emu, ["collect", "--now", now], fleet.env)
    assert second.code == 0, second.stderr
    assert second.summary["failed"] == []
    assert second.summary["archived"] + second.summary["already_archived"] == 10
    reports = assert_archived_exactly_once(emu, fleet)
    assert_each_error_alerted_once(emu, reports, fleet)


def test_a_failed_alert_is_published_by_the_next_run_exactly_once(emu):
    fleet = synthetic_fleet(emu, amis=5, entries=50, errors=3)
    emu.control("faults", {"sns_publish": {"fail_next": 1, "status": 403, "code": "AuthorizationError"}})
    created, collected = create_and_collect(emu, fleet, expect_collect=3)
    assert [f["id"] for f in collected.summary["failed"]] == ["alert"]
    assert collected.summary["alert"]["published"] is False
    assert emu.control("sns/published")["messages"] == []

    retried = run_binary(emu, ["collect", "--now", emu.now()], fleet.env)
    assert retried.code == 0, retried.stderr
    assert retried.summary["alert"]["published"] is True
    quiet = run_binary(emu, ["collect", "--now", emu.now()], fleet.env)
    assert quiet.code == 0 and quiet.summary["alert"] is None
    assert len(emu.control("sns/published")["messages"]) == 1
    reports = assert_archived_exactly_once(emu, fleet)
    assert_each_error_alerted_once(emu, reports, fleet)


@pytest.mark.slow
def test_a_run_that_cannot_save_its_state_still_prints_what_it_did(emu):
    """S3 refuses every write: each report is a failure, the state cannot be saved (exit
    1), and stdout still carries the summary of what the run tried and what failed."""
    fleet = synthetic_fleet(emu, amis=3, entries=10, errors=0)
    now = emu.now()
    created = run_binary(emu, ["create", "--now", now], fleet.env, timeout=120)
    assert created.code == 0, created.stderr
    emu.control("faults", {"s3_put_object": {"probability": 1.0, "status": 403, "code": "AccessDenied"}})
    collected = run_binary(emu, ["collect", "--now", now], fleet.env, timeout=120)
    assert collected.code == 1, collected.stderr
    summary = json.loads(collected.stdout)  # printed although the run failed
    assert summary["phase"] == "collect" and summary["archived"] == 0
    assert sorted(f["id"] for f in summary["failed"])[-1] == "verdicts", "the verdicts object too"
    assert len(summary["failed"]) == 3 + 1 and all("AccessDenied" in f["error"] for f in summary["failed"])
    errors = [line for line in collected.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "AccessDenied" in errors[0], collected.stderr
