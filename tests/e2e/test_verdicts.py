"""The verdict rules with their defaults (UNUSED_MIN_DAYS=30, MIN_REPORTS=3,
MIN_AGE_DAYS=30), run after run over 40 emulated days: a labelled fleet where each AMI
is one case, every verdict and its reasons asserted from the archived verdicts object
of every collect, and the news each case must (and must not) produce.

Day D (every 2nd day): create at day D, fleet events, +1 h, collect. Reports lag as on
AWS (the emulator's defaults): instances 24 h (instance_activity_lag_seconds), launch
templates 7 days (launch_template_activity_lag_seconds), so the fleet seeded just before
day 0 shows in reports from day 2 (instances) and day 8 (templates); a launch shows in
lastLaunchedTime 24 h later (last_launched_lag_seconds), so a launch during the story is
first seen by the next create's report, which also counts the instance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from archive import object_rows as verdict_rows
from archive import section
from fleet import CONSUMER_1, archive_and_alerting, register_golden
from harness import OWNER, REGION, base_env, run_binary
from support.glue_schema import check_rows, glue_columns

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "ami-usage"
DAY = 86400
DEPTH = 3
CANDIDATE = ["unused_for_window", "no_owner_account_use", "older_than_min_age"]


def expected(case: str, day: int) -> tuple[str, list[str] | None, list[str]] | None:
    """(verdict, exact reasons or None, reasons that must be among them); None = no verdict."""
    young = day < 30
    if case == "current" and day == 0:  # launched 2 h ago: in no report, not yet in lastLaunchedTime
        return "excluded", None, ["too_young"]
    if case == "lt_old_version" and day < 8:  # only templates name it: in reports from day 8
        return "excluded", None, ["too_young"]
    if case in ("current", "lt_old_version"):  # young ones also say too_young
        return ("in_use", None, ["used_in_other_accounts"]) if young else ("in_use", ["used_in_other_accounts"], [])
    if case == "scratch":
        return None
    if case in ("owner_instance", "owner_ssm"):  # checked daily: in use even while young
        return ("in_use", None, ["used_in_owner_account"]) if young else ("in_use", ["used_in_owner_account"], [])
    if case == "deregistered":
        return None if day >= 10 else ("excluded", None, ["too_young"])
    if case == "too_young":
        return None if day < 20 else ("excluded", None, ["too_young"])
    if case == "excluded_tag":
        return "excluded", None, ["excluded_by_tag"]
    if case == "web_v2":
        return "excluded", None, ["kept_newest_in_group"]
    if young:
        return "excluded", None, ["too_young"]
    if case in ("lt_beyond_depth", "shared_unused", "web_v1"):
        return "candidate", CANDIDATE, []
    if case == "launched_recent":
        # Launched at day 34 after the create: 1 h later AWS shows the owner nothing of it
        # (not in that report, not yet in lastLaunchedTime, another account's instance), so
        # it stays a candidate; day 36's report counts the instance.
        if day <= 34:
            return "candidate", CANDIDATE, []
        return "in_use", ["used_in_other_accounts"], []
    if case == "report_error":
        return "unknown", None, ["report_error"]
    if case == "report_pending":
        return "unknown", None, ["report_pending"]
    raise AssertionError(case)


def seed(emu) -> dict[str, str]:
    owner = emu.client("ec2")
    golden = {"Golden": "true"}
    ids = {
        case: register(owner, f"golden-{case}", {**golden, **tags})
        for case, tags in [
            ("current", {}),
            ("lt_old_version", {}),
            ("lt_beyond_depth", {}),
            ("owner_instance", {}),
            ("owner_ssm", {}),
            ("launched_recent", {}),
            ("shared_unused", {}),
            ("excluded_tag", {"ami-usage-reporter:keep": "true"}),
            ("report_error", {}),
            ("report_pending", {}),
            ("deregistered", {}),
            ("web_v1", {"Family": "web"}),
        ]
    }
    ids["scratch"] = register(owner, "scratch", {"Golden": "false"})
    consumer = emu.client("ec2", CONSUMER_1)
    consumer.run_instances(ImageId=ids["current"], MinCount=2, MaxCount=2, InstanceType="t3.micro")
    for name, first in (("old-version", "lt_old_version"), ("beyond-depth", "lt_beyond_depth")):
        consumer.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": ids[first]})
        for _ in range(DEPTH - 1 if first == "lt_old_version" else DEPTH):
            consumer.create_launch_template_version(
                LaunchTemplateName=name, LaunchTemplateData={"ImageId": ids["current"]}
            )
    owner.run_instances(ImageId=ids["owner_instance"], MinCount=1, MaxCount=1, InstanceType="t3.micro")
    emu.client("ssm").put_parameter(
        Name="/golden/base", Value=ids["owner_ssm"], Type="String", DataType="aws:ec2:image"
    )
    emu.control(
        "config",
        {
            "instance_activity_lag_seconds": DAY,
            "error_images": {ids["report_error"]: "InternalError: report failed"},
            "pending_images": [ids["report_pending"]],
        },
    )
    emu.advance(3600)
    ids["web_v2"] = register(owner, "golden-web_v2", {**golden, "Family": "web"})  # newer by 1 h
    return ids


@pytest.mark.slow
def test_verdicts_over_forty_days(emu):
    ids = seed(emu)
    case_of = {v: k for k, v in ids.items()}
    alerting = archive_and_alerting(emu)
    env = base_env(
        emu,
        ARCHIVE_BUCKET=alerting.bucket,
        ARCHIVE_PREFIX=PREFIX,
        ALERT_TOPIC_ARN=alerting.topic_arn,
        AMI_TAG_FILTERS="Golden=true",
        LAUNCH_TEMPLATE_VERSION_DEPTH=str(DEPTH),
        GROUP_TAG="Family",
    )
    s3, owner = emu.client("s3"), emu.client("ec2")
    columns = glue_columns(ROOT / "template.yaml")["verdicts"]
    announced: dict[str, list[int]] = {}
    used_again: dict[str, list[int]] = {}
    for day in range(0, 41, 2):
        if day:
            emu.advance(2 * DAY - 3600)
        created = run_binary(emu, ["create", "--now", emu.now()], env)
        assert created.code in (0, 3), created.stderr
        # A report still pending blocks the next one for its AMI, as on AWS: nothing else fails.
        assert {f["id"] for f in created.summary["failed"]} <= {ids["report_pending"]}, created.summary
        if day == 10:
            owner.deregister_image(ImageId=ids["deregistered"])
        if day == 20:
            ids["too_young"] = register(owner, "golden-too_young", {"Golden": "true"})
            case_of[ids["too_young"]] = "too_young"
        if day == 34:
            emu.client("ec2", CONSUMER_1).run_instances(
                ImageId=ids["launched_recent"], MinCount=1, MaxCount=1, InstanceType="t3.micro"
            )
        now = emu.advance(3600)
        collected = run_binary(emu, ["collect", "--now", now], env)
        assert collected.code == 0, (day, collected.stderr)
        summary = collected.summary
        key = summary["verdicts"]["object"]
        assert key and key.startswith(f"{PREFIX}/verdicts/region={REGION}/report_date={now[:10]}/run-"), key
        rows = verdict_rows(s3, alerting.bucket, key)
        assert check_rows(columns, rows) == [], day
        got = {case_of[r["image_id"]]: r for r in rows}
        for case in [c for c in ids if c != "too_young" or day >= 20]:
            want = expected(case, day)
            if want is None:
                assert case not in got, (day, case, got.get(case))
                continue
            kind, exact, required = want
            row = got.pop(case)
            assert row["verdict"] == kind, (day, case, row["reasons"])
            if exact is not None:
                assert row["reasons"] == exact, (day, case)
            assert set(required) <= set(row["reasons"]), (day, case, row["reasons"])
            assert row["owner_account_id"] == OWNER and row["evaluated_at"][:10] == now[:10]
        assert got == {}, f"verdicts for AMIs outside the fleet's cases: {list(got)}"
        assert summary["verdicts"]["withheld"] == 0
        for image_id in summary["new_candidates"]:
            announced.setdefault(case_of[image_id], []).append(day)
        if summary["alert"]:
            email = json.loads(emu.control("sns/published")["messages"][-1]["Message"])["email"]
            for line in section(email, "USED AGAIN (do not deregister)"):
                used_again.setdefault(case_of[line.split()[1]], []).append(day)
        if day == 30:
            [row] = [r for r in rows if r["image_id"] == ids["shared_unused"]]
            assert row["zero_usage_reports"] == 15 and row["days_unused"] == 30
            assert row["snapshot_size_gib_total"] == 10 and row["estimated_snapshot_usd_month"] == 0.5
            assert row["reports_in_window"] == 15 and row["latest_total_usage"] == 0
            [owned] = [r for r in rows if r["image_id"] == ids["owner_ssm"]]
            assert owned["owner_references"] == [f"arn:aws:ssm:{REGION}:{OWNER}:parameter/golden/base"]

    # Each candidate announced once, on the day it became one; the relaunched one is news
    # again once AWS shows the launch (day 36's report).
    assert announced == {"lt_beyond_depth": [30], "shared_unused": [30], "web_v1": [30], "launched_recent": [30]}
    assert used_again == {"launched_recent": [36]}
    published = emu.control("sns/published")["messages"]
    assert all(len(m["Subject"]) < 100 for m in published)
    emails = [json.loads(m["Message"])["email"] for m in published]
    # The held report of day 0 and, once it expired, the one of day 30: each news once.
    pending = [line for e in emails for line in section(e, "REPORTS PENDING TOO LONG")]
    assert len(pending) == 2 and all(f"({ids['report_pending']})" in line for line in pending), pending
    expiring = [line for e in emails for line in section(e, "REPORTS EXPIRING BEFORE THEY WERE ARCHIVED")]
    assert len(expiring) == 1 and f"({ids['report_pending']}): pending" in expiring[0], expiring
    errors = sum(e.count(f"({ids['report_error']}): InternalError") for e in emails)
    assert errors == 1, "a streak of failed reports is news once"

    # The circuit breaker: 3 candidates of 13 selected is more than 20 %.
    now = emu.advance(3600)
    tight = run_binary(emu, ["collect", "--now", now], {**env, "MAX_CANDIDATE_PERCENT": "20"})
    assert tight.code == 0, tight.stderr
    assert tight.summary["verdicts"]["withheld"] == 3 and tight.summary["verdicts"]["candidate"] == 0
    assert tight.summary["new_candidates"] == []
    message = emu.control("sns/published")["messages"][-1]
    assert message["Subject"].startswith("AMI usage us-east-1: 3 candidates withheld")
    email = json.loads(message["Message"])["email"]
    assert "- 3 of 13 selected AMIs look unused, more than MAX_CANDIDATE_PERCENT=20%" in email
    rows = verdict_rows(emu.client("s3"), alerting.bucket, tight.summary["verdicts"]["object"])
    withheld = {case_of[r["image_id"]] for r in rows if "withheld_by_circuit_breaker" in r["reasons"]}
    assert withheld == {"lt_beyond_depth", "shared_unused", "web_v1"}


def register(ec2, name: str, tags: dict[str, str]) -> str:
    return register_golden(ec2, name, [CONSUMER_1], tags)
