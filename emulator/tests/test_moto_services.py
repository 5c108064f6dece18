"""What the project's tests need from plain moto, checked through the emulator (multi-account, SNS->SQS, S3)."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
from botocore.exceptions import ClientError
from emu_helpers import OWNER, REGION, register_ami, share

CONSUMER = "111111111111"


def test_x_moto_account_id_separates_every_service(aws):
    for account in (OWNER, CONSUMER):
        assert aws("sts", account=account).get_caller_identity()["Account"] == account
        aws("s3", account=account).create_bucket(Bucket=f"bucket-{account}")
        aws("sns", account=account).create_topic(Name="topic")
        aws("sqs", account=account).create_queue(QueueName="queue")
        aws("ec2", account=account).create_key_pair(KeyName=f"key-{account}")
    for account in (OWNER, CONSUMER):
        assert [b["Name"] for b in aws("s3", account=account).list_buckets()["Buckets"]] == [f"bucket-{account}"]
        [topic] = aws("sns", account=account).list_topics()["Topics"]
        assert topic["TopicArn"] == f"arn:aws:sns:{REGION}:{account}:topic"
        [url] = aws("sqs", account=account).list_queues()["QueueUrls"]
        assert f"/{account}/queue" in url
        keys = aws("ec2", account=account).describe_key_pairs()["KeyPairs"]
        assert [k["KeyName"] for k in keys] == [f"key-{account}"]


def test_shared_ami_is_usable_in_a_consumer_account(aws):
    owner = aws("ec2")
    ami = register_ami(owner, "golden", tags={"pipeline": "base", "version": "7"})
    register_ami(owner, "untagged")
    share(owner, ami, CONSUMER)
    perms = owner.describe_image_attribute(ImageId=ami, Attribute="launchPermission")
    assert perms["LaunchPermissions"] == [{"UserId": CONSUMER}]
    mine = owner.describe_images(Owners=["self"], Filters=[{"Name": "tag:pipeline", "Values": ["base"]}])
    assert [(i["ImageId"], i["OwnerId"]) for i in mine["Images"]] == [(ami, OWNER)]
    assert {t["Key"]: t["Value"] for t in mine["Images"][0]["Tags"]} == {"pipeline": "base", "version": "7"}
    assert len(owner.describe_images(Owners=["self"])["Images"]) == 2

    consumer = aws("ec2", account=CONSUMER)
    [inst] = consumer.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    assert inst["ImageId"] == ami
    consumer.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": ami})
    consumer.create_launch_template_version(
        LaunchTemplateName="web", SourceVersion="1", LaunchTemplateData={"InstanceType": "t3.micro"}
    )
    versions = consumer.describe_launch_template_versions(LaunchTemplateName="web")["LaunchTemplateVersions"]
    assert sorted(v["VersionNumber"] for v in versions) == [1, 2]
    assert all(v["LaunchTemplateData"]["ImageId"] == ami for v in versions)
    # the consumer does not own it
    assert consumer.describe_images(Owners=["self"])["Images"] == []


def test_register_image_keeps_its_block_device_mappings(aws):
    ec2 = aws("ec2")
    root = ec2.create_snapshot(VolumeId=ec2.create_volume(Size=8, AvailabilityZone="us-east-1a")["VolumeId"])
    data = ec2.create_snapshot(VolumeId=ec2.create_volume(Size=40, AvailabilityZone="us-east-1a")["VolumeId"])
    ami = ec2.register_image(
        Name="img-bdm",
        RootDeviceName="/dev/xvda",
        Architecture="arm64",
        VirtualizationType="hvm",
        BlockDeviceMappings=[
            {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": root["SnapshotId"]}},
            {
                "DeviceName": "/dev/xvdb",
                "Ebs": {
                    "SnapshotId": data["SnapshotId"],
                    "VolumeSize": 100,
                    "VolumeType": "gp3",
                    "DeleteOnTermination": False,
                },
            },
            {"DeviceName": "/dev/xvdc", "VirtualName": "ephemeral0"},
        ],
    )["ImageId"]
    [image] = ec2.describe_images(ImageIds=[ami])["Images"]
    assert (image["RootDeviceName"], image["RootDeviceType"], image["Architecture"]) == ("/dev/xvda", "ebs", "arm64")
    assert image["BlockDeviceMappings"] == [
        {
            "DeviceName": "/dev/xvda",
            "Ebs": {
                "SnapshotId": root["SnapshotId"],
                "VolumeSize": 8,
                "DeleteOnTermination": True,
                "VolumeType": "gp2",
                "Encrypted": False,
            },
        },
        {
            "DeviceName": "/dev/xvdb",
            "Ebs": {
                "SnapshotId": data["SnapshotId"],
                "VolumeSize": 100,
                "DeleteOnTermination": False,
                "VolumeType": "gp3",
                "Encrypted": False,
            },
        },
        {"DeviceName": "/dev/xvdc", "VirtualName": "ephemeral0"},
    ]
    # no made-up snapshot, and the registered ones are in use by the AMI
    snapshots = ec2.describe_snapshots()["Snapshots"]
    assert not [s for s in snapshots if ami in s.get("Description", "")]
    assert {root["SnapshotId"], data["SnapshotId"]} <= {s["SnapshotId"] for s in snapshots}
    with pytest.raises(ClientError) as err:
        ec2.delete_snapshot(SnapshotId=root["SnapshotId"])
    assert err.value.response["Error"]["Code"] == "InvalidSnapshot.InUse"
    with pytest.raises(ClientError) as err:
        ec2.register_image(
            Name="img-missing",
            RootDeviceName="/dev/xvda",
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-0123456789abcdef0"}}],
        )
    assert err.value.response["Error"]["Code"] == "InvalidSnapshot.NotFound"
    assert len(ec2.describe_images(Owners=["self"])["Images"]) == 1


def _sns_to_sqs(aws):
    sns, sqs = aws("sns"), aws("sqs")
    topic = sns.create_topic(Name="ami-usage")["TopicArn"]
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return sns, sqs, topic, url


def test_sns_json_structure_reaches_sqs_and_the_published_log(aws, control):
    sns, sqs, topic, url = _sns_to_sqs(aws)
    structured = {"default": "usage summary", "email": "Dear owner,\nAMI usage follows."}
    msg_id = sns.publish(
        TopicArn=topic,
        Subject="AMI usage",
        MessageStructure="json",
        Message=json.dumps(structured),
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "usage"}},
    )["MessageId"]
    sns.publish(TopicArn=topic, Message="plain text")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)["Messages"]
    bodies = [json.loads(m["Body"]) for m in got]
    assert [b["Message"] for b in bodies] == ["usage summary", "plain text"]  # SQS gets "default"
    first = bodies[0]
    assert first["Type"] == "Notification" and first["TopicArn"] == topic
    assert first["Subject"] == "AMI usage" and first["MessageId"] == msg_id
    assert first["MessageAttributes"]["kind"] == {"Type": "String", "Value": "usage"}

    published = control.get("/sns/published")["messages"]
    assert [p["MessageId"] for p in published][0] == msg_id
    p = published[0]
    assert json.loads(p["Message"])["email"] == "Dear owner,\nAMI usage follows."
    assert (p["TopicArn"], p["Subject"], p["MessageStructure"], p["account"], p["region"]) == (
        topic,
        "AMI usage",
        "json",
        OWNER,
        REGION,
    )
    assert p["MessageAttributes"] == {"kind": {"DataType": "String", "StringValue": "usage"}}
    assert p["timestamp"].endswith("Z")
    assert published[1]["Message"] == "plain text" and published[1]["MessageStructure"] is None


def test_sns_protocol_specific_key_for_sqs(aws):
    sns, sqs, topic, url = _sns_to_sqs(aws)
    sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps({"default": "d", "sqs": "for queues"}))
    [m] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"]
    assert json.loads(m["Body"])["Message"] == "for queues"


def test_sqs_long_poll_does_not_block_the_publish_it_waits_for(aws):
    sns, sqs, topic, url = _sns_to_sqs(aws)
    got: list = []
    poller = threading.Thread(
        target=lambda: got.extend(aws("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=15).get("Messages", []))
    )
    start = time.monotonic()
    poller.start()
    time.sleep(0.5)
    sns.publish(TopicArn=topic, Message="wake up")
    poller.join(20)
    assert [json.loads(m["Body"])["Message"] for m in got] == ["wake up"]
    assert time.monotonic() - start < 8


def test_publish_batch_is_logged(aws, control):
    sns = aws("sns")
    topic = sns.create_topic(Name="batch")["TopicArn"]
    resp = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[
            {"Id": "one", "Message": "first", "Subject": "s1"},
            {"Id": "two", "Message": "second"},
        ],
    )
    assert len(resp["Successful"]) == 2
    logged = control.get("/sns/published")["messages"]
    assert [(m["Message"], m["Subject"]) for m in logged] == [("first", "s1"), ("second", None)]
    assert {m["MessageId"] for m in logged} == {r["MessageId"] for r in resp["Successful"]}


def test_sns_publish_log_per_account(aws, control):
    other = aws("sns", account=CONSUMER)
    topic = other.create_topic(Name="t")["TopicArn"]
    other.publish(TopicArn=topic, Message="from consumer")
    [p] = control.get("/sns/published")["messages"]
    assert p["account"] == CONSUMER and p["TopicArn"].split(":")[4] == CONSUMER


def test_s3_conditional_put_and_path_style(aws, endpoint):
    s3 = aws("s3")
    s3.create_bucket(Bucket="usage-reports")
    s3.put_object(Bucket="usage-reports", Key="2025/report.json", Body=b"{}", IfNoneMatch="*")
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket="usage-reports", Key="2025/report.json", Body=b"[]", IfNoneMatch="*")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert err.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket="usage-reports", Key="2025/report.json")["Body"].read() == b"{}"
    captured = []
    s3.meta.events.register("before-send.s3.*", lambda request, **_: captured.append(request.url))
    s3.head_object(Bucket="usage-reports", Key="2025/report.json")
    assert captured == [f"{endpoint}/usage-reports/2025/report.json"]  # path-style addressing


def test_reset_clears_moto_and_emulator_state(aws, control):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    ec2.create_image_usage_report(ImageId=ami, ResourceTypes=[{"ResourceType": "ec2:Instance"}])
    aws("s3").create_bucket(Bucket="some-bucket")
    aws("sns").publish(TopicArn=aws("sns").create_topic(Name="t")["TopicArn"], Message="m")
    control.post("/config", {"include_owner_account": True})
    control.post("/faults", {"s3_put_object": {"fail_next": 5}})
    control.post("/clock", {"advance_seconds": 3600})
    control.post("/reset")
    assert ec2.describe_image_usage_reports()["ImageUsageReports"] == []
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    assert aws("s3").list_buckets()["Buckets"] == []
    assert control.get("/sns/published")["messages"] == []
    assert control.get("/config")["include_owner_account"] is False
    assert control.get("/faults")["faults"]["s3_put_object"] is None
    assert control.get("/clock")["offset_seconds"] == 0


def test_control_api_basics(endpoint, control):
    assert requests.get(endpoint + "/_emulator/health").json() == {"ok": True}
    before = control.get("/clock")["now"]
    after = control.post("/clock", {"advance_seconds": 86400})["now"]
    assert before < after and after[:10] > before[:10]
    assert control.post("/clock", {"advance_seconds": -1}, expect=400)["error"]
    assert control.post("/config", {"nope": 1}, expect=400)["error"]
    assert control.post("/config", {"max_results_cap": 0}, expect=400)["error"]
    assert control.post("/config", {"error_images": ["ami-1"]}, expect=400)["error"]
    assert control.post("/config", {"report_ready_after_seconds": 5})["report_ready_after_seconds"] == 5
    assert requests.get(endpoint + "/_emulator/nope").status_code == 404
    assert requests.get(endpoint + "/_emulator/reset").status_code == 405
    r = requests.post(endpoint + "/_emulator/config", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_multipart_uploads_say_when_they_started_on_the_emulator_clock(aws, control):
    """moto answers a fixed 2010 date; S3 answers the upload's start, which is what a
    rule for aborting uploads of killed runs reads."""
    from datetime import datetime, timedelta

    s3 = aws("s3")
    s3.create_bucket(Bucket="uploads")
    first = s3.create_multipart_upload(Bucket="uploads", Key="a/one")["UploadId"]
    start = datetime.fromisoformat(control.get("/clock")["now"].replace("Z", "+00:00"))
    control.post("/clock", {"advance_seconds": 7200})
    second = s3.create_multipart_upload(Bucket="uploads", Key="a/two")["UploadId"]
    listed = {
        u["UploadId"]: u["Initiated"] for u in s3.list_multipart_uploads(Bucket="uploads", Prefix="a/")["Uploads"]
    }
    assert abs(listed[first] - start) < timedelta(seconds=5)
    assert abs(listed[second] - listed[first] - timedelta(hours=2)) < timedelta(seconds=5)
