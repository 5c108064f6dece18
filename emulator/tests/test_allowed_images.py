"""Allowed AMIs: the settings actions and DescribeImages' ImageAllowed (absent when disabled,
true/false in audit-mode, only allowed AMIs listed when enabled; own AMIs always allowed)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from emu_helpers import OWNER, register_ami, share

CONSUMER = "111111111111"


def _allowed(ec2, **kwargs):
    return {i["ImageId"]: i.get("ImageAllowed") for i in ec2.describe_images(**kwargs)["Images"]}


def test_settings_round_trip_and_refusals(aws):
    ec2 = aws("ec2")
    assert ec2.get_allowed_images_settings()["State"] == "disabled"
    criteria = [
        {"ImageProviders": ["amazon", OWNER]},
        {"ImageNames": ["golden-*"], "CreationDateCondition": {"MaximumDaysSinceCreated": 30}},
    ]
    assert ec2.replace_image_criteria_in_allowed_images_settings(ImageCriteria=criteria)["ReturnValue"] is True
    assert (
        ec2.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")["AllowedImagesSettingsState"]
        == "audit-mode"
    )
    got = ec2.get_allowed_images_settings()
    assert (got["State"], got["ImageCriteria"], got["ManagedBy"]) == ("audit-mode", criteria, "account")
    assert aws("ec2", account=CONSUMER).get_allowed_images_settings()["State"] == "disabled"
    for kwargs in (
        {"ImageCriteria": [{"ImageProviders": ["none", OWNER]}]},
        {"ImageCriteria": [{"ImageProviders": ["someone"]}]},
        {"ImageCriteria": [{"MarketplaceProductCodes": ["abc"]}]},
    ):
        with pytest.raises(ClientError) as err:
            ec2.replace_image_criteria_in_allowed_images_settings(**kwargs)
        assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert ec2.disable_allowed_images_settings()["AllowedImagesSettingsState"] == "disabled"


def test_image_allowed_in_each_state_for_a_member(aws, control):
    owner = aws("ec2")
    golden, other = register_ami(owner, "golden"), register_ami(owner, "other")
    share(owner, golden, CONSUMER)
    share(owner, other, CONSUMER)
    member = aws("ec2", account=CONSUMER)
    own = register_ami(member, "mine")
    assert set(_allowed(member, ExecutableUsers=["self"]).values()) == {None}  # disabled: no member
    member.replace_image_criteria_in_allowed_images_settings(
        ImageCriteria=[{"ImageProviders": [OWNER], "ImageNames": ["img-golden"]}]
    )
    member.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")
    assert _allowed(member, ExecutableUsers=["self"]) == {golden: True, other: False}
    assert _allowed(member, Owners=["self"]) == {own: True}  # own AMIs are never restricted
    member.enable_allowed_images_settings(AllowedImagesSettingsState="enabled")
    assert _allowed(member, ExecutableUsers=["self"]) == {golden: True}
    assert member.describe_images(ImageIds=[other])["Images"] == []  # not discoverable
    control.post("/clock", {"advance_seconds": 40 * 86400})
    member.replace_image_criteria_in_allowed_images_settings(
        ImageCriteria=[{"ImageProviders": [OWNER], "CreationDateCondition": {"MaximumDaysSinceCreated": 30}}]
    )
    assert _allowed(member, ExecutableUsers=["self"]) == {}
    assert _allowed(owner, Owners=["self"]) == {golden: None, other: None}  # the owner's own settings
