"""Auto Scaling through the emulator: launch configurations naming an AMI, a group at desired
capacity 0, DescribeLaunchConfigurations paging; neither usage reports nor
DescribeImageReferences count launch configurations (as on AWS)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from emu_helpers import OWNER, register_ami, share

CONSUMER = "111111111111"
ALL_FOUR = [
    {"ResourceType": t}
    for t in ("ec2:Instance", "ec2:LaunchTemplate", "imagebuilder:ImageRecipe", "imagebuilder:ContainerRecipe")
]


def _names(asg, **kwargs):
    pages = asg.get_paginator("describe_launch_configurations").paginate(**kwargs)
    return [lc["LaunchConfigurationName"] for p in pages for lc in p["LaunchConfigurations"]]


def test_a_group_at_desired_zero_keeps_its_launch_configuration_and_ami(aws):
    ami = register_ami(aws("ec2"))
    asg = aws("autoscaling")
    asg.create_launch_configuration(LaunchConfigurationName="web-v1", ImageId=ami, InstanceType="t3.micro")
    asg.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchConfigurationName="web-v1",
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=0,
        AvailabilityZones=["us-east-1a"],
    )
    [group] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"]
    assert (group["DesiredCapacity"], group["LaunchConfigurationName"], group["Instances"]) == (0, "web-v1", [])
    [lc] = asg.describe_launch_configurations(LaunchConfigurationNames=["web-v1"])["LaunchConfigurations"]
    assert lc["ImageId"] == ami
    assert lc["LaunchConfigurationARN"].startswith(f"arn:aws:autoscaling:us-east-1:{OWNER}:launchConfiguration:")
    assert aws("autoscaling", account=CONSUMER).describe_launch_configurations()["LaunchConfigurations"] == []


def test_describe_launch_configurations_pages_by_name_with_an_opaque_token(aws):
    asg = aws("autoscaling")
    ami = register_ami(aws("ec2"))
    names = [f"lc-{n:02d}" for n in range(7)]
    for name in reversed(names):
        asg.create_launch_configuration(LaunchConfigurationName=name, ImageId=ami, InstanceType="t3.micro")
    first = asg.describe_launch_configurations(MaxRecords=3)
    assert [lc["LaunchConfigurationName"] for lc in first["LaunchConfigurations"]] == names[:3]
    assert first["NextToken"] != names[2]
    asg.delete_launch_configuration(LaunchConfigurationName=names[2])  # the token's own key
    second = asg.describe_launch_configurations(MaxRecords=3, NextToken=first["NextToken"])
    assert [lc["LaunchConfigurationName"] for lc in second["LaunchConfigurations"]] == names[3:6]
    assert _names(asg, PaginationConfig={"PageSize": 2}) == names[:2] + names[3:]
    assert "NextToken" not in asg.describe_launch_configurations()  # default page of 50
    for kwargs, code in [
        ({"NextToken": "lc-01"}, "InvalidNextToken"),
        ({"MaxRecords": 101}, "ValidationError"),
        ({"MaxRecords": 0}, "ValidationError"),
    ]:
        with pytest.raises(ClientError) as err:
            asg.describe_launch_configurations(**kwargs)
        assert err.value.response["Error"]["Code"] == code, kwargs


def test_launch_configurations_are_counted_by_neither_reports_nor_references(aws, control):
    owner = aws("ec2")
    ami = register_ami(owner)
    share(owner, ami, CONSUMER)
    control.post("/config", {"include_owner_account": True, "report_resource_types": "sdk-latest"})
    for account in (OWNER, CONSUMER):
        aws("autoscaling", account=account).create_launch_configuration(
            LaunchConfigurationName="only-lc", ImageId=ami, InstanceType="t3.micro"
        )
    report = owner.create_image_usage_report(ImageId=ami, ResourceTypes=ALL_FOUR)["ReportId"]
    assert owner.describe_image_usage_report_entries(ReportIds=[report])["ImageUsageReportEntries"] == []
    for account in (OWNER, CONSUMER):
        refs = aws("ec2", account=account).describe_image_references(ImageIds=[ami], IncludeAllResourceTypes=True)
        assert refs["ImageReferences"] == []


def test_an_ami_the_account_cannot_use_is_refused(aws):
    owner = aws("ec2")
    shared, private = register_ami(owner, "shared"), register_ami(owner, "private")
    share(owner, shared, CONSUMER)
    member = aws("autoscaling", account=CONSUMER)
    member.create_launch_configuration(LaunchConfigurationName="ok", ImageId=shared, InstanceType="t3.micro")
    for ami in (private, "ami-0123456789abcdef0"):
        with pytest.raises(ClientError) as err:
            member.create_launch_configuration(LaunchConfigurationName="no", ImageId=ami, InstanceType="t3.micro")
        assert err.value.response["Error"]["Code"] == "ValidationError"
    owner.deregister_image(ImageId=shared)
    with pytest.raises(ClientError):
        member.create_launch_configuration(LaunchConfigurationName="gone", ImageId=shared, InstanceType="t3.micro")
    assert _names(member) == ["ok"]  # a launch configuration outlives its AMI, as on AWS
