"""The Lambda front door, through cargo lambda's Runtime API emulator (`cargo lambda
watch`) and `cargo lambda invoke` with the sample events in events/."""

from __future__ import annotations

import json
import re

import pytest
from archive import drain, objects, rows
from fleet import archive_and_alerting, demo_fleet, seed
from harness import LambdaWatch, base_env


@pytest.fixture
def lambda_watch(emu):
    """Starts `cargo lambda watch` with the function's environment; yields an invoker."""
    fleet = demo_fleet()
    seed(emu, fleet)
    alerting = archive_and_alerting(emu)
    watch = LambdaWatch(
        base_env(
            emu,
            ARCHIVE_BUCKET=alerting.bucket,
            ALERT_TOPIC_ARN=alerting.topic_arn,
            AMI_TAG_FILTERS="Golden=true",
            # One report suffices here (the verdict rules have their own proof in
            # test_verdicts.py): the unused AMI is a candidate, so collect alerts.
            UNUSED_MIN_DAYS="1",
            MIN_REPORTS="1",
            MIN_AGE_DAYS="0",
        )
    ).start()
    yield emu, fleet, alerting, watch.invoke
    watch.stop()


@pytest.mark.slow
def test_lambda_runs_create_and_collect_from_the_sample_events(lambda_watch):
    emu, fleet, alerting, invoke = lambda_watch
    created = invoke("--data-file", "events/create.json")
    assert created.returncode == 0, created.stderr + created.stdout
    summary = json.loads(created.stdout)
    assert summary["phase"] == "create" and summary["created"] == len(fleet.selected()), summary

    collected = invoke("--data-file", "events/collect.json")
    assert collected.returncode == 0, collected.stderr + collected.stdout
    summary = json.loads(collected.stdout)
    assert summary["archived"] == len(fleet.selected())
    archive = objects(emu.client("s3"), alerting.bucket, "ami-usage/")
    assert len(rows(archive, "reports")) == len(fleet.selected())
    assert len(drain(emu.client("sqs"), alerting.queue_url)) == 1

    # A scheduled-rule envelope whose rule is named …-collect runs collect: nothing new.
    scheduled = invoke("--data-file", "events/scheduled-rule.json")
    assert scheduled.returncode == 0, scheduled.stderr + scheduled.stdout
    summary = json.loads(scheduled.stdout)
    assert summary["phase"] == "collect" and summary["archived"] == 0 and summary["alert"] is None


@pytest.mark.slow
@pytest.mark.parametrize(
    "event, error_type, needle",
    [
        ('{"phase": "delete"}', "BadEvent", 'unknown phase "delete"'),
        ('{"phase": 7}', "BadEvent", "must be a string"),
        (
            '{"detail-type": "Scheduled Event", "source": "aws.events", "resources": ["arn:aws:events:us-east-1:123456789012:rule/nightly"], "detail": {}}',
            "BadEvent",
            "does not say which phase",
        ),
        ("[1, 2]", "BadEvent", "not an object"),
        # A member probe needs the owners whose shared AMIs it asks about.
        ('{"phase": "probe"}', "BadConfiguration", "PROBE_OWNER_ACCOUNT_IDS (--probe-owner-account-"),
    ],
)
def test_bad_events_fail_with_a_named_error_and_write_nothing(lambda_watch, event, error_type, needle):
    emu, _, alerting, invoke = lambda_watch
    result = invoke("--data-ascii", event)
    assert result.returncode != 0
    # cargo lambda wraps long messages in a box: undo the wrapping before matching.
    out = re.sub(r"\s*│\s*|\s+", " ", result.stdout + result.stderr)
    assert error_type in out and needle in out, out
    assert emu.client("ec2").describe_image_usage_reports()["ImageUsageReports"] == []
    assert objects(emu.client("s3"), alerting.bucket, "") == {}
