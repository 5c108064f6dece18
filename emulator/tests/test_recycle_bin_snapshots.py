"""Recycle Bin for snapshots and its interplay with AMIs: DeleteSnapshot (directly or through
DeregisterImage's DeleteAssociatedSnapshots) into the bin when an EBS_SNAPSHOT rule matches,
ListSnapshotsInRecycleBin / RestoreSnapshotFromRecycleBin, an AMI restorable only once its
snapshots are back, rules pending for the configured activation delay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from emu_helpers import register_ami, share

CONSUMER = "111111111111"
DAY = 86400
AWS_CLI = str(Path(sys.executable).parent / "aws")


def _rule(rbin, resource_type, days, **extra):
    return rbin.create_rule(
        ResourceType=resource_type,
        RetentionPeriod={"RetentionPeriodValue": days, "RetentionPeriodUnit": "DAYS"},
        **extra,
    )


def _code(call, *args, **kwargs):
    with pytest.raises(ClientError) as err:
        call(*args, **kwargs)
    return err.value.response["Error"]["Code"]


def _snapshot_of(ec2, ami):
    [image] = ec2.describe_images(ImageIds=[ami])["Images"]
    return image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]


def _binned_snapshots(ec2):
    return [s["SnapshotId"] for s in ec2.list_snapshots_in_recycle_bin()["Snapshots"]]


def test_snapshots_follow_snapshot_rules_and_an_ami_comes_back_only_after_them(aws, control):
    ec2, rbin = aws("ec2"), aws("rbin")
    _rule(rbin, "EC2_IMAGE", 7)
    _rule(rbin, "EBS_SNAPSHOT", 10)
    ami = register_ami(ec2)
    snapshot = _snapshot_of(ec2, ami)
    share(ec2, ami, CONSUMER)
    answer = ec2.deregister_image(ImageId=ami, DeleteAssociatedSnapshots=True)
    assert answer["DeleteSnapshotResults"] == [{"SnapshotId": snapshot, "ReturnCode": "success"}]
    [binned] = ec2.list_snapshots_in_recycle_bin()["Snapshots"]
    assert binned["SnapshotId"] == snapshot and binned["VolumeId"].startswith("vol-")
    assert (binned["RecycleBinExitTime"] - binned["RecycleBinEnterTime"]).days == 10
    assert snapshot not in {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    # "you must first restore all of its associated snapshots"
    assert _code(ec2.restore_image_from_recycle_bin, ImageId=ami) == "IncorrectState"
    restored = ec2.restore_snapshot_from_recycle_bin(SnapshotId=snapshot)
    assert restored["SnapshotId"] == snapshot and restored["State"] == "completed"
    assert _binned_snapshots(ec2) == []
    assert ec2.restore_image_from_recycle_bin(ImageId=ami)["Return"] is True
    # restored with its sharing: the consumer can use it again
    assert aws("ec2", account=CONSUMER).describe_images(ImageIds=[ami])["Images"]
    assert _code(ec2.restore_snapshot_from_recycle_bin, SnapshotId=snapshot) == "InvalidSnapshot.NotFound"


def test_an_ami_whose_snapshots_are_gone_for_good_is_not_recoverable(aws):
    ec2 = aws("ec2")
    _rule(aws("rbin"), "EC2_IMAGE", 7)
    ami = register_ami(ec2)
    snapshot = _snapshot_of(ec2, ami)
    result = ec2.deregister_image(ImageId=ami, DeleteAssociatedSnapshots=True)["DeleteSnapshotResults"]
    assert result == [{"SnapshotId": snapshot, "ReturnCode": "success"}]  # no snapshot rule: deleted
    assert _binned_snapshots(ec2) == []
    assert [i["ImageId"] for i in ec2.list_images_in_recycle_bin()["Images"]] == [ami]
    assert _code(ec2.restore_image_from_recycle_bin, ImageId=ami) == "InvalidSnapshot.NotFound"


def test_delete_snapshot_honours_tag_level_snapshot_rules(aws, control):
    ec2 = aws("ec2")
    _rule(aws("rbin"), "EBS_SNAPSHOT", 2, ResourceTags=[{"ResourceTagKey": "keep", "ResourceTagValue": "yes"}])
    vol = ec2.create_volume(Size=8, AvailabilityZone="us-east-1a")["VolumeId"]
    kept = ec2.create_snapshot(
        VolumeId=vol, TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "keep", "Value": "yes"}]}]
    )["SnapshotId"]
    gone = ec2.create_snapshot(VolumeId=vol)["SnapshotId"]
    ec2.delete_snapshot(SnapshotId=kept)
    ec2.delete_snapshot(SnapshotId=gone)
    assert _binned_snapshots(ec2) == [kept]
    control.post("/clock", {"advance_seconds": 2 * DAY})
    assert _binned_snapshots(ec2) == []


def test_a_pending_rule_retains_nothing(aws, control):
    ec2, rbin = aws("ec2"), aws("rbin")
    control.post("/config", {"rbin_rule_activation_seconds": 1800})
    rule = _rule(rbin, "EC2_IMAGE", 7)
    assert rule["Status"] == "pending"
    early, late = register_ami(ec2, "early"), register_ami(ec2, "late")
    ec2.deregister_image(ImageId=early)
    assert ec2.list_images_in_recycle_bin()["Images"] == []  # gone at once
    control.post("/clock", {"advance_seconds": 1800})
    assert rbin.get_rule(Identifier=rule["Identifier"])["Status"] == "available"
    ec2.deregister_image(ImageId=late)
    assert [i["ImageId"] for i in ec2.list_images_in_recycle_bin()["Images"]] == [late]
    control.post("/config", {"rbin_rule_activation_seconds": -1}, expect=400)


def test_deregistering_twice_answers_unavailable(aws):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    ec2.deregister_image(ImageId=ami)
    assert _code(ec2.deregister_image, ImageId=ami) == "InvalidAMIID.Unavailable"
    assert _code(ec2.deregister_image, ImageId="ami-0123456789abcdef0") == "InvalidAMIID.NotFound"


def test_the_aws_cli_reads_the_bin_and_the_protection_attribute(aws, cli_env):
    ec2 = aws("ec2")
    _rule(aws("rbin"), "EBS_SNAPSHOT", 5)
    ami = register_ami(ec2)
    ec2.enable_image_deregistration_protection(ImageId=ami, WithCooldown=True)

    def cli(*args):
        out = subprocess.run(
            [AWS_CLI, "ec2", *args, "--output", "json"], env=cli_env, capture_output=True, text=True, check=True
        ).stdout
        return json.loads(out)

    attr = cli("describe-image-attribute", "--image-id", ami, "--attribute", "deregistrationProtection")
    assert attr == {"ImageId": ami, "DeregistrationProtection": {"Value": "enabled-with-cooldown"}}
    ec2.disable_image_deregistration_protection(ImageId=ami)
    attr = cli("describe-image-attribute", "--image-id", ami, "--attribute", "deregistrationProtection")
    assert attr["DeregistrationProtection"]["Value"].startswith("disabled-until-")
    vol = ec2.create_volume(Size=8, AvailabilityZone="us-east-1a")["VolumeId"]
    loose = ec2.create_snapshot(VolumeId=vol)["SnapshotId"]
    ec2.delete_snapshot(SnapshotId=loose)
    [listed] = cli("list-snapshots-in-recycle-bin")["Snapshots"]
    assert listed["SnapshotId"] == loose and listed["RecycleBinExitTime"].endswith("Z")
    restored = cli("restore-snapshot-from-recycle-bin", "--snapshot-id", loose)
    assert restored["SnapshotId"] == loose and restored["State"] == "completed"
