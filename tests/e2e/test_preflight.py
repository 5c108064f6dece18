"""`ami-usage-reporter preflight` against the emulator (issue 21, item 5): all green on
the demo setup with every optional part configured, each check turned red by its own
cause with the fix in its line, exit codes 0 / 3 / 1, and nothing written or changed
but the one test object, which is deleted."""

from __future__ import annotations

import json
import subprocess

import pytest
from fleet import archive_and_alerting, demo_fleet, seed
from harness import BINARY, OWNER, base_env

RULE = {"ResourceType": "EC2_IMAGE", "RetentionPeriod": {"RetentionPeriodValue": 30, "RetentionPeriodUnit": "DAYS"}}


def preflight(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BINARY), "preflight", *args], env=env, capture_output=True, text=True, timeout=120)


def summary_of(env: dict) -> tuple[int, dict]:
    p = preflight(env, "--json")
    assert p.stdout.strip(), p.stderr
    return p.returncode, json.loads(p.stdout)


def line(summary: dict, check: str) -> dict:
    found = [c for c in summary["checks"] if c["check"] == check]
    assert found, f"no line {check}:\n{summary['table']}"
    return found[0]


RULE_ACTIVATION_SECONDS = 1800


def world(emu, *, rule: bool = True, bucket_region: str | None = None) -> dict:
    """The demo organisation, with retirement in enforce, the digest's reservations and
    a Recycle Bin rule: every optional check of preflight is configured."""
    seed(emu, demo_fleet())
    alerting = archive_and_alerting(emu)
    bucket = alerting.bucket
    if bucket_region:
        bucket = "ami-usage-archive-elsewhere"
        emu.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": bucket_region})
    if rule:
        emu.client("rbin").create_rule(**RULE, Description="retain deregistered AMIs")
        # A new rule is pending (retains nothing) for up to 30 minutes (AWS; the
        # emulator's default): the demo's rule was made before that.
        emu.advance(RULE_ACTIVATION_SECONDS)
    return base_env(
        emu,
        ARCHIVE_BUCKET=bucket,
        ALERT_TOPIC_ARN=alerting.topic_arn,
        AMI_TAG_FILTERS="Golden=true",
        RETIRE_MODE="enforce",
        DIGEST_RESERVATIONS="on",
    )


def everything_as_it_was(emu, before: list[dict]) -> None:
    ec2 = emu.client("ec2")
    assert ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"] == before
    assert ec2.describe_image_usage_reports()["ImageUsageReports"] == []
    listed = emu.client("s3").list_objects_v2(Bucket="ami-usage-archive")
    assert listed.get("KeyCount", 0) == 0, listed.get("Contents")
    assert emu.control("sns/published")["messages"] == []


def test_all_green_on_the_demo_setup_and_nothing_changed(emu):
    env = world(emu)
    before = emu.client("ec2").describe_images(Owners=["self"], IncludeDisabled=True)["Images"]
    seeded = len(emu.control("calls")["calls"])
    p = preflight(env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "FAIL" not in p.stdout and "WARN" not in p.stdout, p.stdout
    for check in ("credentials", "selection", "ec2:CreateImageUsageReport", "ec2:DeregisterImage", "bucket write",
                  "bucket delete", "topic", "recycle bin", "cost explorer"):  # fmt: skip
        assert any(row.startswith(check + " ") for row in p.stdout.splitlines()), f"{check}:\n{p.stdout}"
    assert p.stdout.rstrip().endswith("(exit 0)"), p.stdout
    everything_as_it_was(emu, before)
    # Every mutating EC2 call that reached the emulator was a DryRun it refused to carry
    # out (412 DryRunOperation), or, for the configured recipe report types that the
    # strict emulator refuses like the API reference (400), asked again with the two
    # documented types (the line says so, and stays green).
    calls = emu.control("calls")["calls"][seeded:]
    assert {c["action"] for c in calls} >= {"CreateImageUsageReport", "DisableImage", "DeregisterImage"}, calls
    assert all(c["status"] in (400, 412) for c in calls), calls
    assert [c["status"] for c in calls if c["action"] == "CreateImageUsageReport"] == [400, 412], calls
    create = next(row for row in p.stdout.splitlines() if row.startswith("ec2:CreateImageUsageReport "))
    assert "with ec2:Instance, ec2:LaunchTemplate" in create, create

    code, summary = summary_of(env)
    assert (code, summary["phase"], summary["status"], summary["failed"]) == (0, "preflight", "ok", 0)
    assert summary["account_id"] == OWNER
    assert summary["test_object"].startswith("ami-usage/_preflight/")
    assert "USD 0.01" in line(summary, "cost explorer")["detail"]
    everything_as_it_was(emu, before)


def refuse(emu, action: str, code: str, status: int = 403) -> None:
    emu.control("faults", {"calls": {action: {"status": status, "code": code, "probability": 1}}})


@pytest.mark.parametrize(
    "cause, check, fix",
    [
        (
            lambda emu: refuse(emu, "CreateImageUsageReport", "UnauthorizedOperation"),
            "ec2:CreateImageUsageReport",
            "Grant ec2:CreateImageUsageReport to the function's role (statement CreateImageUsageReport",
        ),
        (
            lambda emu: refuse(emu, "DisableImage", "UnauthorizedOperation"),
            "ec2:DisableImage",
            "Grant ec2:DisableImage to the function's role (statement RetireOwnImages",
        ),
        (
            lambda emu: refuse(emu, "DescribeImageUsageReportEntries", "UnauthorizedOperation"),
            "ec2:DescribeImageUsageReportEntries",
            "statement DescribeImagesAndUsageReports",
        ),
        (
            lambda emu: refuse(emu, "DescribeImages", "UnauthorizedOperation"),
            "selection",
            "Grant ec2:DescribeImages",
        ),
        (
            lambda emu: refuse(emu, "ListRules", "AccessDeniedException"),
            "recycle bin",
            "Grant rbin:ListRules and rbin:GetRule",
        ),
        (
            lambda emu: emu.control("cost_explorer", {"accounts": {OWNER: {"access": "not_enabled"}}}),
            "cost explorer",
            "Enable Cost Explorer",
        ),
        (
            lambda emu: emu.control("cost_explorer", {"accounts": {OWNER: {"access": "denied"}}}),
            "cost explorer",
            "Grant ce:GetReservationUtilization",
        ),
    ],
    ids=[
        "create-report",
        "disable-image",
        "report-entries",
        "describe-images",
        "rbin-rules",
        "ce-not-enabled",
        "ce-denied",
    ],
)
def test_each_check_turns_red_by_its_own_cause_with_the_fix_in_its_line(emu, cause, check, fix):
    env = world(emu)
    cause(emu)
    code, summary = summary_of(env)
    assert (code, summary["status"]) == (1, "fail"), summary["table"]
    red = [c["check"] for c in summary["checks"] if c["result"] == "fail"]
    assert red == [check], summary["table"]
    assert fix in line(summary, check)["fix"], summary["table"]
    p = preflight(env)
    assert p.returncode == 1
    rows = p.stdout.splitlines()
    at = next(i for i, row in enumerate(rows) if row.startswith(check + " "))
    assert "FAIL" in rows[at] and rows[at + 1].strip().startswith("fix: ") and fix in rows[at + 1], p.stdout


def test_a_bucket_in_another_region_names_the_setting(emu):
    env = world(emu, bucket_region="eu-west-1")
    code, summary = summary_of(env)
    assert code == 1, summary["table"]
    bucket = line(summary, "bucket")
    assert bucket["result"] == "fail"
    assert bucket["fix"].startswith(
        "the archive bucket is in eu-west-1, not us-east-1; set ARCHIVE_BUCKET_REGION=eu-west-1"
    )
    assert line(summary, "bucket write")["result"] == "fail"

    env["ARCHIVE_BUCKET_REGION"] = "eu-west-1"
    code, summary = summary_of(env)
    assert (code, line(summary, "bucket")["result"]) == (0, "ok"), summary["table"]
    assert emu.client("s3", region="eu-west-1").list_objects_v2(Bucket=env["ARCHIVE_BUCKET"]).get("KeyCount", 0) == 0


def test_no_recycle_bin_rule_fails_in_enforce_and_warns_in_a_dry_run(emu):
    env = world(emu, rule=False)
    code, summary = summary_of(env)
    assert code == 1
    bin_line = line(summary, "recycle bin")
    assert bin_line["result"] == "fail" and "aws rbin create-rule --resource-type EC2_IMAGE" in bin_line["fix"]
    env["RETIRE_MODE"] = "dry-run"
    code, summary = summary_of(env)
    assert (code, line(summary, "recycle bin")["result"]) == (3, "warn"), summary["table"]
    assert line(summary, "retirement calls")["result"] == "skip"


def test_warnings_alone_exit_3(emu):
    env = world(emu)
    del env["ALERT_TOPIC_ARN"]
    p = preflight(env)
    assert p.returncode == 3, p.stdout + p.stderr
    assert p.stdout.rstrip().endswith("(exit 3)")
    code, summary = summary_of(env)
    assert (code, summary["status"], line(summary, "topic")["result"]) == (3, "warn", "warn")


def test_a_missing_topic_fails(emu):
    env = world(emu)
    env["ALERT_TOPIC_ARN"] = f"arn:aws:sns:us-east-1:{OWNER}:no-such-topic"
    code, summary = summary_of(env)
    assert (code, line(summary, "topic")["result"]) == (1, "fail"), summary["table"]


def test_an_unset_bucket_fails_where_collect_would_refuse_to_start(emu):
    env = world(emu)
    env["ARCHIVE_BUCKET"] = ""
    code, summary = summary_of(env)
    assert (code, line(summary, "bucket")["result"]) == (1, "fail"), summary["table"]
    assert "ARCHIVE_BUCKET" in line(summary, "bucket")["fix"]
    assert summary["test_object"] is None


def test_member_probe_freshness_in_organisation_mode(emu):
    from test_member_probe import BUCKET, MEMBER, ORG, member_env, owner_env

    seed(emu, demo_fleet())
    emu.client("s3").create_bucket(Bucket=BUCKET)
    owner = owner_env(emu)
    code, summary = summary_of({**owner, "ALERT_TOPIC_ARN": ""})
    probes = line(summary, "member probes")
    assert (code, probes["result"]) == (3, "warn"), summary["table"]
    assert MEMBER in probes["detail"] and "ProbeOwnerAccountIds" in probes["fix"]
    assert summary["test_object"].startswith(f"{ORG}/account={OWNER}/_preflight/")

    member = member_env(emu)
    code, summary = summary_of(member)
    assert summary["account_id"] == MEMBER and line(summary, "bucket delete")["result"] == "ok", summary["table"]
    probed = subprocess.run([str(BINARY), "probe"], env=member, capture_output=True, text=True, timeout=120)
    assert probed.returncode == 0, probed.stderr
    code, summary = summary_of(owner)
    assert line(summary, "member probes")["result"] == "ok", summary["table"]
    listed = emu.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"{ORG}/")
    assert not [o["Key"] for o in listed.get("Contents", []) if "/_preflight/" in o["Key"]]


@pytest.mark.slow
def test_lambda_answers_the_summary_with_its_status_not_a_function_error(emu):
    from harness import LambdaWatch

    watch = LambdaWatch(world(emu)).start()
    try:
        ok = watch.invoke("--data-file", "events/preflight.json")
        assert ok.returncode == 0, ok.stderr + ok.stdout
        summary = json.loads(ok.stdout)
        assert (summary["phase"], summary["status"], summary["failed"]) == ("preflight", "ok", 0), summary["table"]
        assert summary["table"].rstrip().endswith("(exit 0)")

        refuse(emu, "DeregisterImage", "UnauthorizedOperation")
        failing = watch.invoke("--data-ascii", '{"phase": "preflight"}')
        assert failing.returncode == 0, failing.stderr + failing.stdout
        summary = json.loads(failing.stdout)
        assert summary["status"] == "fail", summary["table"]
        assert [c["check"] for c in summary["checks"] if c["result"] == "fail"] == ["ec2:DeregisterImage"]
    finally:
        watch.stop()


def test_a_rule_made_minutes_ago_is_not_yet_counted_on(emu):
    """Recycle Bin: "When you create your first retention rule, it can take up to 30
    minutes for the rule to become active"; until then it retains nothing, so preflight
    does not count on it, and says so, and counts on it once it is available."""
    env = world(emu, rule=False)
    emu.client("rbin").create_rule(**RULE, Description="made a minute ago")
    pending = preflight(env)
    line = next(r for r in pending.stdout.splitlines() if r.startswith("recycle bin "))
    assert "FAIL" in line and "no_recycle_bin_rule" in line, pending.stdout
    emu.advance(RULE_ACTIVATION_SECONDS)
    later = preflight(env)
    line = next(r for r in later.stdout.splitlines() if r.startswith("recycle bin "))
    assert " ok " in line, later.stdout
