"""S3 requests signed for another Region than the bucket's get S3's answer, not moto's
(moto serves them): a 301 PermanentRedirect by default, or 400
AuthorizationHeaderMalformed, both naming the bucket's Region."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

BUCKET = "archive-in-ireland"


def signed(endpoint: str, method: str, path: str, region: str, body: bytes = b"") -> requests.Response:
    """One request signed for `region`, sent as it is: no SDK redirect handling."""
    request = AWSRequest(method=method, url=f"{endpoint}{path}", data=body)
    S3SigV4Auth(Credentials("testing", "testing"), "s3", region).add_auth(request)
    prepared = request.prepare()
    return requests.request(method, prepared.url, headers=dict(prepared.headers), data=body, timeout=30)


@pytest.fixture
def ireland(aws: Any) -> Any:
    s3 = aws("s3", region="eu-west-1")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=BUCKET, Key="ami-usage/a.json", Body=b"{}")
    return s3


def error(response: requests.Response) -> dict[str, str]:
    return {child.tag: child.text or "" for child in ET.fromstring(response.content)}


def test_a_request_signed_for_another_region_is_redirected_to_the_buckets(endpoint, ireland):
    for method, path in [
        ("GET", f"/{BUCKET}/ami-usage/a.json"),
        ("GET", f"/{BUCKET}?list-type=2"),
        ("PUT", f"/{BUCKET}/ami-usage/b.json"),
    ]:
        r = signed(endpoint, method, path, "us-east-1", b"{}" if method == "PUT" else b"")
        assert r.status_code == 301, (method, path, r.text)
        assert r.headers["x-amz-bucket-region"] == "eu-west-1"
        e = error(r)
        assert e["Code"] == "PermanentRedirect"
        assert e["Message"].startswith("The bucket you are attempting to access must be addressed")
        assert e["Endpoint"] == "s3.eu-west-1.amazonaws.com" and e["Bucket"] == BUCKET
    head = signed(endpoint, "HEAD", f"/{BUCKET}/ami-usage/a.json", "us-east-1")
    assert (head.status_code, head.content, head.headers["x-amz-bucket-region"]) == (301, b"", "eu-west-1")
    keys = [o["Key"] for o in ireland.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == ["ami-usage/a.json"], "a redirected PUT writes nothing"


def test_the_buckets_region_location_and_create_are_served(endpoint, aws, ireland):
    assert signed(endpoint, "GET", f"/{BUCKET}/ami-usage/a.json", "eu-west-1").content == b"{}"
    assert aws("s3").get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == "eu-west-1"
    east = aws("s3")
    east.create_bucket(Bucket="archive-in-virginia")
    east.put_object(Bucket="archive-in-virginia", Key="k", Body=b"x")
    assert east.get_object(Bucket="archive-in-virginia", Key="k")["Body"].read() == b"x"


def test_botocore_recognises_the_redirect_and_follows_it(aws, ireland):
    """botocore's S3 region redirector re-signs for x-amz-bucket-region and retries:
    the answer is shaped as S3's (the SDK for Rust follows no such redirect)."""
    east = aws("s3", retries={"total_max_attempts": 1})
    out = east.put_object(Bucket=BUCKET, Key="ami-usage/c.json", Body=b"{}")
    assert out["ResponseMetadata"]["RetryAttempts"] == 1
    assert ireland.get_object(Bucket=BUCKET, Key="ami-usage/c.json")["Body"].read() == b"{}"


def test_authorization_header_malformed_and_ignore_modes(endpoint, control, ireland):
    control.post("/config", {"s3_wrong_region": "authorization_header_malformed"})
    r = signed(endpoint, "GET", f"/{BUCKET}/ami-usage/a.json", "us-east-1")
    assert r.status_code == 400 and r.headers["x-amz-bucket-region"] == "eu-west-1"
    e = error(r)
    assert e["Code"] == "AuthorizationHeaderMalformed" and e["Region"] == "eu-west-1"
    assert e["Message"] == (
        "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'"
    )
    control.post("/config", {"s3_wrong_region": "ignore"})
    assert signed(endpoint, "GET", f"/{BUCKET}/ami-usage/a.json", "us-east-1").content == b"{}"
    assert "must be one of" in control.post("/config", {"s3_wrong_region": "follow"}, expect=400)["error"]
    assert control.get("/config")["s3_wrong_region"] == "ignore"
    control.post("/reset")
    assert control.get("/config")["s3_wrong_region"] == "redirect"
