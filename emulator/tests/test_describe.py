"""Describe*: selection by id, every filter, and MaxResults/NextToken paging."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from emu_helpers import BOTH_TYPES, register_ami, share


def _code(call, **kwargs):
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"]


def _ids(resp):
    return [r["ReportId"] for r in resp["ImageUsageReports"]]


def _reports(ec2, n, tags=None):
    out = []
    for i in range(n):
        ami = register_ami(ec2, f"n{i}")
        kwargs = {}
        if tags:
            kwargs["TagSpecifications"] = [
                {"ResourceType": "image-usage-report", "Tags": [{"Key": k, "Value": v} for k, v in tags[i].items()]}
            ]
        out.append((ami, ec2.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES, **kwargs)["ReportId"]))
    return out


@pytest.mark.slow
def test_report_paging_is_complete_and_stable(aws, control):
    ec2 = aws("ec2")
    made = [rid for _, rid in _reports(ec2, 12)]
    pages, token = [], None
    while True:
        resp = ec2.describe_image_usage_reports(MaxResults=5, **({"NextToken": token} if token else {}))
        pages.append(_ids(resp))
        token = resp.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [5, 5, 2]
    assert sum(pages, []) == made  # creation order, no gaps, no repeats
    # deleting an already-seen report between pages neither skips nor repeats
    first = ec2.describe_image_usage_reports(MaxResults=4)
    ec2.delete_image_usage_report(ReportId=made[0])
    rest = ec2.describe_image_usage_reports(MaxResults=100, NextToken=first["NextToken"])
    assert _ids(rest) == made[4:] and "NextToken" not in rest
    # boto3's paginator drives the same tokens
    pager = ec2.get_paginator("describe_image_usage_reports")
    got = [rid for page in pager.paginate(PaginationConfig={"PageSize": 3}) for rid in _ids(page)]
    assert got == made[1:]
    # without MaxResults, the page size is max_results_cap
    control.post("/config", {"max_results_cap": 4})
    resp = ec2.describe_image_usage_reports()
    assert len(resp["ImageUsageReports"]) == 4 and resp["NextToken"]
    assert _code(ec2.describe_image_usage_reports, NextToken="garbage") == "InvalidPaginationToken"


@pytest.mark.slow
def test_entry_paging_over_many_entries(aws):
    owner = aws("ec2")
    ami = register_ami(owner)
    accounts = [f"{500000000000 + i}" for i in range(30)]
    share(owner, ami, *accounts)
    for i, account in enumerate(accounts):
        consumer = aws("ec2", account=account)
        consumer.run_instances(ImageId=ami, MinCount=1 + i % 3, MaxCount=1 + i % 3)
        consumer.create_launch_template(LaunchTemplateName=f"tpl-{i}", LaunchTemplateData={"ImageId": ami})
    rid = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    seen, token, pages = [], None, 0
    while True:
        resp = owner.describe_image_usage_report_entries(
            ReportIds=[rid], MaxResults=7, **({"NextToken": token} if token else {})
        )
        assert len(resp["ImageUsageReportEntries"]) <= 7
        seen += [(e["AccountId"], e["ResourceType"], e["UsageCount"]) for e in resp["ImageUsageReportEntries"]]
        pages += 1
        token = resp.get("NextToken")
        if not token:
            break
    assert pages == 9 and len(seen) == 60 and len(set(seen)) == 60
    assert seen == sorted(seen)
    assert {(a, c) for a, t, c in seen if t == "ec2:Instance"} == {(a, 1 + i % 3) for i, a in enumerate(accounts)}
    assert all(c == 1 for _, t, c in seen if t == "ec2:LaunchTemplate")


def test_select_by_image_and_report_ids(aws):
    ec2 = aws("ec2")
    (a0, r0), (a1, r1), (a2, r2) = _reports(ec2, 3)
    r0b = ec2.create_image_usage_report(ImageId=a0, ResourceTypes=BOTH_TYPES)["ReportId"]
    assert _ids(ec2.describe_image_usage_reports(ImageIds=[a0])) == [r0, r0b]
    assert _ids(ec2.describe_image_usage_reports(ImageIds=[a1, a2])) == [r1, r2]
    assert _ids(ec2.describe_image_usage_reports(ReportIds=[r2, r0])) == [r0, r2]
    assert _ids(ec2.describe_image_usage_reports(ImageIds=[a1], ReportIds=[r0, r1])) == [r1]
    assert _ids(ec2.describe_image_usage_reports(ImageIds=["ami-00000000000000000"])) == []
    assert (
        _code(ec2.describe_image_usage_reports, ReportIds=[r0, "amiur-00000000000000000"])
        == "InvalidImageUsageReportId.NotFound"
    )
    assert (
        _code(ec2.describe_image_usage_report_entries, ReportIds=["amiur-00000000000000000"])
        == "InvalidImageUsageReportId.NotFound"
    )
    assert _code(ec2.describe_image_usage_reports, ReportIds=["bogus"]) == "InvalidImageUsageReportId.Malformed"


def test_report_filters(aws, control):
    ec2 = aws("ec2")
    bad = register_ami(ec2, "bad")
    control.post("/config", {"error_images": {bad: "boom"}})
    (a0, avail), (a1, other) = _reports(ec2, 2, tags=[{"team": "red", "env": "prod"}, {"team": "blue"}])
    err = ec2.create_image_usage_report(
        ImageId=bad,
        ResourceTypes=BOTH_TYPES,
        TagSpecifications=[{"ResourceType": "image-usage-report", "Tags": [{"Key": "env", "Value": "dev"}]}],
    )["ReportId"]
    control.post("/clock", {"advance_seconds": 3 * 86400})
    control.post("/config", {"report_ready_after_seconds": 3600})
    pend = ec2.create_image_usage_report(ImageId=register_ami(ec2, "late"), ResourceTypes=BOTH_TYPES)["ReportId"]

    def ids(*filters):
        return set(_ids(ec2.describe_image_usage_reports(Filters=[{"Name": n, "Values": v} for n, v in filters])))

    assert ids(("state", ["available"])) == {avail, other}
    assert ids(("state", ["error"])) == {err}
    assert ids(("state", ["pending"])) == {pend}
    assert ids(("state", ["pending", "error"])) == {pend, err}  # values OR
    assert ids(("tag:team", ["red"])) == {avail}
    assert ids(("tag:team", ["red", "blue"])) == {avail, other}
    assert ids(("tag:team", ["r*"])) == {avail}
    assert ids(("tag-key", ["env"])) == {avail, err}
    assert ids(("tag-key", ["env"]), ("state", ["available"])) == {avail}  # filters AND
    assert ids(("tag:env", ["prod"]), ("tag:team", ["blue"])) == set()

    [p] = ec2.describe_image_usage_reports(ReportIds=[pend])["ImageUsageReports"]
    [a] = ec2.describe_image_usage_reports(ReportIds=[avail])["ImageUsageReports"]
    stamp = p["CreationTime"].strftime("%Y-%m-%dT%H:%M:%S.") + f"{p['CreationTime'].microsecond // 1000:03d}Z"
    assert ids(("creation-time", [stamp])) == {pend}
    assert ids(("creation-time", [a["CreationTime"].strftime("%Y-%m-%dT*")])) == {avail, other, err}
    assert ids(("creation-time", [p["CreationTime"].strftime("%Y-%m-%dT*")])) == {pend}
    assert ids(("creation-time", ["1999-*"])) == set()
    assert (
        _code(ec2.describe_image_usage_reports, Filters=[{"Name": "image-id", "Values": [a0]}])
        == "InvalidParameterValue"
    )


def test_entry_filters(aws, control):
    owner = aws("ec2")
    ami = register_ami(owner)
    share(owner, ami, "111111111111", "222222222222")
    for account in ("111111111111", "222222222222"):
        consumer = aws("ec2", account=account)
        consumer.run_instances(ImageId=ami, MinCount=1, MaxCount=1)
        consumer.create_launch_template(LaunchTemplateName="tpl", LaunchTemplateData={"ImageId": ami})
    old = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    control.post("/clock", {"advance_seconds": 2 * 86400})
    new = owner.create_image_usage_report(ImageId=ami, ResourceTypes=BOTH_TYPES)["ReportId"]
    [n] = owner.describe_image_usage_reports(ReportIds=[new])["ImageUsageReports"]

    def keys(*filters):
        resp = owner.describe_image_usage_report_entries(Filters=[{"Name": name, "Values": v} for name, v in filters])
        return {(e["ReportId"], e["AccountId"], e["ResourceType"]) for e in resp["ImageUsageReportEntries"]}

    assert len(keys()) == 8
    assert keys(("account-id", ["222222222222"])) == {
        (r, "222222222222", t) for r in (old, new) for t in ("ec2:Instance", "ec2:LaunchTemplate")
    }
    assert keys(("resource-type", ["ec2:LaunchTemplate"]), ("account-id", ["111111111111"])) == {
        (old, "111111111111", "ec2:LaunchTemplate"),
        (new, "111111111111", "ec2:LaunchTemplate"),
    }
    day = n["CreationTime"].strftime("%Y-%m-%dT*")
    assert {r for r, _, _ in keys(("creation-time", [day]))} == {new}
    assert keys(("creation-time", [day]), ("resource-type", ["ec2:Instance"])) == {
        (new, "111111111111", "ec2:Instance"),
        (new, "222222222222", "ec2:Instance"),
    }
    assert (
        _code(owner.describe_image_usage_report_entries, Filters=[{"Name": "state", "Values": ["available"]}])
        == "InvalidParameterValue"
    )


def test_create_tags_on_a_report(aws):
    ec2 = aws("ec2")
    [(_, rid)] = _reports(ec2, 1)
    ec2.create_tags(Resources=[rid], Tags=[{"Key": "owner", "Value": "ci"}])
    [r] = ec2.describe_image_usage_reports(ReportIds=[rid])["ImageUsageReports"]
    assert r["Tags"] == [{"Key": "owner", "Value": "ci"}]
    assert _ids(ec2.describe_image_usage_reports(Filters=[{"Name": "tag:owner", "Values": ["ci"]}])) == [rid]
    ec2.delete_tags(Resources=[rid], Tags=[{"Key": "owner"}])
    [r] = ec2.describe_image_usage_reports(ReportIds=[rid])["ImageUsageReports"]
    assert r["Tags"] == []
