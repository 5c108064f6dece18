"""Every request checked against botocore's model of its operation (``validation/``).

boto3 checks only required members, types and minimums before it sends; the service
checks enums, maximums, patterns and the values its documentation states.  These tests
send what boto3 lets through (or raw requests) and expect the service's error code for
the protocol: EC2's ``InvalidParameterValue`` / ``MissingParameter`` /
``UnknownParameter``, SNS's ``InvalidParameter``, the query services' ``ValidationError``,
the JSON services' ``ValidationException``, S3's ``InvalidArgument``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError
from emu_helpers import BOTH_TYPES, register_ami

ROOT = Path(__file__).resolve().parents[2]
RECIPE_TYPES = [{"ResourceType": "imagebuilder:ImageRecipe"}, {"ResourceType": "imagebuilder:ContainerRecipe"}]


def _code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as err:
        call(*args, **kwargs)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return err.value.response["Error"]["Code"]


def _raw_ec2(endpoint: str, body: str) -> tuple[int, str]:
    r = requests.post(endpoint, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    return r.status_code, r.text


def test_enum_values_of_the_model_are_enforced(aws):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    assert _code(ec2.describe_image_attribute, ImageId=ami, Attribute="lastLaunched") == "InvalidParameterValue"
    assert ec2.describe_image_attribute(ImageId=ami, Attribute="description")["ImageId"] == ami


def test_maximum_lengths_of_the_model_are_enforced(aws):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    accounts = [f"{n:012d}" for n in range(201)]
    assert _code(ec2.create_image_usage_report, ImageId=ami, ResourceTypes=BOTH_TYPES, AccountIds=accounts) == (
        "InvalidParameterValue"
    )
    token = "t" * 129
    assert _code(ec2.create_image_usage_report, ImageId=ami, ResourceTypes=BOTH_TYPES, ClientToken=token) == (
        "InvalidParameterValue"
    )
    eleven = [ami] * 11
    assert _code(ec2.describe_image_references, ImageIds=eleven, IncludeAllResourceTypes=True) == (
        "InvalidParameterValue"
    )
    ec2.create_image_usage_report(
        ImageId=ami, ResourceTypes=BOTH_TYPES, AccountIds=accounts[:200], ClientToken="t" * 128
    )


def test_missing_and_unknown_parameters_on_the_wire(endpoint):
    status, body = _raw_ec2(endpoint, "Action=DescribeImageAttribute&Version=2016-11-15&Attribute=description")
    assert status == 400 and "<Code>MissingParameter</Code>" in body and "ImageId" in body
    status, body = _raw_ec2(endpoint, "Action=DescribeImages&Version=2016-11-15&Owner.1=self&IncludeDeprecate=true")
    assert status == 400 and "<Code>UnknownParameter</Code>" in body and "IncludeDeprecate" in body
    status, body = _raw_ec2(endpoint, "Action=DescribeImages&Version=2016-11-15&Owner.1=self&IncludeDeprecated=true")
    assert status == 200, body


def test_report_resource_types_default_to_the_api_reference(aws, control):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    for rtype in RECIPE_TYPES:
        assert _code(ec2.create_image_usage_report, ImageId=ami, ResourceTypes=BOTH_TYPES + [rtype]) == (
            "InvalidParameterValue"
        )
    ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)  # the product's retry: accepted
    assert control.get("/config")["report_resource_types"] == "api-reference"


def test_report_resource_types_of_the_newest_sdk_docs(aws, control):
    control.post("/config", {"report_resource_types": "sdk-latest"})
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    rid = ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES + RECIPE_TYPES)["ReportId"]
    [report] = ec2.describe_image_usage_reports(ReportIds=[rid])["ImageUsageReports"]
    assert [t["ResourceType"] for t in report["ResourceTypes"]][2:] == [r["ResourceType"] for r in RECIPE_TYPES]
    for rtype in ("ssm:Parameter", "autoscaling:LaunchConfiguration"):
        assert _code(ec2.create_image_usage_report, ImageId=ami, ResourceTypes=[{"ResourceType": rtype}]) == (
            "InvalidParameterValue"
        )
    r = requests.post(control.base + "/config", json={"report_resource_types": "everything"}, timeout=30)
    assert r.status_code == 400


@pytest.mark.parametrize(
    "resource_types",
    [
        [
            {
                "ResourceType": "ec2:LaunchTemplate",
                "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["0"]}],
            }
        ],
        [
            {
                "ResourceType": "ec2:LaunchTemplate",
                "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["10001"]}],
            }
        ],
        [
            {
                "ResourceType": "ec2:LaunchTemplate",
                "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["2", "3"]}],
            }
        ],
        [
            {
                "ResourceType": "ec2:LaunchTemplate",
                "ResourceTypeOptions": [{"OptionName": "depth", "OptionValues": ["2"]}],
            }
        ],
        [
            {
                "ResourceType": "ec2:Instance",
                "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["2"]}],
            }
        ],
    ],
)
def test_report_options_take_the_documented_values(aws, resource_types):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    assert _code(ec2.create_image_usage_report, ImageId=ami, ResourceTypes=resource_types) == "InvalidParameterValue"


def test_report_tag_specifications_and_account_ids(aws):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    tags = [{"ResourceType": "image", "Tags": [{"Key": "a", "Value": "b"}]}]
    assert _code(ec2.create_image_usage_report, ImageId=ami, ResourceTypes=BOTH_TYPES, TagSpecifications=tags) == (
        "InvalidParameterValue"
    )
    assert _code(ec2.create_image_usage_report, ImageId=ami, ResourceTypes=BOTH_TYPES, AccountIds=["12345"]) == (
        "InvalidParameterValue"
    )


def test_filter_names_of_the_describe_actions(aws):
    ec2 = aws("ec2")
    bad = [{"Name": "status", "Values": ["available"]}]
    assert _code(ec2.describe_image_usage_reports, Filters=bad) == "InvalidParameterValue"
    assert _code(ec2.describe_image_usage_report_entries, Filters=bad) == "InvalidParameterValue"
    assert _code(ec2.describe_image_usage_report_entries, Filters=[{"Name": "state", "Values": ["x"]}]) == (
        "InvalidParameterValue"
    )
    ok = [{"Name": "state", "Values": ["available"]}, {"Name": "tag:team", "Values": ["a"]}]
    assert ec2.describe_image_usage_reports(Filters=ok)["ImageUsageReports"] == []


def test_references_options_take_the_documented_values(aws):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    for rtype, name, values in (
        ("ec2:Instance", "state-name", ["sleeping"]),
        ("ec2:Instance", "version-depth", ["3"]),
        ("ec2:LaunchTemplate", "version-depth", ["0"]),
        ("ssm:Parameter", "state-name", ["running"]),
    ):
        types = [{"ResourceType": rtype, "ResourceTypeOptions": [{"OptionName": name, "OptionValues": values}]}]
        assert _code(ec2.describe_image_references, ImageIds=[ami], ResourceTypes=types) == "InvalidParameterValue"
    assert _code(ec2.describe_image_references, ImageIds=[ami]) == "MissingParameter"


def test_a_refused_mutating_call_is_logged(aws, control):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    _code(ec2.create_image_usage_report, ImageId=ami, ResourceTypes=RECIPE_TYPES)
    [call] = [c for c in control.get("/calls")["calls"] if c["action"] == "CreateImageUsageReport"]
    assert call["status"] == 400 and call["fault"] is None


def test_json_rest_json_and_query_services(aws):
    assert _code(aws("ssm").get_parameters_by_path, Path="/amis", MaxResults=11) == "ValidationException"
    assert _code(aws("rbin").list_rules, ResourceType="EC2_IMAGE", MaxResults=1001) == "ValidationException"
    with pytest.raises(ClientError) as err:
        aws("rbin").list_rules(ResourceType="EC2_AMI")
    assert "failed to satisfy constraint: Member must satisfy enum value set" in str(err.value)
    sts = aws("sts")
    arn = "arn:aws:iam::111111111111:role/x"
    assert _code(sts.assume_role, RoleArn=arn, RoleSessionName="session", DurationSeconds=43201) == "ValidationError"
    assert sts.assume_role(RoleArn=arn, RoleSessionName="session", DurationSeconds=43200)["Credentials"]


def test_s3_object_calls(aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket="validation-bucket")
    assert (
        _code(s3.put_object, Bucket="validation-bucket", Key="k", Body=b"x", StorageClass="COLD") == "InvalidArgument"
    )
    s3.put_object(Bucket="validation-bucket", Key="k", Body=b"x", StorageClass="STANDARD_IA")
    assert s3.get_object(Bucket="validation-bucket", Key="k")["Body"].read() == b"x"


def test_the_aws_cli_gets_the_model_error(cli_env, aws):
    ami = register_ami(aws("ec2"))
    proc = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "aws"),
            "ec2",
            "describe-image-attribute",
            "--image-id",
            ami,
            "--attribute",
            "kernl",
        ],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "InvalidParameterValue" in proc.stderr, proc.stderr
