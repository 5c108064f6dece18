"""DescribeImageReferences and lastLaunchedTime: computed from what moto holds, parsed by
boto3 and the real AWS CLI; moto's timestamps follow the emulator clock."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from emu_helpers import BOTH_TYPES, OWNER, REGION, register_ami, share

AWS_CLI = str(Path(sys.executable).parent / "aws")
CONSUMER = "111111111111"
LIVE = [{"OptionName": "state-name", "OptionValues": ["pending", "running", "stopping", "stopped"]}]


def _refs(ec2, image_ids, **kwargs):
    pages = ec2.get_paginator("describe_image_references").paginate(ImageIds=image_ids, **kwargs)
    return [(r["ImageId"], r["ResourceType"], r["Arn"]) for p in pages for r in p["ImageReferences"]]


def test_references_list_the_callers_instances_templates_and_parameters(aws):
    owner = aws("ec2")
    ami, other = register_ami(owner, "a"), register_ami(owner, "b")
    share(owner, ami, CONSUMER)
    running = owner.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    gone = owner.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    owner.terminate_instances(InstanceIds=[gone])
    lt = owner.create_launch_template(LaunchTemplateName="old", LaunchTemplateData={"ImageId": ami})
    lt_id = lt["LaunchTemplate"]["LaunchTemplateId"]
    for _ in range(3):  # three newer versions on another AMI: `ami` is now version 1 of 4
        owner.create_launch_template_version(LaunchTemplateName="old", LaunchTemplateData={"ImageId": other})
    aws("ssm").put_parameter(Name="/golden/current", Value=ami, Type="String", DataType="aws:ec2:image")
    aws("ssm").put_parameter(Name="unrelated", Value="hello", Type="String")
    aws("ec2", account=CONSUMER).run_instances(ImageId=ami, MinCount=1, MaxCount=1)  # not the caller's

    # Defaults: every instance state (the terminated one too), 10 template versions.
    everything = _refs(owner, [ami], IncludeAllResourceTypes=True)
    instances = sorted(f"arn:aws:ec2:{REGION}:{OWNER}:instance/{i}" for i in (running, gone))
    assert everything == [(ami, "ec2:Instance", arn) for arn in instances] + [
        (ami, "ec2:LaunchTemplate", f"arn:aws:ec2:{REGION}:{OWNER}:launch-template/{lt_id}"),
        (ami, "ssm:Parameter", f"arn:aws:ssm:{REGION}:{OWNER}:parameter/golden/current"),
    ]
    deep = _refs(
        owner,
        [ami],
        ResourceTypes=[
            {
                "ResourceType": "ec2:LaunchTemplate",
                "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["4"]}],
            }
        ],
    )
    shallow = _refs(
        owner,
        [ami],
        ResourceTypes=[
            {
                "ResourceType": "ec2:LaunchTemplate",
                "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["3"]}],
            }
        ],
    )
    assert deep == [(ami, "ec2:LaunchTemplate", f"arn:aws:ec2:{REGION}:{OWNER}:launch-template/{lt_id}")]
    assert shallow == []
    live = _refs(
        owner,
        [ami, other],
        ResourceTypes=[
            {"ResourceType": "ec2:Instance", "ResourceTypeOptions": LIVE},
            {"ResourceType": "ssm:Parameter"},
            {"ResourceType": "imagebuilder:ImageRecipe"},
        ],
    )
    assert live == [
        (ami, "ec2:Instance", f"arn:aws:ec2:{REGION}:{OWNER}:instance/{running}"),
        (ami, "ssm:Parameter", f"arn:aws:ssm:{REGION}:{OWNER}:parameter/golden/current"),
    ]
    assert _refs(aws("ec2", account=CONSUMER), [other], IncludeAllResourceTypes=True) == []


def test_include_all_uses_the_default_depth_of_ten(aws):
    owner = aws("ec2")
    ami, other = register_ami(owner, "a"), register_ami(owner, "b")
    owner.create_launch_template(LaunchTemplateName="tpl", LaunchTemplateData={"ImageId": ami})
    for n in range(10):
        owner.create_launch_template_version(LaunchTemplateName="tpl", LaunchTemplateData={"ImageId": other})
        found = [t for _, t, _ in _refs(owner, [ami], IncludeAllResourceTypes=True)]
        assert found == (["ec2:LaunchTemplate"] if n < 9 else []), n


def test_references_page_and_validate(aws):
    owner = aws("ec2")
    ami = register_ami(owner)
    owner.run_instances(ImageId=ami, MinCount=7, MaxCount=7)
    first = owner.describe_image_references(ImageIds=[ami], IncludeAllResourceTypes=True, MaxResults=5)
    assert len(first["ImageReferences"]) == 5 and first["NextToken"]
    second = owner.describe_image_references(
        ImageIds=[ami], IncludeAllResourceTypes=True, MaxResults=5, NextToken=first["NextToken"]
    )
    assert len(second["ImageReferences"]) == 2 and "NextToken" not in second
    arns = {r["Arn"] for r in first["ImageReferences"] + second["ImageReferences"]}
    assert len(arns) == 7
    for kwargs, code in [
        ({"ImageIds": [ami]}, "MissingParameter"),
        ({"ImageIds": [ami] * 11, "IncludeAllResourceTypes": True}, "InvalidParameterValue"),
        ({"ImageIds": ["img-1"], "IncludeAllResourceTypes": True}, "InvalidAMIID.Malformed"),
        (
            {
                "ImageIds": [ami],
                "ResourceTypes": [
                    {
                        "ResourceType": "ec2:LaunchTemplate",
                        "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["0"]}],
                    }
                ],
            },
            "InvalidParameterValue",
        ),
        (
            {
                "ImageIds": [ami],
                "ResourceTypes": [
                    {
                        "ResourceType": "ec2:Instance",
                        "ResourceTypeOptions": [{"OptionName": "state-name", "OptionValues": ["sleeping"]}],
                    }
                ],
            },
            "InvalidParameterValue",
        ),
    ]:
        with pytest.raises(ClientError) as err:
            owner.describe_image_references(**kwargs)
        assert err.value.response["Error"]["Code"] == code, kwargs


def test_last_launched_time_follows_launches_in_any_account_and_the_emulator_clock(aws, control):
    owner = aws("ec2")
    ami = register_ami(owner)
    share(owner, ami, CONSUMER)
    never = owner.describe_image_attribute(ImageId=ami, Attribute="lastLaunchedTime")
    assert never["ImageId"] == ami and "Value" not in never.get("LastLaunchedTime", {})
    control.post("/clock", {"advance_seconds": 40 * 86400})
    now = datetime.fromisoformat(control.get("/clock")["now"].replace("Z", "+00:00"))
    aws("ec2", account=CONSUMER).run_instances(ImageId=ami, MinCount=1, MaxCount=1)
    got = owner.describe_image_attribute(ImageId=ami, Attribute="lastLaunchedTime")["LastLaunchedTime"]["Value"]
    launched = datetime.strptime(got, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(launched - now) < timedelta(seconds=5)
    [image] = owner.describe_images(ImageIds=[register_ami(owner, "later")])["Images"]
    created = datetime.fromisoformat(image["CreationDate"].replace("Z", "+00:00"))
    assert abs(created - now) < timedelta(seconds=5), "image creation follows the emulator clock"
    assert owner.describe_image_attribute(ImageId=ami, Attribute="description")["ImageId"] == ami
    with pytest.raises(ClientError) as err:
        owner.describe_image_attribute(ImageId="ami-0123456789abcdef0", Attribute="lastLaunchedTime")
    assert err.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"


def test_aws_cli_parses_both(aws, cli_env):
    owner = aws("ec2")
    ami = register_ami(owner)
    instance = owner.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]

    def cli(*args):
        out = subprocess.run(
            [AWS_CLI, "ec2", *args, "--output", "json"], env=cli_env, capture_output=True, text=True, check=True
        ).stdout
        return json.loads(out)

    refs = cli("describe-image-references", "--image-ids", ami, "--include-all-resource-types")
    assert refs["ImageReferences"] == [
        {"ImageId": ami, "ResourceType": "ec2:Instance", "Arn": f"arn:aws:ec2:{REGION}:{OWNER}:instance/{instance}"}
    ]
    attr = cli("describe-image-attribute", "--image-id", ami, "--attribute", "lastLaunchedTime")
    assert attr["ImageId"] == ami and attr["LastLaunchedTime"]["Value"].endswith("Z")


def test_pending_images_hold_reports_pending(aws, control):
    owner = aws("ec2")
    held, free = register_ami(owner, "held"), register_ami(owner, "free")
    control.post("/config", {"pending_images": [held]})
    ids = {a: owner.create_image_usage_report(ImageId=a, ResourceTypes=BOTH_TYPES)["ReportId"] for a in (held, free)}
    states = {r["ImageId"]: r["State"] for r in owner.describe_image_usage_reports()["ImageUsageReports"]}
    assert states == {held: "pending", free: "available"}
    control.post("/config", {"pending_images": []})
    [report] = owner.describe_image_usage_reports(ReportIds=[ids[held]])["ImageUsageReports"]
    assert report["State"] == "available"
    control.post("/config", {"pending_images": "ami-1"}, expect=400)
