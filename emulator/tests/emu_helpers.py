"""Helpers shared by the emulator tests (a uniquely named module, not conftest, so that
running these tests in one pytest session with other suites cannot shadow it)."""

from __future__ import annotations

from typing import Any

OWNER = "123456789012"  # moto's default account: what AWS_ACCESS_KEY_ID=testing maps to
REGION = "us-east-1"
BOTH_TYPES = [{"ResourceType": "ec2:Instance"}, {"ResourceType": "ec2:LaunchTemplate"}]


def register_ami(ec2: Any, name: str = "golden", tags: dict[str, str] | None = None) -> str:
    """RegisterImage the way a real pipeline does: a root device on a snapshot."""
    vol = ec2.create_volume(Size=8, AvailabilityZone=REGION + "a")
    snap = ec2.create_snapshot(VolumeId=vol["VolumeId"])
    kwargs: dict[str, Any] = {}
    if tags:
        kwargs["TagSpecifications"] = [
            {"ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    return ec2.register_image(
        Name=f"img-{name}",
        RootDeviceName="/dev/xvda",
        VirtualizationType="hvm",
        Architecture="x86_64",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap["SnapshotId"]}}],
        **kwargs,
    )["ImageId"]


def share(ec2: Any, image_id: str, *accounts: str) -> None:
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"UserId": a} for a in accounts]})


def entries_by_key(ec2: Any, report_id: str) -> dict[tuple[str, str], int]:
    out = ec2.describe_image_usage_report_entries(ReportIds=[report_id])["ImageUsageReportEntries"]
    return {(e["AccountId"], e["ResourceType"]): e["UsageCount"] for e in out}
