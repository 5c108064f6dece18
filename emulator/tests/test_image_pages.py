"""DescribeImages paging (MaxResults / NextToken), its wire format, and its speed at scale."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from emu_helpers import OWNER, REGION, register_ami

AWS_CLI = str(Path(sys.executable).parent / "aws")
EMULATOR = Path(__file__).resolve().parents[1]
MINE = {"Owners": ["self"], "Filters": [{"Name": "tag:team", "Values": ["platform"]}]}


def _code(call, **kwargs):
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"]


def _amis(ec2, n, tags=None):
    return [register_ami(ec2, f"p{i}", tags or {"team": "platform"}) for i in range(n)]


def _pages(ec2, size, **kwargs):
    pages, token = [], None
    while True:
        resp = ec2.describe_images(MaxResults=size, **kwargs, **({"NextToken": token} if token else {}))
        pages.append([i["ImageId"] for i in resp["Images"]])
        token = resp.get("NextToken")
        if not token:
            return pages


def test_pages_are_complete_ordered_and_end_without_a_token(aws):
    ec2 = aws("ec2")
    made = _amis(ec2, 12)
    _amis(ec2, 2, {"team": "other"})
    pages = _pages(ec2, 5, **MINE)
    assert [len(p) for p in pages] == [5, 5, 2]
    assert sum(pages, []) == sorted(made)
    # Without MaxResults: everything in one answer, as EC2's unpaginated call.
    whole = ec2.describe_images(**MINE)
    assert [i["ImageId"] for i in whole["Images"]] == sorted(made) and "NextToken" not in whole
    # An exact fit ends without a token too.
    assert [len(p) for p in _pages(ec2, 6, **MINE)] == [6, 6]


def test_the_sdk_paginator_and_block_device_fields_survive_paging(aws):
    ec2 = aws("ec2")
    made = _amis(ec2, 7)
    seen = []
    for page in ec2.get_paginator("describe_images").paginate(**MINE, PaginationConfig={"PageSize": 5}):
        seen += page["Images"]
    assert [i["ImageId"] for i in seen] == sorted(made)
    # moto_fixes' RegisterImage fields are intact on every page.
    for image in seen:
        [bdm] = image["BlockDeviceMappings"]
        assert bdm["DeviceName"] == "/dev/xvda" and bdm["Ebs"]["VolumeSize"] == 8
        assert bdm["Ebs"]["DeleteOnTermination"] is True and bdm["Ebs"]["VolumeType"] == "gp2"
        assert image["PlatformDetails"] == "Linux/UNIX" and image["UsageOperation"] == "RunInstances"
        assert image["Tags"] == [{"Key": "team", "Value": "platform"}] and image["RootDeviceType"] == "ebs"


@pytest.mark.parametrize("size", [0, 4, 1001, -1])
def test_max_results_outside_5_to_1000_is_refused(aws, size):
    assert _code(aws("ec2").describe_images, Owners=["self"], MaxResults=size) == "InvalidParameterValue"


def test_max_results_bounds_and_image_ids_are_accepted(aws):
    ec2 = aws("ec2")
    made = _amis(ec2, 6)
    assert ec2.describe_images(Owners=["self"], MaxResults=1000)["Images"]
    assert len(ec2.describe_images(Owners=["self"], MaxResults=5)["Images"]) == 5
    # EC2 forbids MaxResults with ids for DescribeInstances, not for DescribeImages.
    assert [len(p) for p in _pages(ec2, 5, ImageIds=made)] == [5, 1]


def test_bad_and_foreign_tokens_are_refused(aws):
    ec2 = aws("ec2")
    ami = _amis(ec2, 6)[0]
    token = ec2.describe_images(MaxResults=5, **MINE)["NextToken"]
    assert _code(ec2.describe_images, MaxResults=5, NextToken="not-a-token", **MINE) == "InvalidPaginationToken"
    # Minted for other parameters, another account or Region, or another action.
    assert _code(ec2.describe_images, MaxResults=5, NextToken=token, Owners=["self"]) == "InvalidPaginationToken"
    other = aws("ec2", account="111111111111")
    assert _code(other.describe_images, MaxResults=5, NextToken=token, **MINE) == "InvalidPaginationToken"
    west = aws("ec2", region="us-west-2")
    assert _code(west.describe_images, MaxResults=5, NextToken=token, **MINE) == "InvalidPaginationToken"
    ec2.create_image_usage_report(ImageId=ami, ResourceTypes=[{"ResourceType": "ec2:Instance"}])
    ec2.create_image_usage_report(ImageId=_amis(ec2, 1)[0], ResourceTypes=[{"ResourceType": "ec2:Instance"}])
    report_token = ec2.describe_image_usage_reports(MaxResults=1)["NextToken"]
    assert _code(ec2.describe_images, MaxResults=5, NextToken=report_token, **MINE) == "InvalidPaginationToken"
    # The token stays good for its own query.
    assert ec2.describe_images(MaxResults=5, NextToken=token, **MINE)["Images"]


def test_changes_between_pages_neither_skip_nor_repeat_the_others(aws):
    ec2 = aws("ec2")
    made = sorted(_amis(ec2, 10))
    first = ec2.describe_images(MaxResults=5, **MINE)
    assert [i["ImageId"] for i in first["Images"]] == made[:5]
    ec2.deregister_image(ImageId=made[6])
    ec2.create_tags(Resources=[made[7]], Tags=[{"Key": "team", "Value": "other"}])
    rest = ec2.describe_images(MaxResults=5, NextToken=first["NextToken"], **MINE)
    assert [i["ImageId"] for i in rest["Images"]] == [made[5], made[8], made[9]]
    assert "NextToken" not in rest
    # A fresh listing sees a newly tagged and a newly registered AMI (no stale cache).
    ec2.create_tags(Resources=[made[7]], Tags=[{"Key": "team", "Value": "platform"}])
    new = _amis(ec2, 1)[0]
    assert sum(_pages(ec2, 5, **MINE), []) == sorted([*made[:6], *made[7:], new])


def test_the_raw_page_carries_next_token_and_the_cli_follows_it(aws, cli_env):
    ec2 = aws("ec2")
    made = _amis(ec2, 7)
    captured = {}

    def grab(http_response, **_):
        captured["body"] = http_response.content

    ec2.meta.events.register("after-call.ec2.DescribeImages", grab)
    ec2.describe_images(MaxResults=5, **MINE)
    body = captured["body"]
    assert body.startswith(
        b'<?xml version="1.0" encoding="utf-8"?>\n<DescribeImagesResponse '
        b'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><nextToken>'
    )
    assert body.count(b"<imageId>") == 5 and b"<requestId>request-id<" not in body
    proc = subprocess.run(
        [
            AWS_CLI,
            "ec2",
            "describe-images",
            "--owners",
            "self",
            "--filters",
            "Name=tag:team,Values=platform",
            "--page-size",
            "5",
            "--output",
            "json",
        ],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(i["ImageId"] for i in json.loads(proc.stdout)["Images"]) == sorted(made)


@pytest.mark.slow
def test_ten_thousand_tagged_amis_page_in_seconds(aws, control):
    seeded = control.post("/synthetic", {"amis": 10_000, "entries_per_report": 0})
    ec2 = aws("ec2")
    started, seen, pages = time.monotonic(), [], 0
    for page in ec2.get_paginator("describe_images").paginate(
        Owners=["self"], Filters=[{"Name": "tag:Synthetic", "Values": ["true"]}], PaginationConfig={"PageSize": 1000}
    ):
        seen += [i["ImageId"] for i in page["Images"]]
        pages += 1
    elapsed = time.monotonic() - started
    assert pages == 10 and seen == sorted(seeded["image_ids"])
    # About 2 s in the emulator plus boto3's parsing (moto's own path: minutes).
    assert elapsed < 30, f"paging 10,000 AMIs took {elapsed:.1f}s"


@pytest.mark.slow
def test_the_compiled_renderer_writes_motos_bytes():
    """ImageXml against moto's EC2 serializer, in-process, over every kind of image moto
    holds: its ~1,300 default Amazon AMIs (Windows, product codes...), RegisterImage with
    mappings and billing products, CreateImage, CopyImage, public, tagged with XML
    specials, deregistered neighbours."""
    sys.path.insert(0, str(EMULATOR))
    from ami_usage_emulator.moto_grafts.image_xml import ImageXml
    from ami_usage_emulator.moto_grafts.install import install
    from ami_usage_emulator.world import World
    from moto import mock_aws
    from moto.core.serialize import EC2Serializer, XFormedAttributePicker
    from moto.ec2.models import ec2_backends
    from moto.ec2.responses import EC2Response

    install(World())
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        registered = [register_ami(ec2, "a", {"team": "<plat&form>", "empty": ""}), register_ami(ec2, "b")]
        ec2.register_image(
            Name="rhel",
            BillingProducts=["bp-6fa54006"],
            RootDeviceName="/dev/sda1",
            BlockDeviceMappings=[
                {
                    "DeviceName": "/dev/sda1",
                    "Ebs": {
                        "SnapshotId": ec2.create_snapshot(
                            VolumeId=ec2.create_volume(Size=30, AvailabilityZone=REGION + "a")["VolumeId"]
                        )["SnapshotId"],
                        "VolumeType": "gp3",
                        "Iops": 3000,
                        "Encrypted": True,
                    },
                },
                {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
            ],
        )
        ec2.modify_image_attribute(ImageId=registered[1], LaunchPermission={"Add": [{"Group": "all"}]})
        default = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
        instance = ec2.run_instances(ImageId=default, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        ec2.create_image(InstanceId=instance, Name="from-instance", Description="a & b")
        ec2.copy_image(SourceImageId=registered[0], SourceRegion=REGION, Name="copy")
        ec2.deregister_image(ImageId=register_ami(ec2, "gone"))
        images = list(ec2_backends[OWNER][REGION].amis.values())
        assert len(images) > 1000
        operation = ImageXml().operation
        for token in (None, "eyJ0b2tlbiI6MX0="):
            serializer = EC2Serializer(
                operation_model=operation,
                value_picker=XFormedAttributePicker(response_transformers=EC2Response.RESPONSE_KEY_PATH_TO_TRANSFORMER),
            )
            expected = serializer.serialize({"Images": images, **({"NextToken": token} if token else {})})
            assert ImageXml().render(images, token) == expected["body"]
        empty = EC2Serializer(operation_model=operation).serialize({"Images": []})["body"]
        assert ImageXml().render([], None) == empty


# The report store's indexes (reports/store.py, _Bucket) replaced scans over every report;
# these pin the behaviour the scans had.


def test_report_pages_with_a_sparse_filter_and_a_delete_between_pages(aws):
    ec2 = aws("ec2")
    made = []
    for n, ami in enumerate(_amis(ec2, 9)):
        tags = [{"ResourceType": "image-usage-report", "Tags": [{"Key": "keep", "Value": "yes"}]}] if n % 3 == 0 else []
        made.append(
            ec2.create_image_usage_report(
                ImageId=ami, ResourceTypes=[{"ResourceType": "ec2:Instance"}], TagSpecifications=tags
            )["ReportId"]
        )
    kept = made[0::3]
    keep = [{"Name": "tag:keep", "Values": ["yes"]}]
    first = ec2.describe_image_usage_reports(Filters=keep, MaxResults=2)
    assert [r["ReportId"] for r in first["ImageUsageReports"]] == kept[:2] and first["NextToken"]
    ec2.delete_image_usage_report(ReportId=kept[1])
    rest = ec2.describe_image_usage_reports(Filters=keep, MaxResults=2, NextToken=first["NextToken"])
    assert [r["ReportId"] for r in rest["ImageUsageReports"]] == kept[2:] and "NextToken" not in rest
    exact = ec2.describe_image_usage_reports(Filters=keep, MaxResults=1)
    assert exact["NextToken"]  # two matches left: a page of one has a successor
    # Lookup by id answers in creation order whatever the request order, and names the missing.
    by_id = ec2.describe_image_usage_reports(ReportIds=[made[5], made[2]])["ImageUsageReports"]
    assert [r["ReportId"] for r in by_id] == [made[2], made[5]]
    assert _code(ec2.describe_image_usage_reports, ReportIds=[made[2], kept[1]]) == "InvalidImageUsageReportId.NotFound"


def test_pending_bookkeeping_follows_deletes_time_and_pending_images(aws, control):
    ec2 = aws("ec2")
    a, b, c = _amis(ec2, 3)
    one = [{"ResourceType": "ec2:Instance"}]
    control.post("/config", {"report_ready_after_seconds": 100, "max_pending_reports_per_account": 2})
    first = ec2.create_image_usage_report(ImageId=a, ResourceTypes=one)["ReportId"]
    assert _code(ec2.create_image_usage_report, ImageId=a, ResourceTypes=one) == "IncorrectState"
    ec2.delete_image_usage_report(ReportId=first)  # a deleted pending report no longer counts
    ec2.create_image_usage_report(ImageId=a, ResourceTypes=one)
    ec2.create_image_usage_report(ImageId=b, ResourceTypes=one)
    assert _code(ec2.create_image_usage_report, ImageId=c, ResourceTypes=one) == "ResourceLimitExceeded"
    control.post("/clock", {"advance_seconds": 100})
    control.post("/config", {"report_ready_after_seconds": 0})
    ec2.create_image_usage_report(ImageId=c, ResourceTypes=one)  # both are available now
    # An available report held pending by pending_images counts again, for its AMI and the quota.
    control.post("/config", {"pending_images": [a, b]})
    assert _code(ec2.create_image_usage_report, ImageId=a, ResourceTypes=one) == "IncorrectState"
    assert _code(ec2.create_image_usage_report, ImageId=c, ResourceTypes=one) == "ResourceLimitExceeded"
    control.post("/config", {"pending_images": []})
    ec2.create_image_usage_report(ImageId=a, ResourceTypes=one)
    # 30 days on, every report has expired and is gone from every call.
    control.post("/clock", {"advance_seconds": 30 * 86400})
    assert ec2.describe_image_usage_reports()["ImageUsageReports"] == []
