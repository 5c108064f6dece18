"""Recycle Bin: rbin's rule actions on botocore's model, DeregisterImage into the bin when a
rule matches, ListImagesInRecycleBin / RestoreImageFromRecycleBin, retention on the clock,
DeleteAssociatedSnapshots, disabled AMIs refused at launch, the mutating-call log and
per-action faults."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from emu_helpers import register_ami, share

CONSUMER = "111111111111"
DAY = 86400
OTHER_REGION = "eu-west-1"


def _rule(rbin, days=30, **extra):
    return rbin.create_rule(
        ResourceType="EC2_IMAGE", RetentionPeriod={"RetentionPeriodValue": days, "RetentionPeriodUnit": "DAYS"}, **extra
    )


def _tags(ec2, ami):
    return {t["Key"]: t["Value"] for t in ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [ami]}])["Tags"]}


def _binned(ec2):
    return [i["ImageId"] for i in ec2.list_images_in_recycle_bin()["Images"]]


def _error(call, *args, **kwargs):
    with pytest.raises(ClientError) as err:
        call(*args, **kwargs)
    return err.value.response


def test_rules_are_created_listed_got_updated_and_deleted_per_account_and_region(aws):
    rbin = aws("rbin")
    region_rule = _rule(rbin, ExcludeResourceTags=[{"ResourceTagKey": "keep", "ResourceTagValue": "no"}])
    assert region_rule["Status"] == "available" and region_rule["LockState"] == "unlocked"
    assert region_rule["RuleArn"].endswith(f":rule/{region_rule['Identifier']}")
    tag_rule = _rule(rbin, 7, ResourceTags=[{"ResourceTagKey": "Golden", "ResourceTagValue": "true"}])
    rbin.create_rule(
        ResourceType="EBS_SNAPSHOT", RetentionPeriod={"RetentionPeriodValue": 1, "RetentionPeriodUnit": "DAYS"}
    )
    listed = {r["Identifier"]: r for r in rbin.list_rules(ResourceType="EC2_IMAGE")["Rules"]}
    assert set(listed) == {region_rule["Identifier"], tag_rule["Identifier"]}
    assert listed[tag_rule["Identifier"]]["RetentionPeriod"]["RetentionPeriodValue"] == 7
    by_tag = rbin.list_rules(
        ResourceType="EC2_IMAGE", ResourceTags=[{"ResourceTagKey": "Golden", "ResourceTagValue": "true"}]
    )["Rules"]
    assert [r["Identifier"] for r in by_tag] == [tag_rule["Identifier"]]
    got = rbin.get_rule(Identifier=tag_rule["Identifier"])
    assert got["ResourceTags"] == [{"ResourceTagKey": "Golden", "ResourceTagValue": "true"}]
    updated = rbin.update_rule(
        Identifier=tag_rule["Identifier"], RetentionPeriod={"RetentionPeriodValue": 9, "RetentionPeriodUnit": "DAYS"}
    )
    assert updated["RetentionPeriod"]["RetentionPeriodValue"] == 9
    assert aws("rbin", account=CONSUMER).list_rules(ResourceType="EC2_IMAGE")["Rules"] == []
    assert aws("rbin", region=OTHER_REGION).list_rules(ResourceType="EC2_IMAGE")["Rules"] == []
    rbin.delete_rule(Identifier=tag_rule["Identifier"])
    err = _error(rbin.get_rule, Identifier=tag_rule["Identifier"])
    assert err["Error"]["Code"] == "ResourceNotFoundException" and err["Reason"] == "RULE_NOT_FOUND"


def test_list_rules_pages(aws):
    rbin = aws("rbin")
    made = {_rule(rbin, days)["Identifier"] for days in range(1, 6)}
    pages = list(rbin.get_paginator("list_rules").paginate(ResourceType="EC2_IMAGE", PaginationConfig={"PageSize": 2}))
    assert [len(p["Rules"]) for p in pages] == [2, 2, 1]
    assert {r["Identifier"] for p in pages for r in p["Rules"]} == made
    err = _error(rbin.list_rules, ResourceType="EC2_IMAGE", NextToken="garbage")
    assert err["Error"]["Code"] == "ValidationException" and err["Reason"] == "INVALID_PAGE_TOKEN"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"RetentionPeriod": {"RetentionPeriodValue": 366, "RetentionPeriodUnit": "DAYS"}},
        {
            "ResourceTags": [{"ResourceTagKey": "a", "ResourceTagValue": "b"}],
            "ExcludeResourceTags": [{"ResourceTagKey": "c", "ResourceTagValue": "d"}],
        },
        {
            "ResourceTags": [{"ResourceTagKey": "a", "ResourceTagValue": "b"}],
            "LockConfiguration": {"UnlockDelay": {"UnlockDelayValue": 7, "UnlockDelayUnit": "DAYS"}},
        },
        {
            "ExcludeResourceTags": [{"ResourceTagKey": "c", "ResourceTagValue": "d"}],
            "LockConfiguration": {"UnlockDelay": {"UnlockDelayValue": 7, "UnlockDelayUnit": "DAYS"}},
        },
    ],
)
def test_create_rule_refuses_what_rbin_refuses(aws, kwargs):
    params = {"RetentionPeriod": {"RetentionPeriodValue": 10, "RetentionPeriodUnit": "DAYS"}, **kwargs}
    err = _error(aws("rbin").create_rule, ResourceType="EC2_IMAGE", **params)
    assert err["Error"]["Code"] == "ValidationException" and err["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_locked_rule_is_neither_updated_nor_deleted_until_its_unlock_delay_ran(aws, control):
    rbin = aws("rbin")
    lock = {"UnlockDelay": {"UnlockDelayValue": 7, "UnlockDelayUnit": "DAYS"}}
    rule = _rule(rbin, LockConfiguration=lock)["Identifier"]
    assert rbin.get_rule(Identifier=rule)["LockState"] == "locked"
    assert [r["Identifier"] for r in rbin.list_rules(ResourceType="EC2_IMAGE", LockState="locked")["Rules"]] == [rule]
    assert rbin.list_rules(ResourceType="EC2_IMAGE", LockState="unlocked")["Rules"] == []
    err = _error(rbin.delete_rule, Identifier=rule)
    assert err["Error"]["Code"] == "ConflictException" and err["Reason"] == "INVALID_RULE_STATE"
    assert rbin.unlock_rule(Identifier=rule)["LockState"] == "pending_unlock"
    assert _error(rbin.delete_rule, Identifier=rule)["Error"]["Code"] == "ConflictException"
    control.post("/clock", {"advance_seconds": 7 * DAY + 1})
    assert rbin.get_rule(Identifier=rule)["LockState"] == "unlocked"
    rbin.delete_rule(Identifier=rule)
    assert rbin.list_rules(ResourceType="EC2_IMAGE")["Rules"] == []


def test_deregister_with_a_matching_rule_puts_the_ami_in_the_bin_until_retention_ends(aws, control):
    ec2 = aws("ec2")
    _rule(aws("rbin"), 3, ResourceTags=[{"ResourceTagKey": "Golden", "ResourceTagValue": "true"}])
    kept = register_ami(ec2, "kept", {"Golden": "true", "Team": "a"})
    gone = register_ami(ec2, "gone", {"Golden": "false"})
    ec2.deregister_image(ImageId=kept)
    ec2.deregister_image(ImageId=gone)
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    [listed] = ec2.list_images_in_recycle_bin()["Images"]
    assert listed["ImageId"] == kept and listed["Name"] == "img-kept"
    assert (listed["RecycleBinExitTime"] - listed["RecycleBinEnterTime"]).days == 3
    assert _binned(aws("ec2", account=CONSUMER)) == []
    assert _error(ec2.restore_image_from_recycle_bin, ImageId=gone)["Error"]["Code"] == "InvalidAMIID.NotFound"
    assert ec2.restore_image_from_recycle_bin(ImageId=kept)["Return"] is True
    [image] = ec2.describe_images(ImageIds=[kept])["Images"]
    assert image["State"] == "available" and _tags(ec2, kept) == {"Golden": "true", "Team": "a"}
    assert _binned(ec2) == []
    ec2.deregister_image(ImageId=kept)
    control.post("/clock", {"advance_seconds": 3 * DAY})
    assert _binned(ec2) == []  # retention over: gone for good
    assert _error(ec2.restore_image_from_recycle_bin, ImageId=kept)["Error"]["Code"] == "InvalidAMIID.NotFound"


def test_region_level_rule_retains_all_but_excluded_and_other_regions_keep_nothing(aws):
    ec2 = aws("ec2")
    _rule(aws("rbin"), 10, ExcludeResourceTags=[{"ResourceTagKey": "scratch", "ResourceTagValue": "yes"}])
    plain = register_ami(ec2, "plain", {})
    scratch = register_ami(ec2, "scratch", {"scratch": "yes"})
    for ami in (plain, scratch):
        ec2.deregister_image(ImageId=ami)
    assert _binned(ec2) == [plain]
    west = aws("ec2", region=OTHER_REGION)
    elsewhere = register_ami(west, "west", {})
    west.deregister_image(ImageId=elsewhere)
    assert _binned(west) == []


def test_deregister_is_refused_while_protected_and_the_ami_stays(aws):
    ec2 = aws("ec2")
    _rule(aws("rbin"))
    ami = register_ami(ec2)
    ec2.enable_image_deregistration_protection(ImageId=ami)
    assert _error(ec2.deregister_image, ImageId=ami)["Error"]["Code"] == "OperationNotPermitted"
    assert _binned(ec2) == [] and ec2.describe_images(ImageIds=[ami])["Images"]


def test_delete_associated_snapshots_skips_snapshots_another_ami_uses(aws):
    ec2 = aws("ec2")
    ami = register_ami(ec2, "first")
    [snapshot] = [
        m["Ebs"]["SnapshotId"] for m in ec2.describe_images(ImageIds=[ami])["Images"][0]["BlockDeviceMappings"]
    ]
    twin = ec2.register_image(
        Name="twin",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot}}],
    )["ImageId"]
    skipped = ec2.deregister_image(ImageId=ami, DeleteAssociatedSnapshots=True)["DeleteSnapshotResults"]
    assert skipped == [{"SnapshotId": snapshot, "ReturnCode": "skipped"}]
    deleted = ec2.deregister_image(ImageId=twin, DeleteAssociatedSnapshots=True)["DeleteSnapshotResults"]
    assert deleted == [{"SnapshotId": snapshot, "ReturnCode": "success"}]
    assert snapshot not in {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}


def test_a_disabled_ami_launches_for_nobody_cannot_be_shared_and_enable_image_does_not_reshare_it(aws):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    share(ec2, ami, CONSUMER)
    ec2.disable_image(ImageId=ami)
    for client, code in ((ec2, "InvalidAMIID.Unavailable"), (aws("ec2", account=CONSUMER), "InvalidAMIID.NotFound")):
        err = _error(client.run_instances, ImageId=ami, MinCount=1, MaxCount=1)
        assert err["Error"]["Code"] == code  # the consumer lost its permission: no hint it is disabled
    err = _error(ec2.modify_image_attribute, ImageId=ami, LaunchPermission={"Add": [{"UserId": CONSUMER}]})
    assert err["Error"]["Code"] == "OperationNotPermitted"  # a disabled AMI can't be shared
    ec2.enable_image(ImageId=ami)
    assert ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    perms = ec2.describe_image_attribute(ImageId=ami, Attribute="launchPermission")["LaunchPermissions"]
    assert perms == []


def test_mutating_calls_are_logged_and_faults_target_one_action(aws, control):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    control.post("/faults", {"calls": {"DisableImage": {"fail_next": 1, "status": 503}, "ListRules": {"fail_next": 1}}})
    err = _error(ec2.disable_image, ImageId=ami)
    assert err["Error"]["Code"] == "RequestLimitExceeded"
    ec2.disable_image(ImageId=ami)
    ec2.create_tags(Resources=[ami], Tags=[{"Key": "k", "Value": "v"}])
    rbin = aws("rbin")
    assert _error(rbin.list_rules, ResourceType="EC2_IMAGE")["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert rbin.list_rules(ResourceType="EC2_IMAGE")["Rules"] == []
    _rule(rbin)
    calls = [
        (c["service"], c["action"], c["resources"], c["status"], c["fault"]) for c in control.get("/calls")["calls"]
    ]
    assert calls[-4:] == [
        ("ec2", "DisableImage", [ami], 503, "RequestLimitExceeded"),
        ("ec2", "DisableImage", [ami], 200, None),
        ("ec2", "CreateTags", [ami], 200, None),
        ("rbin", "CreateRule", [], 201, None),
    ]
    counters = control.get("/faults")["counters"]["calls"]
    assert counters == {"DisableImage": {"calls": 2, "failed": 1}, "ListRules": {"calls": 2, "failed": 1}}


def test_s3_faults_can_target_a_key_and_let_the_first_writes_through(aws, control):
    s3 = aws("s3")
    s3.create_bucket(Bucket="bucket-1")
    control.post("/faults", {"s3_put_object": {"key_contains": "state", "after": 1, "fail_next": 1, "status": 403}})
    s3.put_object(Bucket="bucket-1", Key="data/1", Body=b"x")
    s3.put_object(Bucket="bucket-1", Key="state/s.json", Body=b"x")  # the first matching one passes
    s3.put_object(Bucket="bucket-1", Key="data/2", Body=b"x")
    assert (
        _error(s3.put_object, Bucket="bucket-1", Key="state/s.json", Body=b"y")["ResponseMetadata"]["HTTPStatusCode"]
        == 403
    )
    s3.put_object(Bucket="bucket-1", Key="state/s.json", Body=b"z")
    assert control.get("/faults")["counters"]["s3_put_object"] == {"calls": 5, "failed": 1}
