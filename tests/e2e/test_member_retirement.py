"""Issues 21 and 22, "a member's reference undoes a retirement", with the real binary. A
deprecated AMI is hidden from other accounts' listings (DescribeImages without
`IncludeDeprecated`) and a disabled one has lost every launch permission, so a member
can no longer see an AMI of its owner once the retirement pipeline has started on it.
The owner therefore publishes its AMIs in retirement (`<prefix>/retiring/region=<r>/
retiring.json`) and the member's `probe` looks for them by id in its own resources
(SSM parameters of data type `aws:ec2:image`, launch templates, Image Builder recipes).

- deprecated: an AMI shared with the member, unused, is deprecated by the owner's
  collect (`RETIRE_MODE=enforce`); once the deprecation is in effect the member's
  listing no longer shows it, and the member names it in an SSM parameter. Its next
  probe finds the parameter, and the owner's next collect calls the AMI `in_use`
  (`used_in_member_account`) and cancels the deprecation (`cancel_deprecation`,
  `used_again`) in the very run its disable was due — an unreferenced twin is disabled
  that run — and it is never disabled after;
- disabled: an AMI the pipeline has disabled is invisible to the member, which cannot
  launch it; the member names it in a launch template. Its next probe finds the
  template through the retirement list, and the owner's next collect enables it again
  (`enable`, `used_again`) with the launch permissions recorded before DisableImage:
  the owner's `launchPermission` names the member again, the member sees the AMI and
  launches from it (and from its template).
"""

from __future__ import annotations

import json

import pytest
from archive import object_rows, objects, rows
from botocore.exceptions import ClientError
from fleet import register_golden
from harness import OWNER, REGION, run_binary
from test_member_probe import BUCKET, MEMBER, ORG, member_env, owner_env

HOUR, DAY = 3600, 86400
STAGE_TAG = "ami-usage-reporter:retire-stage"
RETIRING = f"{ORG}/account={OWNER}/retiring/region={REGION}/retiring.json"
# Deprecate at once with a day's notice; never deregister within the test.
RETIRE = {
    "RETIRE_MODE": "enforce",
    "RETIRE_DEPRECATE_AFTER_DAYS": "0",
    "RETIRE_DEPRECATION_NOTICE_DAYS": "1",
    "RETIRE_DEREGISTER_AFTER_DAYS": "30",
}


def day(emu, env: dict, member: dict) -> dict:
    """The member probes, the owner creates, an hour later collects, then the rest of the
    day passes: the probe's summary and facts, the run's verdict rows and retire actions."""
    probed = run_binary(emu, ["probe", "--now", emu.now()], member)
    assert probed.code == 0, probed.stderr
    facts = {r["image_id"]: r for r in object_rows(emu.client("s3"), BUCKET, probed.summary["object"])}
    assert run_binary(emu, ["create", "--now", emu.now()], env).code == 0
    collected = run_binary(emu, ["collect", "--now", emu.advance(HOUR)], env)
    assert collected.code == 0, collected.stderr
    written = objects(emu.client("s3"), BUCKET, f"{ORG}/account={OWNER}/verdicts/")
    verdicts = {r["image_id"]: r for r in written[max(written)]["rows"]}
    retire = collected.summary.get("retire") or {}
    assert retire.get("failed", 0) == 0, retire
    actions = [(a["image_id"], a["action"], a["outcome"], a["reason"]) for a in retire.get("actions", [])]
    emu.advance(DAY - HOUR)
    return {"probe": probed.summary, "facts": facts, "rows": verdicts, "actions": actions}


def steps(d: dict, image_id: str) -> list[tuple[str, str, str]]:
    return [(action, outcome, reason) for i, action, outcome, reason in d["actions"] if i == image_id]


def action_rows(emu, image_id: str) -> list[dict]:
    found = rows(objects(emu.client("s3"), BUCKET, f"{ORG}/account={OWNER}/actions/"), "actions")
    return [r for r in found if r["image_id"] == image_id]


def retiring(emu) -> dict[str, str]:
    """The owner's published retirement list: image id -> stage."""
    body = emu.client("s3").get_object(Bucket=BUCKET, Key=RETIRING)["Body"].read()
    return {i["image_id"]: i["stage"] for i in json.loads(body)["images"]}


def owner_image(emu, image_id: str) -> dict:
    [found] = emu.client("ec2").describe_images(ImageIds=[image_id], IncludeDisabled=True)["Images"]
    return found


def stage_tag(ami: dict) -> str | None:
    return {t["Key"]: t["Value"] for t in ami.get("Tags", [])}.get(STAGE_TAG)


def member_lists(emu, image_id: str) -> bool:
    """Whether the member's listing of the owner's AMIs (deprecated ones not asked for) shows it."""
    images = emu.client("ec2", MEMBER).describe_images(Owners=[OWNER])["Images"]
    return image_id in {i["ImageId"] for i in images}


def member_describes_by_id(emu, image_id: str) -> bool:
    try:
        found = emu.client("ec2", MEMBER).describe_images(
            ImageIds=[image_id], IncludeDeprecated=True, IncludeDisabled=True
        )["Images"]
    except ClientError as e:
        assert e.response["Error"]["Code"].startswith("InvalidAMIID."), e
        return False
    return [i["ImageId"] for i in found] == [image_id]


def recycle_bin_rule(emu) -> None:
    """A Region-level rule: nothing but the member's reference would stop the walk."""
    emu.client("rbin").create_rule(
        ResourceType="EC2_IMAGE", RetentionPeriod={"RetentionPeriodValue": 90, "RetentionPeriodUnit": "DAYS"}
    )


@pytest.mark.slow
def test_a_member_parameter_naming_a_deprecated_ami_cancels_its_deprecation_before_the_disable(emu):
    emu.client("s3").create_bucket(Bucket=BUCKET)
    recycle_bin_rule(emu)
    owner = emu.client("ec2")
    kept = register_golden(owner, "golden-named-in-a-member-parameter", [MEMBER], gib=8)
    twin = register_golden(owner, "golden-never-referenced", [MEMBER], gib=8)
    env = owner_env(emu, **RETIRE, RETIRE_DISABLE_AFTER_DAYS="2")
    member = member_env(emu)

    # Day 0: both unused in the owner's reports and in the member: deprecated at once.
    d0 = day(emu, env, member)
    for image_id in (kept, twin):
        assert d0["rows"][image_id]["verdict"] == "candidate", d0["rows"][image_id]["reasons"]
        assert steps(d0, image_id) == [("deprecate", "done", "candidate_for_days")], d0["actions"]
        assert "DeprecationTime" in owner_image(emu, image_id)
    assert retiring(emu) == {kept: "deprecated", twin: "deprecated"}
    # Day 1: the deprecation (a day's notice) is not in effect yet; nothing happens.
    d1 = day(emu, env, member)
    assert d1["actions"] == [], d1["actions"]
    assert d1["probe"]["in_retirement"] == 2

    # The deprecation is in effect: the member's listing hides the AMI (issue 21). The
    # member names it in an SSM parameter (SSM validates the id, which it may name).
    assert not member_lists(emu, kept) and not member_lists(emu, twin)
    emu.client("ssm", MEMBER).put_parameter(Name="/golden/pinned", Value=kept, Type="String", DataType="aws:ec2:image")
    arn = f"arn:aws:ssm:{REGION}:{MEMBER}:parameter/golden/pinned"

    # Day 2: the disable of both is due. The probe finds the parameter; the collect
    # calls the AMI in use and cancels its deprecation; the twin is disabled.
    d2 = day(emu, env, member)
    fact = d2["facts"][kept]
    assert (fact["retirement_stage"], fact["references"]) == (
        "deprecated",
        [{"resource_type": "ssm:Parameter", "arn": arn}],
    ), fact
    assert d2["facts"][twin]["references"] == [] and d2["facts"][twin]["retirement_stage"] == "deprecated"
    used = d2["rows"][kept]
    assert (used["verdict"], used["reasons"], used["member_references"]) == (
        "in_use",
        ["used_in_member_account"],
        [arn],
    )
    assert steps(d2, kept) == [("cancel_deprecation", "done", "used_again")], d2["actions"]
    assert steps(d2, twin) == [("disable", "done", "candidate_for_days")], d2["actions"]
    ami = owner_image(emu, kept)
    assert (ami["State"], "DeprecationTime" in ami, stage_tag(ami)) == ("available", False, None), ami
    assert owner_image(emu, twin)["State"] == "disabled"
    assert retiring(emu) == {twin: "disabled"}
    assert member_lists(emu, kept), "no longer deprecated: listed for the member again"

    # Days 3-5: the parameter keeps it in use; it is never disabled.
    for _ in range(3):
        d = day(emu, env, member)
        assert (d["rows"][kept]["verdict"], d["rows"][kept]["member_references"]) == ("in_use", [arn])
        assert steps(d, kept) == [], d["actions"]
    ami = owner_image(emu, kept)
    assert (ami["State"], "DeprecationTime" in ami, stage_tag(ami)) == ("available", False, None), ami

    archived = action_rows(emu, kept)
    assert [(r["action"], r["outcome"], r["reason"]) for r in archived] == [
        ("deprecate", "done", "candidate_for_days"),
        ("cancel_deprecation", "done", "used_again"),
    ]
    assert archived[1]["detail"] == "used_in_member_account", archived[1]
    assert not [c for c in emu.control("calls")["calls"] if c["action"] == "DisableImage" and kept in c["resources"]]


@pytest.mark.slow
def test_a_member_launch_template_naming_a_disabled_ami_enables_it_with_its_launch_permissions(emu):
    emu.client("s3").create_bucket(Bucket=BUCKET)
    recycle_bin_rule(emu)
    owner = emu.client("ec2")
    ami_id = register_golden(owner, "golden-back-in-a-member-template", [MEMBER], gib=8)
    shared = [{"UserId": MEMBER}]
    assert owner.describe_image_attribute(ImageId=ami_id, Attribute="launchPermission")["LaunchPermissions"] == shared
    env = owner_env(emu, **RETIRE, RETIRE_DISABLE_AFTER_DAYS="1")
    member = member_env(emu)

    d0 = day(emu, env, member)
    assert steps(d0, ami_id) == [("deprecate", "done", "candidate_for_days")], (d0["actions"], d0["rows"])
    d1 = day(emu, env, member)
    assert steps(d1, ami_id) == [("disable", "done", "candidate_for_days")], d1["actions"]
    assert owner_image(emu, ami_id)["State"] == "disabled"
    assert owner.describe_image_attribute(ImageId=ami_id, Attribute="launchPermission")["LaunchPermissions"] == []
    assert retiring(emu) == {ami_id: "disabled"}
    [disable] = [r for r in action_rows(emu, ami_id) if r["action"] == "disable"]
    assert disable["launch_permissions"]["accounts"] == [MEMBER], disable

    # Disabled: invisible to the member (issue 22), which cannot launch it, but may name
    # it in a launch template (CreateLaunchTemplate does not validate the image).
    ec2 = emu.client("ec2", MEMBER)
    assert not member_lists(emu, ami_id) and not member_describes_by_id(emu, ami_id)
    with pytest.raises(ClientError) as refused:
        ec2.run_instances(ImageId=ami_id, MinCount=1, MaxCount=1, InstanceType="t3.micro")
    assert refused.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"
    template = ec2.create_launch_template(LaunchTemplateName="rolls-back", LaunchTemplateData={"ImageId": ami_id})
    arn = f"arn:aws:ec2:{REGION}:{MEMBER}:launch-template/{template['LaunchTemplate']['LaunchTemplateId']}"

    # Day 2: the probe cannot describe the AMI but finds the template by its id (the
    # retirement list names it); the collect enables it with its launch permissions.
    d2 = day(emu, env, member)
    assert (d2["probe"]["in_retirement"], d2["probe"]["not_describable"]) == (1, 1), d2["probe"]
    fact = d2["facts"][ami_id]
    assert (fact["described"], fact["retirement_stage"]) == (False, "disabled"), fact
    assert fact["references"] == [{"resource_type": "ec2:LaunchTemplate", "arn": arn}], fact
    assert "ec2:LaunchTemplate" in fact["checked"], fact
    used = d2["rows"][ami_id]
    assert (used["verdict"], used["reasons"], used["member_references"]) == (
        "in_use",
        ["used_in_member_account"],
        [arn],
    )
    assert steps(d2, ami_id) == [
        ("enable", "done", "used_again"),
        ("cancel_deprecation", "done", "used_again"),
    ], d2["actions"]
    [enable] = [r for r in action_rows(emu, ami_id) if r["action"] == "enable"]
    assert enable["detail"] == "used_in_member_account", enable
    assert enable["launch_permissions"]["accounts"] == [MEMBER], enable

    ami = owner_image(emu, ami_id)
    assert (ami["State"], "DeprecationTime" in ami, stage_tag(ami)) == ("available", False, None), ami
    assert owner.describe_image_attribute(ImageId=ami_id, Attribute="launchPermission")["LaunchPermissions"] == shared
    assert retiring(emu) == {}
    # The member sees it again and launches from it, directly and through its template.
    assert member_lists(emu, ami_id) and member_describes_by_id(emu, ami_id)
    ec2.run_instances(ImageId=ami_id, MinCount=1, MaxCount=1, InstanceType="t3.micro")
    ec2.run_instances(
        LaunchTemplate={"LaunchTemplateName": "rolls-back"}, MinCount=1, MaxCount=1, InstanceType="t3.micro"
    )

    d3 = day(emu, env, member)
    assert d3["rows"][ami_id]["verdict"] == "in_use" and steps(d3, ami_id) == [], d3["actions"]
    assert [r["action"] for r in action_rows(emu, ami_id)] == ["deprecate", "disable", "enable", "cancel_deprecation"]
