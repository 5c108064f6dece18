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

Issue 22's cases:
- team_later: its team set a deprecation 200 days out; the pipeline's (14 days) replaces
  it; 6 days later the reports show a consumer's launch template naming it: the team's
  date comes back.
- team_earlier: its team set a deprecation 40 days out, earlier than the pipeline's: kept;
  a consumer launches it: the deprecation stays the team's.
- unselected: shared with an organisation too; its selection tag is removed while it is
  disabled: undone (reason excluded, left_selection), its launch permissions restored.
- short_rule: a tag-level Recycle Bin rule keeps it only 1 day (the Region-level one 90):
  never deregistered (recycle_bin_retention_too_short).
(used_disabled is shared with the organisation too: its undo gives both back.)
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta

from archive import objects, rows
from fleet import CONSUMER_1, archive_and_alerting, register_golden
from harness import OWNER, REGION, base_env, run_binary

PREFIX = "ami-usage"
DAY = 86400
STAGE_TAG = "ami-usage-reporter:retire-stage"
EXCLUDE_TAG = "ami-usage-reporter:keep"
CASES = [
    "walker",
    "used_deprecated",
    "used_disabled",
    "protected",
    "no_rule",
    "operator_excludes",
    "in_use",
    "team_later",
    "team_earlier",
    "unselected",
    "short_rule",
]
ORG_ARN = "arn:aws:organizations::123456789012:organization/o-retire1234"
# The team's own deprecation time of team_later / team_earlier, in days after the seed.
TEAM_DEPRECATION_DAYS = {"team_later": 200, "team_earlier": 40}
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


def at(now: str, days: int) -> datetime:
    """`days` after the emulator time `now`, to the minute (as EC2 keeps DeprecateAt)."""
    t = datetime.fromisoformat(now.replace("Z", "+00:00")) + timedelta(days=days)
    return t.replace(second=0, microsecond=0)


def seed(emu) -> dict[str, str]:
    """The fleet, the consumer's instance of `in_use`, the teams' own deprecations, a
    Region-level Recycle Bin rule (90 days) that excludes AMIs tagged rbin=skip, and a
    tag-level one of 1 day for AMIs tagged rbin-short=yes."""
    owner = emu.client("ec2")
    ids = {}
    extra = {"no_rule": {"rbin": "skip"}, "short_rule": {"rbin-short": "yes"}}
    for case in CASES:
        ids[case] = register_golden(
            owner, f"golden-{case}", [CONSUMER_1], tags={"Golden": "true", **extra.get(case, {})}
        )
    for case in ("used_disabled", "unselected"):
        owner.modify_image_attribute(ImageId=ids[case], LaunchPermission={"Add": [{"OrganizationArn": ORG_ARN}]})
    now = emu.now()
    for case, days in TEAM_DEPRECATION_DAYS.items():
        owner.enable_image_deprecation(ImageId=ids[case], DeprecateAt=at(now, days))
    emu.client("ec2", CONSUMER_1).run_instances(ImageId=ids["in_use"], MinCount=1, MaxCount=1, InstanceType="t3.micro")
    owner.enable_image_deregistration_protection(ImageId=ids["protected"])
    emu.client("rbin").create_rule(
        ResourceType="EC2_IMAGE",
        RetentionPeriod={"RetentionPeriodValue": 90, "RetentionPeriodUnit": "DAYS"},
        ExcludeResourceTags=[{"ResourceTagKey": "rbin", "ResourceTagValue": "skip"}],
        Description="retain deregistered AMIs",
    )
    emu.client("rbin").create_rule(
        ResourceType="EC2_IMAGE",
        RetentionPeriod={"RetentionPeriodValue": 1, "RetentionPeriodUnit": "DAYS"},
        ResourceTags=[{"ResourceTagKey": "rbin-short", "ResourceTagValue": "yes"}],
        Description="a day, against accidents",
    )
    return ids


def long_rule(emu) -> str:
    """The 90-day Region-level rule's identifier."""
    rules = emu.client("rbin").list_rules(ResourceType="EC2_IMAGE")["Rules"]
    return next(r["Identifier"] for r in rules if r.get("Description") == "retain deregistered AMIs")


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


def successful_calls(emu, since: int = 0) -> dict[tuple[str, str], int]:
    """(image id, EC2 action) -> how many of those calls succeeded (after index `since`)."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for c in retire_calls(emu, since):
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
    """Runs an undo command of the actions dataset verbatim with the real AWS CLI: each
    of its `&&`-joined commands in turn, as a shell would."""
    import os
    import shlex
    import subprocess

    from harness import VENV_BIN

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_ENDPOINT_URL=emu.url,
        AWS_PAGER="",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    for part in command.split(" && "):
        argv = shlex.split(part)
        assert argv[0] == "aws", command
        done = subprocess.run([str(VENV_BIN / "aws"), *argv[1:]], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (part, done.stderr)


def permission_json(p: dict) -> str:
    """`--launch-permission`'s JSON for a row's recorded permissions."""
    add = [{"UserId": a} for a in p["accounts"]]
    add += [{"OrganizationArn": a} for a in p["organizations"]]
    add += [{"OrganizationalUnitArn": a} for a in p["organizational_units"]]
    add += [{"Group": "all"}] if p["public"] else []
    return json.dumps({"Add": add}, separators=(",", ":"))


def undo_for(row: dict) -> str | None:
    """The undo command a row must carry, by the documented rules (docs/retirement.md)."""
    if row["outcome"] not in ("done", "would"):
        return None
    image_id, action, theirs = row["image_id"], row["action"], row["team_deprecation_at"]

    if action == "deprecate":
        if theirs and theirs == row["deprecate_at"]:
            return None  # the team's earlier time was kept: the pipeline changed none
        if theirs:
            return f"aws ec2 enable-image-deprecation --image-id {image_id} --deprecate-at {theirs[:19]}Z --region {REGION}"
        return f"aws ec2 disable-image-deprecation --image-id {image_id} --region {REGION}"
    if action == "disable":
        commands = [f"aws ec2 enable-image --image-id {image_id} --region {REGION}"]
        p = row["launch_permissions"]
        if p and (p["accounts"] or p["organizations"] or p["organizational_units"] or p["public"]):
            commands.append(
                f"aws ec2 modify-image-attribute --image-id {image_id} "
                f"--launch-permission '{permission_json(p)}' --region {REGION}"
            )
        return " && ".join(commands)
    if action == "deregister" and row["recycle_bin_rule"]:
        return f"aws ec2 restore-image-from-recycle-bin --image-id {image_id} --region {REGION}"
    return None


def permissions_of(emu, image_id: str) -> list[dict]:
    perms = emu.client("ec2").describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    return sorted(perms["LaunchPermissions"], key=json.dumps)


def consumer_launches(emu, image_id: str) -> None:
    """CONSUMER_1 sees the AMI shared with it and launches from it."""
    consumer = emu.client("ec2", CONSUMER_1)
    assert [i["ImageId"] for i in consumer.describe_images(ImageIds=[image_id])["Images"]] == [image_id]
    consumer.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t3.micro")


__all__ = ["OWNER", "FORWARD"]
