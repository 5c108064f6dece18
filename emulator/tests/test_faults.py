"""Injected faults: EC2 token buckets, seeded random EC2 faults, S3 PutObject and SNS Publish failures."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from emu_helpers import BOTH_TYPES, register_ami


def _outcome(call, **kwargs):
    try:
        call(**kwargs)
        return "ok"
    except ClientError as err:
        return (err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"])


def _until_throttled(call, limit, **kwargs):
    """Call until the first RequestLimitExceeded; (successes before it, seconds taken)."""
    start = time.monotonic()
    for n in range(limit):
        result = _outcome(call, **kwargs)
        if result != "ok":
            assert result == ("RequestLimitExceeded", 503)
            return n, time.monotonic() - start
    pytest.fail(f"no throttling within {limit} calls")


def test_token_buckets_at_aws_default_rates(aws, control):
    ec2 = aws("ec2")
    vol = ec2.create_volume(Size=1, AvailabilityZone="us-east-1a")["VolumeId"]
    ami = register_ami(ec2)
    state = control.post("/faults", {"ec2_token_buckets": True})
    assert state["faults"]["ec2_token_buckets"] == {
        "mutating": {"capacity": 50, "refill_per_second": 5.0},
        "non_mutating": {"capacity": 100, "refill_per_second": 20.0},
        "unfiltered_non_mutating": {"capacity": 50, "refill_per_second": 10.0},
        "actions": {},
    }
    # a mutating action: 50 at once, then 5/s
    ok, took = _until_throttled(ec2.disable_image_deprecation, 400, ImageId=ami)
    assert 50 <= ok <= 50 + 5 * took + 1
    # CreateTags has a bucket of its own size: 100 at once, then 10/s
    ok, took = _until_throttled(ec2.create_tags, 600, Resources=[vol], Tags=[{"Key": "k", "Value": "v"}])
    assert 100 <= ok <= 100 + 10 * took + 1
    # a non-mutating action: 100 at once, then 20/s
    ok, took = _until_throttled(ec2.describe_image_usage_reports, 1000)
    assert 100 <= ok <= 100 + 20 * took + 1
    counters = control.get("/faults")["counters"]["ec2"]["by_action"]
    assert counters["CreateTags"]["throttled"] == counters["DisableImageDeprecation"]["throttled"] == 1
    assert counters["DescribeImageUsageReports"]["throttled"] == 1
    assert counters["DescribeImageUsageReports"]["calls"] >= 101


def test_each_api_has_its_own_bucket(aws, control):
    ec2 = aws("ec2")
    ec2.describe_volumes()  # build moto's backend first
    small = {"capacity": 2, "refill_per_second": 0}
    control.post(
        "/faults",
        {
            "ec2_token_buckets": {
                "non_mutating": small,
                "unfiltered_non_mutating": {"capacity": 1, "refill_per_second": 0},
                "actions": {"CreateTags": {"capacity": 1, "refill_per_second": 0}},
            }
        },
    )
    throttled = ("RequestLimitExceeded", 503)
    assert [_outcome(ec2.describe_image_usage_reports) for _ in range(3)] == ["ok", "ok", throttled]
    # another API is not affected
    assert [_outcome(ec2.describe_image_usage_report_entries) for _ in range(3)] == ["ok", "ok", throttled]
    # DescribeVolumes unfiltered and unpaginated draws from its own smaller bucket
    assert [_outcome(ec2.describe_volumes) for _ in range(2)] == ["ok", throttled]
    filtered = {"Filters": [{"Name": "size", "Values": ["1"]}]}
    assert [_outcome(ec2.describe_volumes, **filtered) for _ in range(3)] == ["ok", "ok", throttled]
    tags = {"Resources": ["vol-00000000"], "Tags": [{"Key": "k", "Value": "v"}]}
    assert _outcome(ec2.create_tags, **tags)[0] != "RequestLimitExceeded"
    assert _outcome(ec2.create_tags, **tags) == throttled
    levels = control.get("/faults")["token_buckets"]
    assert "123456789012/us-east-1/DescribeVolumes#unfiltered" in levels


def test_token_buckets_refill_and_are_per_account_and_region(aws, control):
    ec2, other_account, other_region = aws("ec2"), aws("ec2", account="111111111111"), aws("ec2", region="eu-west-1")
    for client in (ec2, other_account, other_region):  # build moto's backends first
        client.describe_image_usage_reports()
    # one token per 5 s: five calls on a loaded machine stay inside one refill
    control.post("/faults", {"ec2_token_buckets": {"non_mutating": {"capacity": 3, "refill_per_second": 0.2}}})
    results = [_outcome(ec2.describe_image_usage_reports) for _ in range(5)]
    assert results == ["ok"] * 3 + [("RequestLimitExceeded", 503)] * 2
    # other accounts and regions have full buckets of their own
    assert _outcome(other_account.describe_image_usage_reports) == "ok"
    assert _outcome(other_region.describe_image_usage_reports) == "ok"
    # mutating calls use another bucket
    assert (
        _outcome(ec2.create_image_usage_report, ImageId="ami-12c6146b", ResourceTypes=BOTH_TYPES)[0]
        == "InvalidAMIID.NotFound"
    )
    assert _outcome(ec2.describe_image_usage_reports) == ("RequestLimitExceeded", 503)
    time.sleep(5.5)  # 0.2 token/s -> exactly one more call
    assert [_outcome(ec2.describe_image_usage_reports) for _ in range(2)] == ["ok", ("RequestLimitExceeded", 503)]
    by_action = control.get("/faults")["counters"]["ec2"]["by_action"]
    assert by_action["DescribeImageUsageReports"] == {"calls": 10, "throttled": 4, "server_errors": 0}


def test_throttling_reaches_botocore_retry_logic(aws, control):
    # One token every half second: the second call, sent right after the first, finds the bucket
    # empty even on a loaded machine, and botocore's backoff (0-1 s, 0-2 s, ...) soon finds a token.
    control.post("/faults", {"ec2_token_buckets": {"non_mutating": {"capacity": 1, "refill_per_second": 2}}})
    ec2 = aws("ec2", retries={"total_max_attempts": 10, "mode": "standard"})
    ec2.describe_image_usage_reports()
    resp = ec2.describe_image_usage_reports()  # throttled first, retried after a backoff
    assert resp["ResponseMetadata"]["RetryAttempts"] >= 1
    assert control.get("/faults")["counters"]["ec2"]["totals"]["throttled"] >= 1


def _sequence(aws, control, n=200):
    control.post(
        "/faults",
        {
            "throttle_probability": 0.3,
            "server_error_probability": 0.1,
            "actions": ["DescribeImageUsageReports"],
            "seed": 42,
        },
    )
    ec2 = aws("ec2")
    return [_outcome(ec2.describe_image_usage_reports) for _ in range(n)]


def test_probabilistic_faults_are_seeded_and_scoped(aws, control):
    first = _sequence(aws, control)
    again = _sequence(aws, control)
    assert first == again  # same seed, same sequence
    throttled = first.count(("RequestLimitExceeded", 503))
    errors = [r for r in first if r not in ("ok", ("RequestLimitExceeded", 503))]
    assert 35 <= throttled <= 85 and 5 <= len(errors) <= 40
    assert set(errors) <= {("InternalError", 500), ("Unavailable", 503)} and len(set(errors)) == 2
    counters = control.get("/faults")["counters"]["ec2"]["by_action"]["DescribeImageUsageReports"]
    assert counters == {"calls": 200, "throttled": throttled, "server_errors": len(errors)}
    # actions not listed are untouched
    ec2 = aws("ec2")
    assert all(_outcome(ec2.describe_image_usage_report_entries) == "ok" for _ in range(30))
    control.post(
        "/faults",
        {
            "throttle_probability": 0.3,
            "server_error_probability": 0.1,
            "actions": ["DescribeImageUsageReports"],
            "seed": 7,
        },
    )
    other = [_outcome(ec2.describe_image_usage_reports) for _ in range(200)]
    assert other != first


def test_faults_clear_with_empty_body(aws, control):
    control.post("/faults", {"throttle_probability": 1.0})
    ec2 = aws("ec2")
    assert _outcome(ec2.describe_instances) == ("RequestLimitExceeded", 503)
    state = control.post("/faults", {})
    assert state["faults"]["throttle_probability"] == 0
    assert state["counters"]["ec2"]["totals"] == {"calls": 0, "throttled": 0, "server_errors": 0}
    assert _outcome(ec2.describe_instances) == "ok"


def test_s3_put_object_faults(aws, control):
    s3 = aws("s3")
    s3.create_bucket(Bucket="reports")
    control.post("/faults", {"s3_put_object": {"fail_next": 2, "status": 500}})
    assert [_outcome(s3.put_object, Bucket="reports", Key=f"k{i}", Body=b"x") for i in range(3)] == [
        ("InternalError", 500),
        ("InternalError", 500),
        "ok",
    ]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="reports")["Contents"]] == ["k2"]
    assert s3.get_object(Bucket="reports", Key="k2")["Body"].read() == b"x"
    control.post("/faults", {"s3_put_object": {"fail_next": 1, "status": 503}})
    assert _outcome(s3.put_object, Bucket="reports", Key="k3", Body=b"x") == ("SlowDown", 503)
    control.post("/faults", {"s3_put_object": {"probability": 1.0}})
    assert _outcome(s3.put_object, Bucket="reports", Key="k4", Body=b"x") == ("InternalError", 500)
    assert _outcome(s3.head_object, Bucket="reports", Key="k2") == "ok"  # only PutObject fails
    assert control.get("/faults")["counters"]["s3_put_object"] == {"calls": 1, "failed": 1}


def test_sns_publish_faults(aws, control):
    sns = aws("sns")
    topic = sns.create_topic(Name="usage")["TopicArn"]
    control.post("/faults", {"sns_publish": {"fail_next": 1}})
    assert _outcome(sns.publish, TopicArn=topic, Message="one") == ("InternalError", 500)
    assert _outcome(sns.publish, TopicArn=topic, Message="two") == "ok"
    assert [p["Message"] for p in control.get("/sns/published")["messages"]] == ["two"]
    assert control.get("/faults")["counters"]["sns_publish"] == {"calls": 2, "failed": 1}
    control.post("/faults", {"sns_publish": {"probability": 1.0, "status": 400, "code": "Throttled"}})
    assert _outcome(sns.publish, TopicArn=topic, Message="three") == ("Throttled", 400)


@pytest.mark.parametrize(
    "body",
    [
        {"bogus": 1},
        {"throttle_probability": 2},
        {"throttle_probability": 0.7, "server_error_probability": 0.7},
        {"ec2_token_buckets": {"mutating": {"capacity": 0}}},
        {"s3_put_object": {"status": 200}},
        {"actions": "CreateImageUsageReport"},
        {"seed": "x"},
    ],
)
def test_bad_fault_config_is_rejected(control, body):
    assert "error" in control.post("/faults", body, expect=400)
