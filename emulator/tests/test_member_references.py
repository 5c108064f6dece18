"""What a member account can still read of its own use of an AMI it may no longer see
(deprecated, disabled, unshared, deregistered): DescribeImageReferences, SSM parameters of
data type aws:ec2:image, launch configurations."""

from __future__ import annotations

from datetime import datetime, timedelta

from emu_helpers import OWNER, register_ami, share

MEMBER = "111111111111"


def _refs(ec2, ami):
    got = ec2.describe_image_references(ImageIds=[ami], IncludeAllResourceTypes=True)["ImageReferences"]
    return sorted((r["ResourceType"], r["Arn"].rsplit(":", 1)[-1]) for r in got)


def _member_world(aws):
    owner, member = aws("ec2"), aws("ec2", account=MEMBER)
    ami = register_ami(owner)
    share(owner, ami, MEMBER)
    instance = member.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    member.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": ami})
    aws("ssm", account=MEMBER).put_parameter(Name="/golden/web", Value=ami, Type="String", DataType="aws:ec2:image")
    aws("autoscaling", account=MEMBER).create_launch_configuration(
        LaunchConfigurationName="web-lc", ImageId=ami, InstanceType="t3.micro"
    )
    return owner, member, ami, instance


def test_a_member_keeps_reading_its_references_whatever_becomes_of_the_ami(aws, control):
    owner, member, ami, instance = _member_world(aws)
    expected = _refs(member, ami)
    assert [t for t, _ in expected] == ["ec2:Instance", "ec2:LaunchTemplate", "ssm:Parameter"]
    assert expected[0][1] == f"instance/{instance}"
    now = datetime.fromisoformat(control.get("/clock")["now"].replace("Z", "+00:00"))
    owner.enable_image_deprecation(ImageId=ami, DeprecateAt=now + timedelta(minutes=2))
    control.post("/clock", {"advance_seconds": 300})
    assert member.describe_images(Owners=[OWNER])["Images"] == []  # deprecated: hidden from the member
    assert _refs(member, ami) == expected
    owner.disable_image(ImageId=ami)
    assert member.describe_images(Owners=[OWNER], IncludeDeprecated=True, IncludeDisabled=True)["Images"] == []
    assert _refs(member, ami) == expected  # "regardless of ... who owns them"
    owner.enable_image(ImageId=ami)  # not shared again
    assert _refs(member, ami) == expected
    owner.deregister_image(ImageId=ami)
    assert _refs(member, ami) == expected
    # the member's other readings of the same use stay readable too
    ssm = aws("ssm", account=MEMBER)
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "DataType", "Values": ["aws:ec2:image"]}])
    assert [(p["Name"], p["DataType"]) for p in described["Parameters"]] == [("/golden/web", "aws:ec2:image")]
    [param] = ssm.get_parameters(Names=["/golden/web"])["Parameters"]
    assert param["Value"] == ami and param["DataType"] == "aws:ec2:image"
    lcs = aws("autoscaling", account=MEMBER).describe_launch_configurations()["LaunchConfigurations"]
    assert [(lc["LaunchConfigurationName"], lc["ImageId"]) for lc in lcs] == [("web-lc", ami)]


def test_the_owner_sees_none_of_the_members_references(aws):
    owner, _, ami, _ = _member_world(aws)
    assert _refs(owner, ami) == []
