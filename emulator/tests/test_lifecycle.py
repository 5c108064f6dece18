"""Report states, expiry, idempotency, quotas, validation and deletion."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError
from emu_helpers import BOTH_TYPES, register_ami, share


def _code(call, *args, **kwargs):
    with pytest.raises(ClientError) as err:
        call(*args, **kwargs)
    return err.value.response["Error"]["Code"]


def _state(ec2, rid):
    [r] = ec2.describe_image_usage_reports(ReportIds=[rid])["ImageUsageReports"]
    return r


def test_pending_until_ready_then_available(aws, control):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    share(ec2, ami, "111111111111")
    aws("ec2", account="111111111111").run_instances(ImageId=ami, MinCount=1, MaxCount=1)
    control.post("/config", {"report_ready_after_seconds": 600})
    rid = ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    assert _state(ec2, rid)["State"] == "pending"
    # a pending report shows no entries yet
    assert ec2.describe_image_usage_report_entries(ReportIds=[rid])["ImageUsageReportEntries"] == []
    control.post("/clock", {"advance_seconds": 599})
    assert _state(ec2, rid)["State"] == "pending"
    control.post("/clock", {"advance_seconds": 2})
    assert _state(ec2, rid)["State"] == "available"
    entries = ec2.describe_image_usage_report_entries(ReportIds=[rid])["ImageUsageReportEntries"]
    assert [(e["AccountId"], e["UsageCount"]) for e in entries] == [("111111111111", 1)]


def test_default_is_available_at_once(aws):
    ec2 = aws("ec2")
    rid = ec2.create_image_usage_report(ImageId=register_ami(ec2), ResourceTypes=BOTH_TYPES)["ReportId"]
    assert _state(ec2, rid)["State"] == "available"


def test_error_images(aws, control):
    ec2 = aws("ec2")
    bad, good = register_ami(ec2, "bad"), register_ami(ec2, "good")
    control.post("/config", {"error_images": {bad: "Internal failure while collecting usage"}})
    rid = ec2.create_image_usage_report(ImageId=bad, ResourceTypes=BOTH_TYPES)["ReportId"]
    report = _state(ec2, rid)
    assert report["State"] == "error"
    assert report["StateReason"] == "Internal failure while collecting usage"
    assert ec2.describe_image_usage_report_entries(ReportIds=[rid])["ImageUsageReportEntries"] == []
    rid = ec2.create_image_usage_report(ImageId=good, ResourceTypes=BOTH_TYPES)["ReportId"]
    assert _state(ec2, rid)["State"] == "available"


def test_expiry_after_thirty_days(aws, control):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    share(ec2, ami, "111111111111")
    aws("ec2", account="111111111111").run_instances(ImageId=ami, MinCount=1, MaxCount=1)
    rid = ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    report = _state(ec2, rid)
    assert report["ExpirationTime"] - report["CreationTime"] == timedelta(days=30)
    control.post("/clock", {"advance_seconds": 30 * 86400 - 5})
    assert _state(ec2, rid)["State"] == "available"
    control.post("/clock", {"advance_seconds": 10})
    assert ec2.describe_image_usage_reports()["ImageUsageReports"] == []
    assert ec2.describe_image_usage_report_entries()["ImageUsageReportEntries"] == []
    assert _code(ec2.describe_image_usage_reports, ReportIds=[rid]) == "InvalidImageUsageReportId.NotFound"
    assert _code(ec2.delete_image_usage_report, ReportId=rid) == "InvalidImageUsageReportId.NotFound"


def test_creation_time_follows_the_emulator_clock(aws, control):
    ec2 = aws("ec2")
    control.post("/clock", {"advance_seconds": 400 * 86400})
    now = control.get("/clock")["now"]
    rid = ec2.create_image_usage_report(ImageId=register_ami(ec2), ResourceTypes=BOTH_TYPES)["ReportId"]
    created = _state(ec2, rid)["CreationTime"]
    assert created.strftime("%Y-%m-%d") == now[:10]
    reports = control.get("/reports")["reports"]
    assert reports[0]["CreationTime"][:19] == created.strftime("%Y-%m-%dT%H:%M:%S")
    assert reports[0]["CreationTime"][20:23] == f"{created.microsecond // 1000:03d}"


def test_client_token_idempotency(aws):
    ec2 = aws("ec2")
    ami, other = register_ami(ec2, "a"), register_ami(ec2, "b")
    first = ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES, ClientToken="tok-1")
    again = ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES, ClientToken="tok-1")
    assert first["ReportId"] == again["ReportId"]
    assert len(ec2.describe_image_usage_reports()["ImageUsageReports"]) == 1
    assert (
        _code(ec2.create_image_usage_report, ImageId=other, ResourceTypes=BOTH_TYPES, ClientToken="tok-1")
        == "IdempotentParameterMismatch"
    )
    assert (
        _code(
            ec2.create_image_usage_report,
            ImageId=ami,
            AccountIds=["111111111111"],
            ResourceTypes=BOTH_TYPES,
            ClientToken="tok-1",
        )
        == "IdempotentParameterMismatch"
    )
    # a replay after deletion still answers the original id (EC2 idempotency), never a new report
    ec2.delete_image_usage_report(ReportId=first["ReportId"])
    assert (
        ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES, ClientToken="tok-1")["ReportId"]
        == first["ReportId"]
    )
    assert ec2.describe_image_usage_reports()["ImageUsageReports"] == []
    # a fresh token is a fresh report
    assert (
        ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES, ClientToken="tok-2")["ReportId"]
        != first["ReportId"]
    )
    # tokens are scoped to the account: another owner may use the same one
    other = aws("ec2", account="444444444444")
    theirs = other.create_image_usage_report(
        ImageId=register_ami(other), ResourceTypes=BOTH_TYPES, ClientToken="tok-1"
    )["ReportId"]
    assert theirs != first["ReportId"]


def test_client_token_replays_while_pending(aws, control):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    control.post("/config", {"report_ready_after_seconds": 60})
    rid = ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES, ClientToken="t")["ReportId"]
    # an SDK retry (same token) is not a second pending report
    assert ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES, ClientToken="t")["ReportId"] == rid


def test_one_pending_report_per_image(aws, control):
    ec2 = aws("ec2")
    ami, other = register_ami(ec2, "a"), register_ami(ec2, "b")
    control.post("/config", {"report_ready_after_seconds": 60})
    ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)
    with pytest.raises(ClientError) as err:
        ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)
    assert err.value.response["Error"]["Code"] == "IncorrectState"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    ec2.create_image_usage_report(ImageId=other, ResourceTypes=BOTH_TYPES)  # other AMI: fine
    control.post("/clock", {"advance_seconds": 61})
    ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)  # no longer pending
    states = sorted(r["State"] for r in ec2.describe_image_usage_reports()["ImageUsageReports"])
    assert states == ["available", "available", "pending"]


def test_pending_quota_per_account(aws, control):
    ec2 = aws("ec2")
    amis = [register_ami(ec2, f"i{i}") for i in range(4)]
    control.post("/config", {"report_ready_after_seconds": 60, "max_pending_reports_per_account": 3})
    for ami in amis[:3]:
        ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)
    assert _code(ec2.create_image_usage_report, ImageId=amis[3], ResourceTypes=BOTH_TYPES) == "ResourceLimitExceeded"
    # the quota is per account: another owner is unaffected
    other = aws("ec2", account="444444444444")
    other.create_image_usage_report(ImageId=register_ami(other), ResourceTypes=BOTH_TYPES)
    control.post("/clock", {"advance_seconds": 61})
    ec2.create_image_usage_report(ImageId=amis[3], ResourceTypes=BOTH_TYPES)


def test_delete(aws):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    keep = ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    gone = ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    assert ec2.delete_image_usage_report(ReportId=gone)["Return"] is True
    assert [r["ReportId"] for r in ec2.describe_image_usage_reports()["ImageUsageReports"]] == [keep]
    assert _code(ec2.delete_image_usage_report, ReportId=gone) == "InvalidImageUsageReportId.NotFound"
    assert _code(ec2.delete_image_usage_report, ReportId="rep-1") == "InvalidImageUsageReportId.Malformed"
    # another account cannot see or delete it
    other = aws("ec2", account="111111111111")
    assert _code(other.delete_image_usage_report, ReportId=keep) == "InvalidImageUsageReportId.NotFound"
    assert other.describe_image_usage_reports()["ImageUsageReports"] == []


def test_dry_run(aws):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    assert _code(ec2.create_image_usage_report, ImageId=ami, ResourceTypes=BOTH_TYPES, DryRun=True) == "DryRunOperation"
    assert ec2.describe_image_usage_reports()["ImageUsageReports"] == []
    assert _code(ec2.describe_image_usage_reports, DryRun=True) == "DryRunOperation"


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"ResourceTypes": []}, "MissingParameter"),
        ({"ResourceTypes": [{"ResourceType": "ec2:Volume"}]}, "InvalidParameterValue"),
        (
            {"ResourceTypes": [{"ResourceType": "ec2:Instance"}, {"ResourceType": "ec2:Instance"}]},
            "InvalidParameterValue",
        ),
        (
            {
                "ResourceTypes": [
                    {
                        "ResourceType": "ec2:Instance",
                        "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["3"]}],
                    }
                ]
            },
            "InvalidParameterValue",
        ),
        (
            {
                "ResourceTypes": [
                    {
                        "ResourceType": "ec2:LaunchTemplate",
                        "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["0"]}],
                    }
                ]
            },
            "InvalidParameterValue",
        ),
        (
            {
                "ResourceTypes": [
                    {
                        "ResourceType": "ec2:LaunchTemplate",
                        "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["10001"]}],
                    }
                ]
            },
            "InvalidParameterValue",
        ),
        (
            {
                "ResourceTypes": [
                    {
                        "ResourceType": "ec2:LaunchTemplate",
                        "ResourceTypeOptions": [{"OptionName": "depth", "OptionValues": ["5"]}],
                    }
                ]
            },
            "InvalidParameterValue",
        ),
        ({"AccountIds": ["12345"]}, "InvalidParameterValue"),
        ({"AccountIds": [f"{i:012d}" for i in range(201)]}, "InvalidParameterValue"),
        (
            {"TagSpecifications": [{"ResourceType": "image", "Tags": [{"Key": "a", "Value": "b"}]}]},
            "InvalidParameterValue",
        ),
    ],
)
def test_validation(aws, kwargs, code):
    ec2 = aws("ec2", parameter_validation=False)  # let the server, not botocore, judge
    args = {"ImageId": register_ami(ec2), "ResourceTypes": BOTH_TYPES, **kwargs}
    assert _code(ec2.create_image_usage_report, **args) == code
    assert ec2.describe_image_usage_reports()["ImageUsageReports"] == []


def test_version_depth_bounds_are_accepted(aws):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    for depth in ("1", "10000"):
        rid = ec2.create_image_usage_report(
            ImageId=ami,
            ResourceTypes=[
                {
                    "ResourceType": "ec2:LaunchTemplate",
                    "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": [depth]}],
                }
            ],
        )["ReportId"]
        assert _state(ec2, rid)["ResourceTypes"][0]["ResourceTypeOptions"][0]["OptionValues"] == [depth]
