"""The labelled retirement fleet of issue 14 and what the tests read back: the actions
dataset, the emulator's log of mutating calls, the alerts' retirement lines.

Cases (one AMI each, Golden=true, shared with CONSUMER_1, nobody uses them at first
unless said):
- walker: deprecate -> disable -> deregister into the Recycle Bin; restorable.
- used_deprecated: a consumer launches it while it is deprecated: restored.
- used_disabled: an owner launch template names it while it is disabled: enabled.
- protected: deregistration protection on: deprecated, disabled, never deregistered
  (every run says it waits).
- no_rule: tagged so that the Region-level Recycle Bin rule excludes it: never deregistered.
- operator_excludes: the operator adds the exclusion tag while it is deprecated: restored.
- in_use: a consumer instance runs from it all along: never touched.
"""

from __future__ import annotations

from collections import defaultdict

from archive import objects, rows
from fleet import CONSUMER_1, archive_and_alerting, register_golden
from harness import OWNER, REGION, base_env, run_binary

PREFIX = "ami-usage"
DAY = 86400
STAGE_TAG = "ami-usage-reporter:retire-stage"
EXCLUDE_TAG = "ami-usage-reporter:keep"
CASES = ["walker", "used_deprecated", "used_disabled", "protected", "no_rule", "operator_excludes", "in_use"]
# The EC2 call each action makes (its stage tag write/removal aside).
CALL_OF = {
    "deprecate": "EnableImageDeprecation",
    "disable": "DisableImage",
    "deregister": "DeregisterImage",
    "cancel_deprecation": "DisableImageDeprecation",
    "enable": "EnableImage",
}
RETIRE_CALLS = set(CALL_OF.values()) | {"CreateTags", "DeleteTags"}
FORWARD = ("deprecate", "disable", "deregister")


def seed(emu) -> dict[str, str]:
    """The fleet, the consumer's instance of `in_use` and a Region-level Recycle Bin rule
    (90 days) that excludes AMIs tagged rbin=skip."""
    owner = emu.client("ec2")
    ids = {}
    for case in CASES:
        tags = {"Golden": "true", **({"rbin": "skip"} if case == "no_rule" else {})}
        ids[case] = register_golden(owner, f"golden-{case}", [CONSUMER_1], tags=tags)
    emu.client("ec2", CONSUMER_1).run_instances(ImageId=ids["in_use"], MinCount=1, MaxCount=1, InstanceType="t3.micro")
    owner.enable_image_deregistration_protection(ImageId=ids["protected"])
    emu.client("rbin").create_rule(
        ResourceType="EC2_IMAGE",
        RetentionPeriod={"RetentionPeriodValue": 90, "RetentionPeriodUnit": "DAYS"},
        ExcludeResourceTags=[{"ResourceTagKey": "rbin", "ResourceTagValue": "skip"}],
        Description="retain deregistered AMIs",
    )
    return ids


def environment(emu, mode: str, **extra: str) -> dict:
    alerting = archive_and_alerting(emu)
    settings = {
        "ARCHIVE_BUCKET": alerting.bucket,
        "ARCHIVE_PREFIX": PREFIX,
        "ALERT_TOPIC_ARN": alerting.topic_arn,
        "AMI_TAG_FILTERS": "Golden=true",
        "MAX_CANDIDATE_PERCENT": "100",
        "RETIRE_MODE": mode,
        "RETIRE_DEPRECATE_AFTER_DAYS": "0",
        "RETIRE_DEPRECATION_NOTICE_DAYS": "14",
        "RETIRE_DISABLE_AFTER_DAYS": "9",
        "RETIRE_DEREGISTER_AFTER_DAYS": "9",
    }
    return base_env(emu, **{**settings, **extra})


SHORT = {
    "UNUSED_MIN_DAYS": "3",
    "MIN_REPORTS": "2",
    "MIN_AGE_DAYS": "0",
    "RETIRE_DEPRECATION_NOTICE_DAYS": "1",
    "RETIRE_DISABLE_AFTER_DAYS": "1",
    "RETIRE_DEREGISTER_AFTER_DAYS": "1",
}


def short_fleet(emu, count: int, rule: bool = True, **extra: str) -> tuple[list[str], dict]:
    owner = emu.client("ec2")
    ids = [register_golden(owner, f"golden-{i}", [CONSUMER_1]) for i in range(count)]
    if rule:
        emu.client("rbin").create_rule(
            ResourceType="EC2_IMAGE", RetentionPeriod={"RetentionPeriodValue": 30, "RetentionPeriodUnit": "DAYS"}
        )
    return ids, environment(emu, "enforce", **{**SHORT, **extra})


def next_day(emu, env) -> str:
    """A day passes, create runs, an hour later: the collect time."""
    emu.advance(DAY - 3600)
    assert run_binary(emu, ["create", "--now", emu.now()], env).code == 0
    return emu.advance(3600)


def collect(emu, env, now: str, codes=(0,)) -> dict:
    result = run_binary(emu, ["collect", "--now", now], env)
    assert result.code in codes, result.stderr
    return result.summary


def action_rows(emu, bucket: str = "ami-usage-archive") -> list[dict]:
    return rows(objects(emu.client("s3"), bucket, f"{PREFIX}/actions/"), "actions")


def retire_calls(emu, since: int = 0) -> list[dict]:
    """The retirement pipeline's EC2 calls (those naming an AMI) logged after index `since`."""
    calls = emu.control("calls")["calls"][since:]
    return [
        c
        for c in calls
        if c["service"] == "ec2" and c["action"] in RETIRE_CALLS and any(r.startswith("ami-") for r in c["resources"])
    ]


def successful_calls(emu) -> dict[tuple[str, str], int]:
    """(image id, EC2 action) -> how many of those calls succeeded."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for c in retire_calls(emu):
        if c["status"] == 200:
            for image_id in c["resources"]:
                counts[(image_id, c["action"])] += 1
    return counts


def image(emu, image_id: str) -> dict | None:
    found = emu.client("ec2").describe_images(ImageIds=[image_id], IncludeDisabled=True)["Images"]
    return found[0] if found else None


def owned_images(emu) -> list[dict]:
    """DescribeImages of the owner (disabled ones included), LastLaunchedTime left out:
    it follows consumers' launches, not the pipeline."""
    images = emu.client("ec2").describe_images(Owners=["self"], IncludeDisabled=True)["Images"]
    return sorted(({k: v for k, v in i.items() if k != "LastLaunchedTime"} for i in images), key=lambda i: i["ImageId"])


def alert_lines(emu, image_id: str) -> list[str]:
    """Every `- <image id> …` line of every published alert's e-mail."""
    import json

    lines = []
    for m in emu.control("sns/published")["messages"]:
        email = json.loads(m["Message"])["email"]
        lines += [line for line in email.splitlines() if line.startswith(f"- {image_id} ")]
    return lines


def run_undo(emu, command: str) -> None:
    """Runs an undo command of the actions dataset verbatim with the real AWS CLI."""
    import os
    import shlex
    import subprocess

    from harness import VENV_BIN

    argv = shlex.split(command)
    assert argv[0] == "aws", command
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_ENDPOINT_URL=emu.url,
        AWS_PAGER="",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    done = subprocess.run([str(VENV_BIN / "aws"), *argv[1:]], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (command, done.stderr)


def undo_for(action: str, image_id: str) -> str | None:
    command = {
        "deprecate": "disable-image-deprecation",
        "disable": "enable-image",
        "deregister": "restore-image-from-recycle-bin",
    }.get(action)
    return f"aws ec2 {command} --image-id {image_id} --region {REGION}" if command else None


__all__ = ["OWNER", "FORWARD"]
