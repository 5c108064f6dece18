"""Usage reports and DescribeImageReferences count Image Builder recipes, from the same state
the imagebuilder API created; a member account's DescribeImageReferences about an image
shared with it covers that member's own resources."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from emu_helpers import OWNER, REGION, entries_by_key, register_ami, share
from test_recipes import container_recipe, image_recipe

CONSUMER, OTHER = "111111111111", "222222222222"
IMAGE, CONTAINER = "imagebuilder:ImageRecipe", "imagebuilder:ContainerRecipe"
ALL_FOUR = [{"ResourceType": t} for t in ("ec2:Instance", "ec2:LaunchTemplate", IMAGE, CONTAINER)]


def _refs(ec2, image_ids, **kwargs):
    pages = ec2.get_paginator("describe_image_references").paginate(ImageIds=image_ids, **kwargs)
    return [(r["ImageId"], r["ResourceType"], r["Arn"]) for p in pages for r in p["ImageReferences"]]


def test_reports_count_recipes_of_other_accounts_per_requested_type(aws, control):
    control.post("/config", {"report_resource_types": "sdk-latest"})  # the recipe types of the newest SDK docs
    owner = aws("ec2")
    ami = register_ami(owner)
    share(owner, ami, CONSUMER, OTHER)
    consumer = aws("imagebuilder", account=CONSUMER)
    for version in ("1.0.0", "1.0.1"):
        image_recipe(consumer, ami, version=version)
    container_recipe(consumer, ami)
    container_recipe(aws("imagebuilder", account=OTHER), ami)  # OTHER has no EC2 resource at all
    image_recipe(aws("imagebuilder"), ami)  # the owner's own: left out unless include_owner_account
    report = owner.create_image_usage_report(ImageId=ami, ResourceTypes=ALL_FOUR)["ReportId"]
    assert entries_by_key(owner, report) == {(CONSUMER, IMAGE): 2, (CONSUMER, CONTAINER): 1, (OTHER, CONTAINER): 1}
    only_images = owner.create_image_usage_report(
        ImageId=ami, ResourceTypes=[{"ResourceType": "ec2:Instance"}, {"ResourceType": IMAGE}]
    )["ReportId"]
    assert entries_by_key(owner, only_images) == {(CONSUMER, IMAGE): 2}
    narrowed = owner.create_image_usage_report(ImageId=ami, ResourceTypes=ALL_FOUR, AccountIds=[OTHER])["ReportId"]
    assert entries_by_key(owner, narrowed) == {(OTHER, CONTAINER): 1}
    control.post("/config", {"include_owner_account": True})
    with_owner = owner.create_image_usage_report(ImageId=ami, ResourceTypes=[{"ResourceType": IMAGE}])["ReportId"]
    assert entries_by_key(owner, with_owner) == {(OWNER, IMAGE): 1, (CONSUMER, IMAGE): 2}


def test_a_report_is_a_snapshot_of_the_recipes(aws, control):
    control.post("/config", {"report_resource_types": "sdk-latest"})
    owner = aws("ec2")
    ami = register_ami(owner)
    share(owner, ami, CONSUMER)
    ib = aws("imagebuilder", account=CONSUMER)
    arn = image_recipe(ib, ami)["imageRecipeArn"]
    before = owner.create_image_usage_report(ImageId=ami, ResourceTypes=ALL_FOUR)["ReportId"]
    ib.delete_image_recipe(imageRecipeArn=arn)
    after = owner.create_image_usage_report(ImageId=ami, ResourceTypes=ALL_FOUR, ClientToken="after")["ReportId"]
    assert entries_by_key(owner, before) == {(CONSUMER, IMAGE): 1}
    assert entries_by_key(owner, after) == {}


def test_unknown_resource_types_are_refused(aws, control):
    control.post("/config", {"report_resource_types": "sdk-latest"})
    owner = aws("ec2")
    ami = register_ami(owner)
    for rtype in ("ssm:Parameter", "autoscaling:LaunchConfiguration", "imagebuilder:Image"):
        with pytest.raises(ClientError) as err:
            owner.create_image_usage_report(ImageId=ami, ResourceTypes=[{"ResourceType": rtype}])
        assert err.value.response["Error"]["Code"] == "InvalidParameterValue", rtype
    with pytest.raises(ClientError) as err:
        owner.create_image_usage_report(
            ImageId=ami,
            ResourceTypes=[
                {"ResourceType": IMAGE, "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["2"]}]}
            ],
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_references_list_the_callers_recipes(aws):
    owner = aws("ec2")
    ami, other = register_ami(owner, "a"), register_ami(owner, "b")
    ib = aws("imagebuilder")
    image_arn = image_recipe(ib, ami)["imageRecipeArn"]
    container_arn = container_recipe(ib, ami)["containerRecipeArn"]
    image_recipe(ib, other, name="unrelated")
    assert _refs(owner, [ami], IncludeAllResourceTypes=True) == [
        (ami, CONTAINER, container_arn),
        (ami, IMAGE, image_arn),
    ]
    assert _refs(owner, [ami], ResourceTypes=[{"ResourceType": IMAGE}]) == [(ami, IMAGE, image_arn)]
    assert _refs(owner, [ami], ResourceTypes=[{"ResourceType": "ec2:Instance"}]) == []
    assert image_arn == f"arn:aws:imagebuilder:{REGION}:{OWNER}:image-recipe/web/1.0.0"


def test_a_member_probe_sees_its_own_references_to_a_shared_image(aws):
    owner = aws("ec2")
    ami = register_ami(owner)
    share(owner, ami, CONSUMER)
    member = aws("ec2", account=CONSUMER)
    instance = member.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    lt = member.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": ami})
    aws("ssm", account=CONSUMER).put_parameter(Name="/golden", Value=ami, Type="String", DataType="aws:ec2:image")
    recipe = image_recipe(aws("imagebuilder", account=CONSUMER), ami)["imageRecipeArn"]
    owner.create_launch_template(LaunchTemplateName="owners", LaunchTemplateData={"ImageId": ami})
    prefix = f"arn:aws:ec2:{REGION}:{CONSUMER}"
    assert _refs(member, [ami], IncludeAllResourceTypes=True) == [
        (ami, "ec2:Instance", f"{prefix}:instance/{instance}"),
        (ami, "ec2:LaunchTemplate", f"{prefix}:launch-template/{lt['LaunchTemplate']['LaunchTemplateId']}"),
        (ami, IMAGE, recipe),
        (ami, "ssm:Parameter", f"arn:aws:ssm:{REGION}:{CONSUMER}:parameter/golden"),
    ]
    assert [t for _, t, _ in _refs(owner, [ami], IncludeAllResourceTypes=True)] == ["ec2:LaunchTemplate"]
