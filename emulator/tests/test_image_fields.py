"""DescribeImages fields moto lacks: LastLaunchedTime (owner only, lagged like the attribute),
DeregistrationProtection (with its cooldown), DeprecationTime, SourceImageId, disabled AMIs
left out unless IncludeDisabled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from emu_helpers import OWNER as OWNER_ID
from emu_helpers import REGION, register_ami, share

CONSUMER = "111111111111"
DAY = 86400


def _image(ec2, ami, **kwargs):
    [image] = ec2.describe_images(ImageIds=[ami], **kwargs)["Images"]
    return image


def _now(control):
    return datetime.fromisoformat(control.get("/clock")["now"].replace("Z", "+00:00"))


def _attr(ec2, ami):
    return ec2.describe_image_attribute(ImageId=ami, Attribute="lastLaunchedTime")["LastLaunchedTime"].get("Value")


def test_last_launched_time_is_lagged_in_both_places_and_shown_to_the_owner_only(aws, control):
    owner = aws("ec2")
    ami = register_ami(owner)
    share(owner, ami, CONSUMER)
    control.post("/config", {"last_launched_lag_seconds": DAY})
    assert control.get("/config")["last_launched_lag_seconds"] == DAY
    first = _now(control)
    aws("ec2", account=CONSUMER).run_instances(ImageId=ami, MinCount=1, MaxCount=1)
    assert "LastLaunchedTime" not in _image(owner, ami) and _attr(owner, ami) is None
    control.post("/clock", {"advance_seconds": DAY + 60})
    owner.run_instances(ImageId=ami, MinCount=1, MaxCount=1)  # a newer launch, not published yet
    published = _image(owner, ami)["LastLaunchedTime"]
    assert published == _attr(owner, ami)
    seen = datetime.strptime(published, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(seen - first) < timedelta(seconds=5)
    control.post("/clock", {"advance_seconds": DAY})
    assert datetime.strptime(_image(owner, ami)["LastLaunchedTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=UTC
    ) - seen > timedelta(hours=23)
    [amazon] = owner.describe_images(Owners=["amazon"], MaxResults=5)["Images"][:1]
    owner.run_instances(ImageId=amazon["ImageId"], MinCount=1, MaxCount=1)
    control.post("/config", {"last_launched_lag_seconds": 0})
    assert "LastLaunchedTime" not in _image(owner, amazon["ImageId"])  # not the caller's AMI
    assert _image(owner, ami)["LastLaunchedTime"]
    control.post("/config", {"last_launched_lag_seconds": -1}, expect=400)


def test_deregistration_protection_with_and_without_cooldown(aws, control):
    ec2 = aws("ec2")
    plain, cooled = register_ami(ec2, "plain"), register_ami(ec2, "cooled")
    assert _image(ec2, plain)["DeregistrationProtection"] == "disabled"
    assert ec2.enable_image_deregistration_protection(ImageId=plain)["Return"] == "true"
    ec2.enable_image_deregistration_protection(ImageId=cooled, WithCooldown=True)
    assert [_image(ec2, a)["DeregistrationProtection"] for a in (plain, cooled)] == [
        "enabled-without-cooldown",
        "enabled-with-cooldown",
    ]
    for ami in (plain, cooled):
        with pytest.raises(ClientError) as err:
            ec2.deregister_image(ImageId=ami)
        assert err.value.response["Error"]["Code"] == "OperationNotPermitted"
        ec2.disable_image_deregistration_protection(ImageId=ami)
    assert _image(ec2, plain)["DeregistrationProtection"] == "disabled"
    until = (_now(control) + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M")
    assert _image(ec2, cooled)["DeregistrationProtection"].startswith(f"disabled-until-{until}")
    with pytest.raises(ClientError):
        ec2.deregister_image(ImageId=cooled)  # the cooldown runs
    ec2.deregister_image(ImageId=plain)
    control.post("/clock", {"advance_seconds": DAY + 1})
    assert _image(ec2, cooled)["DeregistrationProtection"] == "disabled"
    ec2.deregister_image(ImageId=cooled)
    with pytest.raises(ClientError) as err:
        aws("ec2", account=CONSUMER).enable_image_deregistration_protection(ImageId="ami-0123456789abcdef0")
    assert err.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"


def test_deprecation_time_rounds_to_the_minute_and_must_be_in_the_future(aws, control):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    assert "DeprecationTime" not in _image(ec2, ami)
    at = _now(control).replace(microsecond=0) + timedelta(days=30)
    assert ec2.enable_image_deprecation(ImageId=ami, DeprecateAt=at.replace(second=40))["Return"] is True
    expected = (at.replace(second=0) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:00.000Z")
    assert _image(ec2, ami)["DeprecationTime"] == expected
    with pytest.raises(ClientError) as err:
        ec2.enable_image_deprecation(ImageId=ami, DeprecateAt=_now(control) - timedelta(days=1))
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    ec2.disable_image_deprecation(ImageId=ami)
    assert "DeprecationTime" not in _image(ec2, ami)


def test_disabled_amis_are_left_out_unless_include_disabled(aws):
    ec2 = aws("ec2")
    ami, other = register_ami(ec2, "a"), register_ami(ec2, "b")
    share(ec2, ami, CONSUMER)
    ec2.disable_image(ImageId=ami)
    assert [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]] == [other]
    shown = {i["ImageId"]: i["State"] for i in ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"]}
    assert shown == {ami: "disabled", other: "available"}
    perms = ec2.describe_image_attribute(ImageId=ami, Attribute="launchPermission")["LaunchPermissions"]
    assert perms == []  # DisableImage made it private
    ec2.enable_image(ImageId=ami)
    assert len(ec2.describe_images(Owners=["self"])["Images"]) == 2


def test_copy_image_names_its_source_and_the_wire_has_the_elements(aws):
    ec2 = aws("ec2")
    ami = register_ami(ec2)
    copy = ec2.copy_image(SourceImageId=ami, SourceRegion=REGION, Name="copy")["ImageId"]
    image = _image(ec2, copy)
    assert (image["SourceImageId"], image["SourceImageRegion"]) == (ami, REGION)
    assert "SourceImageId" not in _image(ec2, ami)
    ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)
    ec2.enable_image_deregistration_protection(ImageId=ami)
    captured = {}
    ec2.meta.events.register(
        "after-call.ec2.DescribeImages", lambda http_response, **_: captured.update(body=http_response.text)
    )
    ec2.describe_images(ImageIds=[ami])
    raw = captured["body"]
    for element in (
        "<deregistrationProtection>enabled-without-cooldown</deregistrationProtection>",
        "<lastLaunchedTime>",
    ):
        assert element in raw


def test_a_member_sees_the_amis_shared_with_it_and_public_ones(aws):
    owner = aws("ec2")
    shared, private, public = register_ami(owner, "shared"), register_ami(owner, "private"), register_ami(owner, "pub")
    share(owner, shared, CONSUMER)
    owner.modify_image_attribute(ImageId=public, LaunchPermission={"Add": [{"Group": "all"}]})
    owner.run_instances(ImageId=shared, MinCount=1, MaxCount=1)
    member = aws("ec2", account=CONSUMER)
    assert [i["ImageId"] for i in member.describe_images(ExecutableUsers=["self"])["Images"]] == [shared]
    by_owner = member.describe_images(Owners=[OWNER_ID])["Images"]
    assert sorted(i["ImageId"] for i in by_owner) == sorted([shared, public])
    image = _image(member, shared)
    assert image["OwnerId"] == OWNER_ID and "LastLaunchedTime" not in image
    assert "LastLaunchedTime" in _image(owner, shared)
    with pytest.raises(ClientError) as err:
        member.describe_images(ImageIds=[private])
    assert err.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"
    assert member.describe_images(Owners=["self"])["Images"] == []
    owner.modify_image_attribute(ImageId=shared, LaunchPermission={"Remove": [{"UserId": CONSUMER}]})
    assert member.describe_images(ExecutableUsers=["self"])["Images"] == []


def test_the_compiled_renderer_writes_motos_bytes_for_the_new_members():
    """ImageXml against moto's EC2 serializer, in-process, over AMIs carrying every member
    added here (protection states, deprecation, copy source, last launch, ImageAllowed)."""
    import sys
    from pathlib import Path

    import boto3
    from moto import mock_aws
    from moto.core.serialize import EC2Serializer, XFormedAttributePicker
    from moto.ec2.models import ec2_backends
    from moto.ec2.responses import EC2Response

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from ami_usage_emulator.moto_grafts.image_xml import ImageXml
    from ami_usage_emulator.moto_grafts.install import install
    from ami_usage_emulator.world import World

    install(World())
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        amis = [register_ami(ec2, name) for name in ("a", "b", "c")]
        ec2.copy_image(SourceImageId=amis[0], SourceRegion=REGION, Name="copy")
        backend = ec2_backends[OWNER_ID][REGION]
        for ami, protection, allowed in zip(
            amis, ("enabled-with-cooldown", "disabled", "enabled-without-cooldown"), (True, False, None), strict=True
        ):
            image = backend.amis[ami]
            image.__dict__.update(
                _emulator_protection=protection,
                image_allowed=allowed,
                last_launched_time="2026-11-22T10:00:00Z",
                deprecation_time="2026-12-31T10:15:00.000Z",
            )
        backend.amis[amis[1]].__dict__["_emulator_protection_until"] = datetime.now(UTC) + timedelta(hours=1)
        images = [backend.amis[i] for i in sorted(backend.amis) if backend.amis[i].owner_id == OWNER_ID]
        serializer = EC2Serializer(
            operation_model=ImageXml().operation,
            value_picker=XFormedAttributePicker(response_transformers=EC2Response.RESPONSE_KEY_PATH_TO_TRANSFORMER),
        )
        expected = serializer.serialize({"Images": images})["body"]
        assert ImageXml().render(images, None) == expected
        for element in (
            "<deregistrationProtection>disabled-until-",
            "<imageAllowed>false</imageAllowed>",
            "<sourceImageId>",
            "<sourceImageRegion>",
            "<deprecationTime>",
            "<lastLaunchedTime>",
        ):
            assert element in expected, element
