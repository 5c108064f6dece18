"""Injected API oddities (``POST /_emulator/oddities``): odd but well-formed answers,
parsed by boto3 exactly as AWS's would be."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from emu_helpers import BOTH_TYPES, register_ami, share

CONSUMER = "111111111111"


def _used_report(aws, control) -> tuple[object, str, str]:
    """An AMI used by one instance of a consumer, with its available report."""
    ec2 = aws("ec2")
    image = register_ami(ec2)
    share(ec2, image, CONSUMER)
    aws("ec2", account=CONSUMER).run_instances(ImageId=image, MinCount=1, MaxCount=1)
    control.post("/config", {"report_ready_after_seconds": 0})
    report = ec2.create_image_usage_report(ImageId=image, ResourceTypes=BOTH_TYPES)["ReportId"]
    return ec2, image, report


def test_extra_entries_and_missing_members_reach_the_client(aws, control):
    ec2, image, report = _used_report(aws, control)
    control.post(
        "/oddities",
        {
            "entry_extra": {
                image: [{"ResourceType": "ec2:SomethingNew", "AccountId": "222222222222", "UsageCount": 4}]
            },
            "report_drop_fields": {image: ["CreationTime"]},
        },
    )
    entries = ec2.describe_image_usage_report_entries(ReportIds=[report])["ImageUsageReportEntries"]
    by_type = {(e["AccountId"], e["ResourceType"]): e for e in entries}
    assert set(by_type) == {(CONSUMER, "ec2:Instance"), ("222222222222", "ec2:SomethingNew")}
    odd = by_type[("222222222222", "ec2:SomethingNew")]
    assert odd["UsageCount"] == 4 and odd["ReportId"] == report and odd["ImageId"] == image
    (listed,) = ec2.describe_image_usage_reports()["ImageUsageReports"]
    assert "CreationTime" not in listed and listed["ExpirationTime"] and listed["ReportId"] == report

    control.post("/oddities", {"entry_drop_fields": {image: ["AccountId", "UsageCount"]}})
    (entry,) = ec2.describe_image_usage_report_entries(ReportIds=[report])["ImageUsageReportEntries"]
    assert "AccountId" not in entry and "UsageCount" not in entry
    assert entry["ResourceType"] == "ec2:Instance"
    assert "CreationTime" in ec2.describe_image_usage_reports()["ImageUsageReports"][0]


def test_a_report_vanishes_once_between_describe_and_entries(aws, control):
    ec2, image, report = _used_report(aws, control)
    control.post("/oddities", {"vanish_before_entries": [image]})
    assert [r["ReportId"] for r in ec2.describe_image_usage_reports()["ImageUsageReports"]] == [report]
    with pytest.raises(ClientError) as err:
        ec2.describe_image_usage_report_entries(ReportIds=[report])
    assert err.value.response["Error"]["Code"] == "InvalidImageUsageReportId.NotFound"
    assert ec2.describe_image_usage_reports()["ImageUsageReports"] == []
    fired = control.get("/oddities")["fired"]
    assert fired == [{"oddity": "vanish_before_entries", "image_id": image, "report_id": report}]


def test_an_ami_is_deregistered_once_after_an_action(aws, control):
    ec2, image, report = _used_report(aws, control)
    control.post("/oddities", {"deregister_after": {"DescribeImageUsageReports": [image]}})
    assert ec2.describe_images(Owners=["self"])["Images"]  # other actions do not trigger it
    ec2.describe_image_usage_reports()
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    # The report outlives its AMI, as on AWS.
    assert [r["ReportId"] for r in ec2.describe_image_usage_reports()["ImageUsageReports"]] == [report]
    assert control.get("/oddities")["oddities"]["deregister_after"] == {}


@pytest.mark.parametrize(
    "body, needle",
    [
        ([], "JSON object"),
        ({"surprise": 1}, "unknown oddity"),
        ({"entry_extra": {"i-123": []}}, "keyed by AMI id"),
        ({"entry_extra": {"ami-1": {"ResourceType": "x"}}}, "must be a list"),
        ({"entry_extra": {"ami-1": [{"Bogus": 1}]}}, "entries take"),
        ({"entry_extra": {"ami-1": [{"UsageCount": -1}]}}, "UsageCount"),
        ({"entry_drop_fields": {"ami-1": ["Nope"]}}, "non-empty list"),
        ({"report_drop_fields": {"ami-1": []}}, "non-empty list"),
        ({"vanish_before_entries": "ami-1"}, "list of AMI ids"),
        ({"deregister_after": {"describeImages": ["ami-1"]}}, "EC2 action"),
    ],
)
def test_bad_configurations_are_rejected(control, body, needle):
    answer = control.post("/oddities", body, expect=400)
    assert needle in answer["error"]


def test_reset_clears_oddities(control):
    control.post("/oddities", {"vanish_before_entries": ["ami-1"]})
    control.post("/reset")
    assert control.get("/oddities") == {
        "oddities": {
            "entry_extra": {},
            "entry_drop_fields": {},
            "report_drop_fields": {},
            "vanish_before_entries": [],
            "deregister_after": {},
        },
        "fired": [],
    }
