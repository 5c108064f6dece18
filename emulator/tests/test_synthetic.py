"""SYNTHETIC seeding (scale tests, benchmarks) and S3's conditional multipart completion."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError
from emu_helpers import BOTH_TYPES

REQUEST_ID = re.compile(rb"<requestId>[^<]+</requestId>")


def _raw_entries(client, **kwargs):
    captured = {}

    def grab(http_response, **_):
        captured["body"] = http_response.content

    client.meta.events.register("after-call.ec2.DescribeImageUsageReportEntries", grab)
    out = client.describe_image_usage_report_entries(**kwargs)
    client.meta.events.unregister("after-call.ec2.DescribeImageUsageReportEntries", grab)
    return out, REQUEST_ID.sub(b"<requestId/>", captured["body"])


def test_seeded_amis_are_owned_tagged_and_their_reports_carry_generated_entries(aws, control):
    seeded = control.post("/synthetic", {"amis": 3, "entries_per_report": 7, "tags": {"Scale": "yes"}, "seed": 4})
    assert seeded["synthetic"] is True and len(seeded["image_ids"]) == 3
    ec2 = aws("ec2")
    images = ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag:Scale", "Values": ["yes"]}])["Images"]
    assert {i["ImageId"] for i in images} == set(seeded["image_ids"])
    rid = ec2.create_image_usage_report(ImageId=seeded["image_ids"][0], ResourceTypes=BOTH_TYPES)["ReportId"]
    entries = ec2.describe_image_usage_report_entries(ReportIds=[rid])["ImageUsageReportEntries"]
    assert len(entries) == 7
    keys = [(e["AccountId"], e["ResourceType"]) for e in entries]
    assert keys == sorted(keys) and len(set(keys)) == 7
    assert all(re.fullmatch(r"\d{12}", e["AccountId"]) and 1 <= e["UsageCount"] <= 40 for e in entries)
    # Deterministic in the seed: a second report of the same AMI says the same.
    control.post("/clock", {"advance_seconds": 1})
    again = ec2.create_image_usage_report(ImageId=seeded["image_ids"][0], ResourceTypes=BOTH_TYPES)["ReportId"]
    same = ec2.describe_image_usage_report_entries(ReportIds=[again])["ImageUsageReportEntries"]
    assert [(e["AccountId"], e["ResourceType"], e["UsageCount"]) for e in same] == [
        (e["AccountId"], e["ResourceType"], e["UsageCount"]) for e in entries
    ]
    assert control.get("/synthetic") == {"synthetic_amis": 3, "entries": 21}
    control.post("/reset")
    assert control.get("/synthetic") == {"synthetic_amis": 0, "entries": 0}


def test_fast_pages_are_byte_identical_to_the_model_serializer(aws, control):
    """A filter sends the same page through moto's serializer: both paths must agree."""
    seeded = control.post("/synthetic", {"amis": 2, "entries_per_report": 5})
    ec2 = aws("ec2")
    rids = [ec2.create_image_usage_report(ImageId=i, ResourceTypes=BOTH_TYPES)["ReportId"] for i in seeded["image_ids"]]
    match_all = [{"Name": "resource-type", "Values": ["ec2:*"]}]
    token, serial_token, pages = None, None, 0
    while True:
        extra = {"NextToken": token} if token else {}
        fast, fast_body = _raw_entries(ec2, ReportIds=rids, MaxResults=3, **extra)
        extra = {"NextToken": serial_token} if serial_token else {}
        slow, slow_body = _raw_entries(ec2, ReportIds=rids, MaxResults=3, Filters=match_all, **extra)
        assert fast_body == slow_body
        pages += 1
        token, serial_token = fast.get("NextToken"), slow.get("NextToken")
        if not token:
            break
    assert pages == 4  # 10 entries in pages of 3
    # An empty answer (report of an AMI seeded with no entries) is identical too.
    empty = control.post("/synthetic", {"amis": 1, "entries_per_report": 0})["image_ids"][0]
    rid = ec2.create_image_usage_report(ImageId=empty, ResourceTypes=BOTH_TYPES)["ReportId"]
    assert _raw_entries(ec2, ReportIds=[rid])[1] == _raw_entries(ec2, ReportIds=[rid], Filters=match_all)[1]


def test_a_large_report_pages_quickly_and_completely(aws, control):
    seeded = control.post("/synthetic", {"amis": 1, "entries_per_report": 5_000})
    ec2 = aws("ec2")
    rid = ec2.create_image_usage_report(ImageId=seeded["image_ids"][0], ResourceTypes=BOTH_TYPES)["ReportId"]
    seen = []
    for page in ec2.get_paginator("describe_image_usage_report_entries").paginate(ReportIds=[rid]):
        seen += [(e["AccountId"], e["ResourceType"]) for e in page["ImageUsageReportEntries"]]
    assert len(seen) == 5_000 and len(set(seen)) == 5_000 and seen == sorted(seen)


@pytest.mark.parametrize(
    "body",
    [{}, {"amis": 0}, {"amis": 1, "entries_per_report": -1}, {"amis": 1, "tags": ["x"]}, {"amis": 1, "color": "red"}],
)
def test_bad_synthetic_requests_are_refused(control, body):
    assert "error" in control.post("/synthetic", body, expect=400)


def test_complete_multipart_upload_honours_if_none_match(aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket="mpu")
    part = b"x" * (5 * 1024 * 1024)

    def upload(key):
        up = s3.create_multipart_upload(Bucket="mpu", Key=key, ChecksumAlgorithm="CRC32")
        parts = []
        for n, body in enumerate([part, b"tail"], start=1):
            out = s3.upload_part(
                Bucket="mpu", Key=key, UploadId=up["UploadId"], PartNumber=n, Body=body, ChecksumAlgorithm="CRC32"
            )
            parts.append({"PartNumber": n, "ETag": out["ETag"], "ChecksumCRC32": out["ChecksumCRC32"]})
        return up["UploadId"], parts

    upload_id, parts = upload("k")
    s3.complete_multipart_upload(
        Bucket="mpu", Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
    )
    assert s3.head_object(Bucket="mpu", Key="k")["ContentLength"] == len(part) + 4
    upload_id, parts = upload("k")
    with pytest.raises(ClientError) as err:
        s3.complete_multipart_upload(
            Bucket="mpu", Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
        )
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    s3.abort_multipart_upload(Bucket="mpu", Key="k", UploadId=upload_id)
    assert s3.list_multipart_uploads(Bucket="mpu").get("Uploads", []) == []
