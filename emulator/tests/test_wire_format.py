"""The four actions on the wire: boto3, the real `aws` CLI and the raw XML agree with botocore's model."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore.session
import pytest
from botocore.exceptions import ClientError
from emu_helpers import BOTH_TYPES, register_ami, share

NS = "{http://ec2.amazonaws.com/doc/2016-11-15/}"
AWS_CLI = str(Path(sys.executable).parent / "aws")


def _fleet(aws):
    owner = aws("ec2")
    ami = register_ami(owner)
    share(owner, ami, "111111111111")
    consumer = aws("ec2", account="111111111111")
    consumer.run_instances(ImageId=ami, MinCount=2, MaxCount=2)
    consumer.create_launch_template(LaunchTemplateName="lt", LaunchTemplateData={"ImageId": ami})
    rid = owner.create_image_usage_report(
        ImageId=ami,
        AccountIds=["111111111111", "222222222222"],
        ResourceTypes=[
            {"ResourceType": "ec2:Instance"},
            {
                "ResourceType": "ec2:LaunchTemplate",
                "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["7"]}],
            },
        ],
        TagSpecifications=[{"ResourceType": "image-usage-report", "Tags": [{"Key": "team", "Value": "platform"}]}],
    )["ReportId"]
    return owner, ami, rid


def test_boto3_parses_every_field(aws, control):
    owner, ami, rid = _fleet(aws)
    before = datetime.now(UTC)
    assert rid.startswith("amiur-") and len(rid) == len("amiur-") + 17
    int(rid[6:], 16)
    [report] = owner.describe_image_usage_reports(ReportIds=[rid])["ImageUsageReports"]
    assert report["ReportId"] == rid and report["ImageId"] == ami
    assert report["State"] == "available"
    assert report["AccountIds"] == ["111111111111", "222222222222"]
    assert report["ResourceTypes"] == [
        {"ResourceType": "ec2:Instance"},
        {
            "ResourceType": "ec2:LaunchTemplate",
            "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["7"]}],
        },
    ]
    assert report["Tags"] == [{"Key": "team", "Value": "platform"}]
    assert isinstance(report["CreationTime"], datetime)
    assert report["ExpirationTime"] - report["CreationTime"] == timedelta(days=30)
    assert abs(report["CreationTime"] - before) < timedelta(seconds=30)
    assert "StateReason" not in report

    entries = owner.describe_image_usage_report_entries(ReportIds=[rid])["ImageUsageReportEntries"]
    assert [(e["AccountId"], e["ResourceType"], e["UsageCount"]) for e in entries] == [
        ("111111111111", "ec2:Instance", 2),
        ("111111111111", "ec2:LaunchTemplate", 1),
    ]
    for e in entries:
        assert e["ReportId"] == rid and e["ImageId"] == ami
        assert e["ReportCreationTime"] == report["CreationTime"]
        assert isinstance(e["UsageCount"], int)
    assert owner.delete_image_usage_report(ReportId=rid)["Return"] is True


def _raw(client, op, **kwargs):
    captured = {}

    def grab(http_response, **_):
        captured["status"] = http_response.status_code
        captured["body"] = http_response.content

    client.meta.events.register("after-call.ec2." + op, grab)
    client.meta.events.register("after-call-error.ec2." + op, grab)
    try:
        getattr(client, botocore.xform_name(op))(**kwargs)
    except ClientError:
        pass
    return captured["status"], captured["body"]


def _allowed_names(shape, out=None):
    """Every XML element name the model allows below ``shape``."""
    out = set() if out is None else out
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            out.add(member.serialization.get("name", name))
            _allowed_names(member, out)
    elif shape.type_name == "list":
        out.add(shape.member.serialization.get("name", "member"))
        _allowed_names(shape.member, out)
    return out


@pytest.mark.parametrize(
    "op",
    [
        "CreateImageUsageReport",
        "DescribeImageUsageReports",
        "DescribeImageUsageReportEntries",
        "DeleteImageUsageReport",
    ],
)
def test_raw_xml_matches_the_botocore_model(aws, op):
    owner, ami, rid = _fleet(aws)
    kwargs = {
        "CreateImageUsageReport": {"ImageId": ami, "ResourceTypes": BOTH_TYPES},
        "DeleteImageUsageReport": {"ReportId": rid},
    }.get(op, {})
    if op == "CreateImageUsageReport":
        owner.delete_image_usage_report(ReportId=rid)
    status, body = _raw(owner, op, **kwargs)
    assert status == 200, body
    root = ET.fromstring(body)
    assert root.tag == f"{NS}{op}Response"
    model = botocore.session.get_session().get_service_model("ec2").operation_model(op)
    allowed = _allowed_names(model.output_shape) | {"requestId"}
    seen = {el.tag.removeprefix(NS) for el in root.iter()} - {f"{op}Response"}
    assert seen <= allowed, seen - allowed
    assert root.find(f"{NS}requestId").text.count("-") == 4  # a UUID, not a placeholder
    if op == "DescribeImageUsageReports":
        created = root.find(f".//{NS}creationTime").text
        assert len(created) == len("2025-11-29T11:04:43.305Z") and created.endswith("Z")


def test_ec2_error_envelope(aws):
    status, body = _raw(aws("ec2"), "DeleteImageUsageReport", ReportId="amiur-0123456789abcdef0")
    assert status == 400
    root = ET.fromstring(body)
    assert root.tag == "Response"
    assert root.find("Errors/Error/Code").text == "InvalidImageUsageReportId.NotFound"
    assert "amiur-0123456789abcdef0" in root.find("Errors/Error/Message").text
    assert root.find("RequestID").text


def _cli(env, *args):
    proc = subprocess.run(
        [AWS_CLI, "ec2", *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=120
    )
    return proc


@pytest.mark.slow
def test_aws_cli_round_trip(aws, cli_env):
    owner, ami, rid = _fleet(aws)
    # create through the CLI too (shorthand syntax for the nested lists)
    owner.delete_image_usage_report(ReportId=rid)
    proc = _cli(
        cli_env,
        "create-image-usage-report",
        "--image-id",
        ami,
        "--resource-types",
        "ResourceType=ec2:Instance",
        "ResourceType=ec2:LaunchTemplate,ResourceTypeOptions=[{OptionName=version-depth,OptionValues=[3]}]",
        "--tag-specifications",
        "ResourceType=image-usage-report,Tags=[{Key=via,Value=cli}]",
    )
    assert proc.returncode == 0, proc.stderr
    cli_rid = json.loads(proc.stdout)["ReportId"]

    proc = _cli(cli_env, "describe-image-usage-reports", "--report-ids", cli_rid)
    assert proc.returncode == 0, proc.stderr
    [report] = json.loads(proc.stdout)["ImageUsageReports"]
    assert set(report) == {
        "ImageId",
        "ReportId",
        "ResourceTypes",
        "AccountIds",
        "State",
        "CreationTime",
        "ExpirationTime",
        "Tags",
    }
    assert report["ImageId"] == ami and report["State"] == "available"
    assert report["ResourceTypes"][1]["ResourceTypeOptions"] == [{"OptionName": "version-depth", "OptionValues": ["3"]}]
    assert report["Tags"] == [{"Key": "via", "Value": "cli"}]
    created = datetime.fromisoformat(report["CreationTime"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(report["ExpirationTime"].replace("Z", "+00:00"))
    assert expires - created == timedelta(days=30)

    proc = _cli(cli_env, "describe-image-usage-report-entries", "--report-ids", cli_rid)
    assert proc.returncode == 0, proc.stderr
    entries = json.loads(proc.stdout)["ImageUsageReportEntries"]
    assert {(e["AccountId"], e["ResourceType"], e["UsageCount"]) for e in entries} == {
        ("111111111111", "ec2:Instance", 2),
        ("111111111111", "ec2:LaunchTemplate", 1),
    }
    for e in entries:
        assert set(e) == {"ResourceType", "ReportId", "UsageCount", "AccountId", "ImageId", "ReportCreationTime"}
        assert e["ReportCreationTime"] == report["CreationTime"]

    proc = _cli(cli_env, "delete-image-usage-report", "--report-id", cli_rid)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"Return": True}
    proc = _cli(cli_env, "delete-image-usage-report", "--report-id", cli_rid)
    assert proc.returncode != 0 and "InvalidImageUsageReportId.NotFound" in proc.stderr


def test_aws_cli_paginates_with_next_token(aws, cli_env, control):
    owner = aws("ec2")
    amis = [register_ami(owner, f"img{i}") for i in range(5)]
    for ami in amis:
        owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)
    control.post("/config", {"max_results_cap": 2})
    # the CLI follows NextToken itself: 3 pages of at most 2 -> all 5 reports
    proc = _cli(cli_env, "describe-image-usage-reports")
    assert proc.returncode == 0, proc.stderr
    assert sorted(r["ImageId"] for r in json.loads(proc.stdout)["ImageUsageReports"]) == sorted(amis)
    proc = _cli(cli_env, "describe-image-usage-reports", "--no-paginate")
    page = json.loads(proc.stdout)
    assert len(page["ImageUsageReports"]) == 2 and page["NextToken"]
