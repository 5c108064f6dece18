"""The whole loop with the real binary against the emulator: create → collect →
archive → alert, checked row by row against the fleet the test created, then run
again in the same period to prove nothing changes."""

from __future__ import annotations

import json
from collections import Counter

from archive import drain, objects, rows
from fleet import archive_and_alerting, demo_fleet, seed
from harness import OWNER, REGION, base_env, run_binary

PREFIX = "ami-usage"


def setup(emu):
    fleet = demo_fleet()
    seed(emu, fleet)
    alerting = archive_and_alerting(emu)
    env = base_env(
        emu,
        ARCHIVE_BUCKET=alerting.bucket,
        ARCHIVE_PREFIX=PREFIX,
        ALERT_TOPIC_ARN=alerting.topic_arn,
        AMI_TAG_FILTERS="Golden=true",
        # One day, one report, any age: this test proves the loop, not the verdict rules
        # (tests/e2e/test_verdicts.py does, with the defaults, over 40 days).
        UNUSED_MIN_DAYS="1",
        MIN_REPORTS="1",
        MIN_AGE_DAYS="0",
    )
    return fleet, alerting, env


def test_create_collect_archive_alert_and_rerun_changes_nothing(emu):
    fleet, alerting, env = setup(emu)
    emu.control("config", {"report_ready_after_seconds": 600})
    selected = {a.image_id for a in fleet.selected()}

    created = run_binary(emu, ["create", "--now", emu.now()], env)
    assert created.code == 0, created.stderr
    assert created.summary["created"] == len(selected) == 4
    assert created.summary["failed"] == []
    reports = emu.client("ec2").describe_image_usage_reports()["ImageUsageReports"]
    assert {r["ImageId"] for r in reports} == selected
    period = created.summary["period"]
    for r in reports:
        assert {"Key": "ami-usage-reporter:period", "Value": period} in r["Tags"]
        types = {t["ResourceType"]: t.get("ResourceTypeOptions", []) for t in r["ResourceTypes"]}
        # REPORT_RESOURCE_TYPES defaults to all four; the emulator, like the API
        # reference, accepts only the two documented ones, so create fell back to them.
        assert set(types) == {"ec2:Instance", "ec2:LaunchTemplate"}, types
        assert types["ec2:LaunchTemplate"] == [{"OptionName": "version-depth", "OptionValues": ["20"]}]
        assert types["ec2:Instance"] == []
    assert created.summary["resource_types_refused"]["used"] == ["ec2:Instance", "ec2:LaunchTemplate"]

    # Reports are still pending: nothing may be archived yet.
    early = run_binary(emu, ["collect", "--now", emu.now()], env)
    assert early.code == 0, early.stderr
    assert early.summary["pending"] == 4 and early.summary["archived"] == 0
    s3 = emu.client("s3")
    assert rows(objects(s3, alerting.bucket, f"{PREFIX}/entries/"), "entries") == []

    now = emu.advance(3600)
    collected = run_binary(emu, ["collect", "--now", now], env)
    assert collected.code == 0, collected.stderr
    assert collected.summary["archived"] == 4
    assert collected.summary["failed"] == []

    archive = objects(s3, alerting.bucket, f"{PREFIX}/")
    entry_rows = rows(archive, "entries")
    report_rows = rows(archive, "reports")
    by_report = {r["ReportId"]: r for r in reports}
    assert {r["report_id"] for r in report_rows} == set(by_report)

    for spec in fleet.selected():
        expected = fleet.expected_entries(spec.key)
        got = Counter()
        for row in entry_rows:
            if row["image_id"] == spec.image_id:
                got[(row["account_id"], row["resource_type"])] += row["usage_count"]
        assert got == expected, spec.name
        [report] = [r for r in report_rows if r["image_id"] == spec.image_id]
        assert report["state"] == "available"
        assert report["entry_count"] == len(expected)
        assert report["total_usage"] == sum(expected.values())
        assert report["account_count"] == len({a for a, _ in expected})
        assert report["image"]["name"] == spec.name
        assert report["image"]["tags"] == spec.tags
        assert report["image"]["snapshot_size_gib_total"] == spec.volume_gib
        assert report["owner_account_id"] == OWNER and report["region"] == REGION
        assert report["tags"]["ami-usage-reporter:period"] == period

    for row in entry_rows:
        report = by_report[row["report_id"]]
        day = report["CreationTime"].strftime("%Y-%m-%d")
        key = f"{PREFIX}/entries/region={REGION}/report_date={day}/{row['report_id']}.json.gz"
        assert key in archive, key
        assert row["owner_account_id"] == OWNER and row["region"] == REGION
        assert row["schema_version"] == 1

    # The alert, as an SQS subscriber of the topic received it (the `default` rendering).
    [notification] = drain(emu.client("sqs"), alerting.queue_url)
    chat = json.loads(notification["Message"])
    unused = fleet.id("c")
    assert chat["version"] == "1.0" and chat["source"] == "custom"
    assert chat["content"]["textType"] == "client-markdown"
    assert unused in chat["content"]["description"]
    for used in ("a", "b", "e"):
        assert fleet.id(used) not in chat["content"]["description"]
    # The evidence gap is create's fallback (News::ReportTypesNarrowed, docs/verdicts.md
    # "When EC2 refuses the recipe types"): the reports asked for two of the four
    # configured types, so no report checked Image Builder recipes. Announced once, in
    # this first alert only (the re-run below sends none).
    assert notification["Subject"] == "AMI usage us-east-1: 1 deregistration candidate, 1 evidence gap"
    assert collected.summary["new_candidates"] == [unused]

    # The e-mail rendering, from the raw publish the emulator recorded.
    [published] = emu.control("sns/published")["messages"]
    assert published["MessageStructure"] == "json"
    email = json.loads(published["Message"])["email"]
    assert f"- {unused}  golden-unused-c" in email
    assert "snapshots 100 GiB = at most $5.00/month (upper bound" in email
    assert "not checked: report:imagebuilder:ImageRecipe, report:imagebuilder:ContainerRecipe" in email
    gap = email.split("EVIDENCE NOT CHECKED", 1)[1]
    assert "asked EC2 for ec2:Instance, ec2:LaunchTemplate only" in gap and "EC2 refused the others" in gap

    # Same period again: no new report, no rewritten object, no second alert.
    again = run_binary(emu, ["create", "--now", emu.now()], env)
    assert again.code == 0, again.stderr
    assert again.summary["created"] == 0 and again.summary["already_reported"] == 4
    assert len(emu.client("ec2").describe_image_usage_reports()["ImageUsageReports"]) == 4
    again = run_binary(emu, ["collect", "--now", emu.now()], env)
    assert again.code == 0, again.stderr
    assert again.summary["archived"] == 0 and again.summary["already_archived"] == 4
    assert again.summary["alert"] is None
    after = objects(s3, alerting.bucket, f"{PREFIX}/")
    assert {k: (v["etag"], v["last_modified"]) for k, v in after.items() if "/state/" not in k} == {
        k: (v["etag"], v["last_modified"]) for k, v in archive.items() if "/state/" not in k
    }
    assert drain(emu.client("sqs"), alerting.queue_url) == []
    assert len(emu.control("sns/published")["messages"]) == 1


def test_a_report_still_pending_from_yesterday_defers_the_ami_without_failing_the_run(emu):
    fleet, _, env = setup(emu)
    selected = {a.image_id for a in fleet.selected()}
    emu.control("config", {"report_ready_after_seconds": 2 * 86400})
    first = run_binary(emu, ["create", "--now", emu.now()], env)
    assert first.code == 0 and first.summary["created"] == len(selected), first.stderr

    # The next UTC day: every AMI's previous report is still pending, and EC2 allows one
    # pending report per AMI (IncorrectState). Deferred, counted, exit 0.
    tomorrow = emu.advance(86400)
    blocked = run_binary(emu, ["create", "--now", tomorrow], env)
    assert blocked.code == 0, blocked.stderr
    assert blocked.summary["failed"] == [] and blocked.summary["created"] == 0
    assert blocked.summary["previous_still_pending"] == blocked.summary["remaining"] == len(selected)
    assert sorted(blocked.summary["previous_still_pending_images"]) == sorted(selected)

    # Once those reports are available (the emulator's clock is past their readiness),
    # the next run of the same period creates the reports.
    emu.advance(86400 + 60)
    unblocked = run_binary(emu, ["create", "--now", tomorrow], env)
    assert unblocked.code == 0, unblocked.stderr
    assert unblocked.summary["created"] == len(selected) and unblocked.summary["previous_still_pending"] == 0
