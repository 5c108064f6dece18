"""Usage is computed from what moto really holds, account by account."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from emu_helpers import BOTH_TYPES, OWNER, entries_by_key, register_ami, share

A1, A2, A3 = "111111111111", "222222222222", "333333333333"
OTHER_AMI = "ami-12c6146b"  # one of moto's default (Amazon-owned) AMIs


def _lt(ec2, name, *image_ids):
    """A launch template whose versions reference ``image_ids`` in order."""
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": image_ids[0]})
    for image_id in image_ids[1:]:
        ec2.create_launch_template_version(LaunchTemplateName=name, LaunchTemplateData={"ImageId": image_id})


@pytest.fixture
def fleet(aws):
    owner = aws("ec2")
    ami, other = register_ami(owner, "golden"), register_ami(owner, "other")
    share(owner, ami, A1, A2, A3)
    share(owner, other, A1, A3)
    owner.run_instances(ImageId=ami, MinCount=1, MaxCount=1)  # the owner's own use

    c1 = aws("ec2", account=A1)
    ids = [i["InstanceId"] for i in c1.run_instances(ImageId=ami, MinCount=3, MaxCount=3)["Instances"]]
    c1.terminate_instances(InstanceIds=ids[:1])  # terminated: not counted
    c1.run_instances(ImageId=other, MinCount=1, MaxCount=1)
    _lt(c1, "tpl-a1", ami)
    _lt(c1, "tpl-a2", OTHER_AMI, ami, ami)  # referenced by two versions: counts once
    _lt(c1, "tpl-old", ami, *[OTHER_AMI] * 25)  # only beyond the default depth of 20
    # (an AMI is a Regional resource: launching this id in us-west-2 fails, see test_image_use.py)

    c2 = aws("ec2", account=A2)
    c2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)
    _lt(c2, "tpl-b1", ami)

    c3 = aws("ec2", account=A3)
    c3.run_instances(ImageId=other, MinCount=2, MaxCount=2)
    return owner, ami, other


def test_counts_instances_and_templates_per_account(fleet):
    owner, ami, other = fleet
    rid = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    assert entries_by_key(owner, rid) == {
        (A1, "ec2:Instance"): 2,
        (A1, "ec2:LaunchTemplate"): 2,
        (A2, "ec2:Instance"): 1,
        (A2, "ec2:LaunchTemplate"): 1,
    }
    rid = owner.create_image_usage_report(ImageId=other, ResourceTypes=BOTH_TYPES)["ReportId"]
    assert entries_by_key(owner, rid) == {(A1, "ec2:Instance"): 1, (A3, "ec2:Instance"): 2}


def test_version_depth_option(fleet):
    owner, ami, _ = fleet

    def templates(depth):
        rid = owner.create_image_usage_report(
            ImageId=ami,
            ResourceTypes=[
                {
                    "ResourceType": "ec2:LaunchTemplate",
                    "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": [str(depth)]}],
                }
            ],
        )["ReportId"]
        return entries_by_key(owner, rid)

    assert templates(26) == {(A1, "ec2:LaunchTemplate"): 3, (A2, "ec2:LaunchTemplate"): 1}
    assert templates(25) == {(A1, "ec2:LaunchTemplate"): 2, (A2, "ec2:LaunchTemplate"): 1}
    # depth 1 sees only each template's latest version: tpl-a2 v3, tpl-a1 and tpl-b1 v1
    assert templates(1) == {(A1, "ec2:LaunchTemplate"): 2, (A2, "ec2:LaunchTemplate"): 1}


def test_account_ids_and_resource_types_limit_the_report(fleet):
    owner, ami, _ = fleet
    rid = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES, AccountIds=[A2, A3])["ReportId"]
    assert entries_by_key(owner, rid) == {(A2, "ec2:Instance"): 1, (A2, "ec2:LaunchTemplate"): 1}
    rid = owner.create_image_usage_report(ImageId=ami, ResourceTypes=[{"ResourceType": "ec2:Instance"}])["ReportId"]
    assert entries_by_key(owner, rid) == {(A1, "ec2:Instance"): 2, (A2, "ec2:Instance"): 1}


def test_owner_usage_only_with_include_owner_account(fleet, control):
    owner, ami, _ = fleet
    control.post("/config", {"include_owner_account": True})
    rid = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    assert entries_by_key(owner, rid)[(OWNER, "ec2:Instance")] == 1
    control.post("/config", {"include_owner_account": False})
    rid = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    assert (OWNER, "ec2:Instance") not in entries_by_key(owner, rid)


def test_report_is_a_snapshot(fleet, aws):
    owner, ami, _ = fleet
    rid = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    aws("ec2", account=A2).run_instances(ImageId=ami, MinCount=5, MaxCount=5)
    assert entries_by_key(owner, rid)[(A2, "ec2:Instance")] == 1
    rid2 = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    assert entries_by_key(owner, rid2)[(A2, "ec2:Instance")] == 6


@pytest.mark.slow
def test_instance_activity_lag(fleet, control):
    owner, ami, _ = fleet
    control.post("/config", {"instance_activity_lag_seconds": 86400})
    rid = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    # every instance was launched seconds ago: none is old enough; templates still count
    assert entries_by_key(owner, rid) == {(A1, "ec2:LaunchTemplate"): 2, (A2, "ec2:LaunchTemplate"): 1}
    control.post("/clock", {"advance_seconds": 86401})
    rid = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    assert entries_by_key(owner, rid)[(A1, "ec2:Instance")] == 2


@pytest.mark.aws_lags
def test_default_lags_hide_recent_instances_and_template_versions(aws, control):
    """AWS: "Instance activity from the past 24 hours and launch template activity from the
    past few days might not appear" - by default neither appears (few days: 7, assumed)."""
    config = control.get("/config")
    assert (config["instance_activity_lag_seconds"], config["launch_template_activity_lag_seconds"]) == (
        86400,
        604800,
    )
    # The other documented delays default to their worst case too: lastLaunchedTime
    # ("a 24-hour delay before that usage is reported") and a new Recycle Bin rule
    # ("can take up to 30 minutes ... to become active").
    assert (config["last_launched_lag_seconds"], config["rbin_rule_activation_seconds"]) == (86400, 1800)
    owner = aws("ec2")
    ami = register_ami(owner)
    share(owner, ami, A1)
    c1 = aws("ec2", account=A1)
    c1.run_instances(ImageId=ami, MinCount=2, MaxCount=2)
    _lt(c1, "tpl", ami)
    _lt(c1, "moved-away", ami)
    rid = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    assert entries_by_key(owner, rid) == {}
    control.post("/clock", {"advance_seconds": 86401})
    rid = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES, ClientToken="1d")["ReportId"]
    assert entries_by_key(owner, rid) == {(A1, "ec2:Instance"): 2}
    control.post("/clock", {"advance_seconds": 6 * 86400})
    c1.create_launch_template_version(LaunchTemplateName="moved-away", LaunchTemplateData={"ImageId": OTHER_AMI})
    rid = owner.create_image_usage_report(
        ImageId=ami,
        ResourceTypes=[
            {
                "ResourceType": "ec2:LaunchTemplate",
                "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["1"]}],
            }
        ],
        ClientToken="7d",
    )["ReportId"]
    # both templates as they stood 7 days ago: the new version that moved away is not seen yet
    assert entries_by_key(owner, rid) == {(A1, "ec2:LaunchTemplate"): 2}


def test_usage_through_assumed_role_credentials(aws):
    owner = aws("ec2")
    ami = register_ami(owner)
    share(owner, ami, A3)
    creds = aws("sts").assume_role(RoleArn=f"arn:aws:iam::{A3}:role/consumer", RoleSessionName="tests")["Credentials"]
    consumer = aws(
        "ec2",
        credentials={
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        },
    )
    consumer.run_instances(ImageId=ami, MinCount=2, MaxCount=2)
    rid = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    assert entries_by_key(owner, rid) == {(A3, "ec2:Instance"): 2}


def test_image_from_create_image_can_be_reported(aws):
    owner = aws("ec2")
    [inst] = owner.run_instances(ImageId=OTHER_AMI, MinCount=1, MaxCount=1)["Instances"]
    ami = owner.create_image(InstanceId=inst["InstanceId"], Name="baked")["ImageId"]
    share(owner, ami, A1)
    consumer = aws("ec2", account=A1)
    consumer.create_launch_template(LaunchTemplateName="t", LaunchTemplateData={"ImageId": ami})
    consumer.run_instances(ImageId=ami, MinCount=1, MaxCount=1)
    rid = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    assert entries_by_key(owner, rid) == {(A1, "ec2:Instance"): 1, (A1, "ec2:LaunchTemplate"): 1}


def test_only_the_owner_can_report(aws):
    owner = aws("ec2")
    ami = register_ami(owner)
    share(owner, ami, A1)
    with pytest.raises(ClientError) as err:
        aws("ec2", account=A1).create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)
    assert err.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"
    with pytest.raises(ClientError) as err:  # Amazon-owned public AMI
        owner.create_image_usage_report(ImageId=OTHER_AMI, ResourceTypes=BOTH_TYPES)
    assert err.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"
    with pytest.raises(ClientError) as err:  # same AMI id, other region
        aws("ec2", region="eu-west-1").create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)
    assert err.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"
    with pytest.raises(ClientError) as err:
        owner.create_image_usage_report(ImageId="img-123", ResourceTypes=BOTH_TYPES)
    assert err.value.response["Error"]["Code"] == "InvalidAMIID.Malformed"
    owner.deregister_image(ImageId=ami)
    with pytest.raises(ClientError) as err:
        owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)
    assert err.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"
