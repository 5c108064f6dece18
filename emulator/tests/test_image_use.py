"""Using an AMI as EC2 allows it: launches refused for AMIs the account may not use (also
through a launch template or an Auto Scaling group), running instances untouched and still
counted, sharing a disabled AMI refused, owner-only attributes, Allowed AMIs at launch."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from emu_helpers import BOTH_TYPES, OWNER, register_ami, share

CONSUMER = "111111111111"
OTHER = "222222222222"


def _code(call, *args, **kwargs):
    with pytest.raises(ClientError) as err:
        call(*args, **kwargs)
    return err.value.response["Error"]["Code"]


def _run(ec2, ami):
    return ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]


def test_run_instances_refuses_an_ami_the_account_may_not_use(aws):
    owner, consumer = aws("ec2"), aws("ec2", account=CONSUMER)
    ami = register_ami(owner)
    assert _code(_run, consumer, ami) == "InvalidAMIID.NotFound"  # never shared
    assert _code(_run, consumer, "ami-0123456789abcdef0") == "InvalidAMIID.NotFound"  # unknown
    assert _code(_run, consumer, "nonsense") == "InvalidAMIID.Malformed"
    share(owner, ami, CONSUMER)
    _run(consumer, ami)
    # "AMIs are a Regional resource": the id means nothing in another Region
    assert _code(_run, aws("ec2", account=CONSUMER, region="us-west-2"), ami) == "InvalidAMIID.NotFound"
    owner.modify_image_attribute(ImageId=ami, LaunchPermission={"Remove": [{"UserId": CONSUMER}]})
    assert _code(_run, consumer, ami) == "InvalidAMIID.NotFound"  # unshared


def test_a_disabled_ami_launches_for_nobody_and_its_running_instances_still_count(aws):
    owner, consumer = aws("ec2"), aws("ec2", account=CONSUMER)
    ami = register_ami(owner)
    share(owner, ami, CONSUMER)
    running = _run(consumer, ami)
    owner.disable_image(ImageId=ami)
    # the consumer lost its permission: to it the AMI is not there (no hint it is disabled)
    assert _code(_run, consumer, ami) == "InvalidAMIID.NotFound"
    assert _code(_run, owner, ami) == "InvalidAMIID.Unavailable"
    [reservation] = consumer.describe_instances(InstanceIds=[running])["Reservations"]
    assert reservation["Instances"][0]["State"]["Name"] == "running"
    consumer.stop_instances(InstanceIds=[running])
    consumer.start_instances(InstanceIds=[running])
    owner.enable_image(ImageId=ami)
    rid = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    entries = owner.describe_image_usage_report_entries(ReportIds=[rid])["ImageUsageReportEntries"]
    assert [(e["AccountId"], e["ResourceType"], e["UsageCount"]) for e in entries] == [(CONSUMER, "ec2:Instance", 1)]
    assert _code(_run, consumer, ami) == "InvalidAMIID.NotFound"  # EnableImage did not reshare


def test_a_launch_template_may_name_any_ami_but_launching_from_it_is_refused(aws):
    owner, consumer = aws("ec2"), aws("ec2", account=CONSUMER)
    ami = register_ami(owner)
    # "Launch template parameters are not fully validated when you create the launch template"
    lt = consumer.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": ami})
    template = {"LaunchTemplateId": lt["LaunchTemplate"]["LaunchTemplateId"]}
    assert _code(consumer.run_instances, LaunchTemplate=template, MinCount=1, MaxCount=1) == "InvalidAMIID.NotFound"
    share(owner, ami, CONSUMER)
    consumer.run_instances(LaunchTemplate=template, MinCount=1, MaxCount=1)


def test_an_auto_scaling_group_on_an_unusable_ami_launches_nothing(aws):
    owner, consumer = aws("ec2"), aws("ec2", account=CONSUMER)
    ami = register_ami(owner)
    lt = consumer.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": ami})
    asg = aws("autoscaling", account=CONSUMER)
    asg.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplate"]["LaunchTemplateId"]},
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=1,
        AvailabilityZones=["us-east-1a"],
    )
    [group] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"]
    assert group["Instances"] == []


def test_sharing_a_disabled_ami_is_refused_and_org_ids_must_be_arns(aws):
    owner = aws("ec2")
    ami = register_ami(owner)
    owner.disable_image(ImageId=ami)
    for add in ({"UserId": CONSUMER}, {"Group": "all"}):
        assert (
            _code(owner.modify_image_attribute, ImageId=ami, LaunchPermission={"Add": [add]}) == "OperationNotPermitted"
        )
    org = "arn:aws:organizations::123456789012:organization/o-abcdefghij"
    flat = {"OperationType": "add", "Attribute": "launchPermission", "OrganizationArns": [org]}
    assert _code(owner.modify_image_attribute, ImageId=ami, **flat) == "OperationNotPermitted"
    owner.enable_image(ImageId=ami)
    bad = {"Add": [{"OrganizationArn": "o-abcdefghij"}]}
    assert _code(owner.modify_image_attribute, ImageId=ami, LaunchPermission=bad) == "InvalidAMIAttributeItemValue"
    owner.modify_image_attribute(ImageId=ami, **flat)
    perms = owner.describe_image_attribute(ImageId=ami, Attribute="launchPermission")["LaunchPermissions"]
    assert perms == [{"OrganizationArn": org}]


def test_owner_only_attributes(aws):
    owner, consumer = aws("ec2"), aws("ec2", account=CONSUMER)
    ami = register_ami(owner)
    share(owner, ami, CONSUMER)
    owner.enable_image_deregistration_protection(ImageId=ami)
    got = owner.describe_image_attribute(ImageId=ami, Attribute="deregistrationProtection")
    assert got["DeregistrationProtection"] == {"Value": "enabled-without-cooldown"}
    assert owner.describe_image_attribute(ImageId=ami, Attribute="launchPermission")["LaunchPermissions"] == [
        {"UserId": CONSUMER}
    ]
    for attribute in ("launchPermission", "lastLaunchedTime", "deregistrationProtection", "description"):
        assert _code(consumer.describe_image_attribute, ImageId=ami, Attribute=attribute) == "AuthFailure"
        assert (
            _code(aws("ec2", account=OTHER).describe_image_attribute, ImageId=ami, Attribute=attribute)
            == "InvalidAMIID.NotFound"
        )
    # moto's public AMIs are in every account: their launches are nobody else's business
    [amazon] = owner.describe_images(Owners=["amazon"], MaxResults=5)["Images"][:1]
    _run(consumer, amazon["ImageId"])
    for attribute in ("lastLaunchedTime", "launchPermission"):
        assert _code(owner.describe_image_attribute, ImageId=amazon["ImageId"], Attribute=attribute) == "AuthFailure"
    assert owner.describe_image_attribute(ImageId=amazon["ImageId"], Attribute="description")["Description"]


def test_allowed_amis_enabled_refuses_launches_of_amis_that_meet_no_criterion(aws, control):
    owner, consumer = aws("ec2"), aws("ec2", account=CONSUMER)
    ami, mine = register_ami(owner, "old"), register_ami(consumer, "mine")
    share(owner, ami, CONSUMER)
    now = datetime.fromisoformat(control.get("/clock")["now"].replace("Z", "+00:00"))
    owner.enable_image_deprecation(ImageId=ami, DeprecateAt=now + timedelta(minutes=2))
    control.post("/clock", {"advance_seconds": 300})
    consumer.replace_image_criteria_in_allowed_images_settings(
        ImageCriteria=[{"ImageProviders": [OWNER], "DeprecationTimeCondition": {"MaximumDaysSinceDeprecated": 0}}]
    )
    consumer.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")
    _run(consumer, ami)  # audit-mode restricts nothing
    consumer.enable_allowed_images_settings(AllowedImagesSettingsState="enabled")
    settings = consumer.get_allowed_images_settings()
    assert settings["State"] == "enabled" and settings["ManagedBy"] == "account"
    assert settings["ImageCriteria"][0]["DeprecationTimeCondition"] == {"MaximumDaysSinceDeprecated": 0}
    assert _code(_run, consumer, ami) == "InvalidAMIID.NotFound"
    _run(consumer, mine)  # the account's own AMIs are never restricted
    owner.disable_image_deprecation(ImageId=ami)
    _run(consumer, ami)
