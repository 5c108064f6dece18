"""RegisterImage fidelity: BillingProducts show up as DescribeImages' PlatformDetails
and UsageOperation, as on AWS (unknown billing products are refused), and the AMI's
CreationDate follows the emulator clock."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError
from emu_helpers import register_ami

# AWS's documented (PlatformDetails, UsageOperation) pairs ("AMI billing information
# fields") for Red Hat's public billing product codes.
EXPECTED = {
    ("bp-6fa54006",): ("Red Hat Enterprise Linux", "RunInstances:0010"),
    ("bp-6fa54006", "bp-79a54010"): ("Red Hat Enterprise Linux with HA", "RunInstances:1010"),
    ("bp-63a5400a",): ("Red Hat BYOL Linux", "RunInstances:00g0"),
}


def _register(ec2, name: str, billing_products: list[str]) -> str:
    snap = ec2.create_snapshot(VolumeId=ec2.create_volume(Size=8, AvailabilityZone="us-east-1a")["VolumeId"])
    return ec2.register_image(
        Name=name,
        RootDeviceName="/dev/xvda",
        VirtualizationType="hvm",
        Architecture="x86_64",
        BillingProducts=billing_products,
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap["SnapshotId"]}}],
    )["ImageId"]


def _billing_fields(ec2, image_id: str) -> tuple[str, str]:
    [image] = ec2.describe_images(ImageIds=[image_id])["Images"]
    return image["PlatformDetails"], image["UsageOperation"]


def test_plain_ami_is_linux_unix_run_instances(aws):
    ec2 = aws("ec2")
    assert _billing_fields(ec2, register_ami(ec2, "plain")) == ("Linux/UNIX", "RunInstances")


@pytest.mark.parametrize("codes", sorted(EXPECTED))
def test_billing_products_set_platform_details_and_usage_operation(aws, codes):
    ec2 = aws("ec2")
    image_id = _register(ec2, "licensed", list(reversed(codes)))  # order does not matter
    assert _billing_fields(ec2, image_id) == EXPECTED[codes]


def test_unknown_billing_product_is_refused_and_nothing_is_registered(aws):
    ec2 = aws("ec2")
    with pytest.raises(ClientError) as err:
        _register(ec2, "forged", ["bp-00000000"])
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "bp-00000000" in err.value.response["Error"]["Message"]
    assert "bp-6fa54006" not in err.value.response["Error"]["Message"]  # no list of the codes it knows
    assert ec2.describe_images(Owners=["self"])["Images"] == []


def test_creation_date_follows_the_emulator_clock(aws, control):
    ec2 = aws("ec2")
    before = register_ami(ec2, "before")
    now = control.post("/clock", {"advance_seconds": 3 * 86400})["now"]
    after = register_ami(ec2, "after")
    created = {
        i["ImageId"]: dt.datetime.fromisoformat(i["CreationDate"].replace("Z", "+00:00"))
        for i in ec2.describe_images(Owners=["self"])["Images"]
    }
    clock = dt.datetime.fromisoformat(now.replace("Z", "+00:00"))
    assert abs((created[after] - clock).total_seconds()) < 5
    assert 3 * 86400 - 5 < (created[after] - created[before]).total_seconds() < 3 * 86400 + 5
