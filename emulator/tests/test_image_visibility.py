"""DescribeImages as a non-owner sees it: deprecated and disabled AMIs, the owner's tags and
owner-only members hidden, ExecutableUsers, and sharing with an organization or OU."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from emu_helpers import OWNER, register_ami, share

CONSUMER = "111111111111"
OTHER = "222222222222"


def _ids(ec2, **kwargs):
    return {i["ImageId"] for i in ec2.describe_images(**kwargs)["Images"]}


def test_a_deprecated_ami_is_hidden_from_others_unless_asked_for_or_named(aws, control):
    owner, consumer = aws("ec2"), aws("ec2", account=CONSUMER)
    ami = register_ami(owner, "old")
    share(owner, ami, CONSUMER)
    now = datetime.fromisoformat(control.get("/clock")["now"].replace("Z", "+00:00"))
    owner.enable_image_deprecation(ImageId=ami, DeprecateAt=now + timedelta(minutes=2))
    assert ami in _ids(consumer, Owners=[OWNER])  # a future deprecation date: not deprecated yet
    control.post("/clock", {"advance_seconds": 300})
    assert ami not in _ids(consumer, Owners=[OWNER])
    assert ami not in _ids(consumer, ExecutableUsers=["self"])
    assert ami not in _ids(consumer, Owners=[OWNER], IncludeDeprecated=False)
    assert ami in _ids(consumer, Owners=[OWNER], IncludeDeprecated=True)
    assert ami in _ids(consumer, ImageIds=[ami])  # "unless you specify its ID"
    assert ami in _ids(consumer, ImageIds=[ami], IncludeDeprecated=False)
    # the owner always sees its deprecated AMIs and cannot exclude them
    assert ami in _ids(owner, Owners=["self"])
    assert ami in _ids(owner, Owners=["self"], IncludeDeprecated=False)
    owner.disable_image_deprecation(ImageId=ami)
    assert ami in _ids(consumer, Owners=[OWNER])


def test_a_disabled_ami_is_seen_by_its_owner_with_include_disabled_only_and_never_by_others(aws):
    owner, consumer = aws("ec2"), aws("ec2", account=CONSUMER)
    ami = register_ami(owner)
    share(owner, ami, CONSUMER)
    owner.modify_image_attribute(ImageId=ami, LaunchPermission={"Add": [{"Group": "all"}]})
    owner.disable_image(ImageId=ami)
    assert ami not in _ids(owner, Owners=["self"])
    assert ami in _ids(owner, Owners=["self"], IncludeDisabled=True)
    for kwargs in ({"Owners": [OWNER]}, {"ExecutableUsers": ["all"]}):
        found = consumer.describe_images(IncludeDisabled=True, IncludeDeprecated=True, **kwargs)
        assert ami not in {i["ImageId"] for i in found["Images"]}
    # by id: as for any AMI the account cannot see (moto's answer, kept: see FIDELITY.md)
    with pytest.raises(ClientError) as err:
        consumer.describe_images(ImageIds=[ami], IncludeDisabled=True)
    assert err.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"
    owner.enable_image(ImageId=ami)  # available again, but private: nobody regains access
    assert ami not in _ids(consumer, Owners=[OWNER])
    share(owner, ami, CONSUMER)
    assert ami in _ids(consumer, Owners=[OWNER])


def test_a_consumer_sees_neither_the_owners_tags_nor_owner_only_members(aws, control):
    owner, consumer = aws("ec2"), aws("ec2", account=CONSUMER)
    source = register_ami(owner, "source")
    ami = owner.copy_image(SourceImageId=source, SourceRegion="us-east-1", Name="copy")["ImageId"]
    owner.create_tags(Resources=[ami], Tags=[{"Key": "Team", "Value": "payments"}])
    owner.enable_image_deregistration_protection(ImageId=ami, WithCooldown=True)
    share(owner, ami, CONSUMER)
    consumer.run_instances(ImageId=ami, MinCount=1, MaxCount=1)
    [mine] = owner.describe_images(ImageIds=[ami])["Images"]
    assert mine["Tags"] == [{"Key": "Team", "Value": "payments"}]
    assert mine["DeregistrationProtection"] == "enabled-with-cooldown"
    assert mine["SourceImageId"] == source and mine["LastLaunchedTime"]
    [seen] = consumer.describe_images(ImageIds=[ami])["Images"]
    for member in ("Tags", "DeregistrationProtection", "SourceImageId", "SourceImageRegion", "LastLaunchedTime"):
        assert member not in seen or seen[member] == [], (member, seen.get(member))
    assert ami not in _ids(consumer, Filters=[{"Name": "tag:Team", "Values": ["payments"]}])
    [mine] = owner.describe_images(ImageIds=[ami])["Images"]
    assert mine["Tags"] == [{"Key": "Team", "Value": "payments"}] and mine["LastLaunchedTime"]


def test_executable_users_never_reveals_the_owners_other_grants(aws):
    owner, consumer = aws("ec2"), aws("ec2", account=CONSUMER)
    ami = register_ami(owner)
    share(owner, ami, CONSUMER, OTHER)
    assert ami in _ids(owner, ExecutableUsers=[OTHER])  # the owner knows its own grants
    assert ami not in _ids(consumer, ExecutableUsers=[OTHER])
    assert ami in _ids(consumer, ExecutableUsers=["self"])
    assert ami in _ids(consumer, ExecutableUsers=[CONSUMER])
    assert ami not in _ids(consumer, ExecutableUsers=["all"])
    [mine], [seen] = (c.describe_images(ImageIds=[ami])["Images"] for c in (owner, consumer))
    assert seen["BlockDeviceMappings"] == mine["BlockDeviceMappings"]  # the AMI itself is the same
    assert seen["BlockDeviceMappings"][0]["DeviceName"] == "/dev/xvda"


def _organization(aws):
    """An organization in the owner account with two created member accounts, one in an OU."""
    org = aws("organizations")
    organization = org.create_organization(FeatureSet="ALL")["Organization"]
    root = org.list_roots()["Roots"][0]["Id"]
    unit = org.create_organizational_unit(ParentId=root, Name="apps")["OrganizationalUnit"]
    sub = org.create_organizational_unit(ParentId=unit["Id"], Name="web")["OrganizationalUnit"]
    inside = org.create_account(AccountName="in-ou", Email="in@example.com")["CreateAccountStatus"]["AccountId"]
    outside = org.create_account(AccountName="at-root", Email="out@example.com")["CreateAccountStatus"]["AccountId"]
    org.move_account(AccountId=inside, SourceParentId=root, DestinationParentId=sub["Id"])
    return organization["Arn"], unit["Arn"], inside, outside


def test_sharing_with_an_organization_or_an_ou_reaches_its_member_accounts(aws):
    owner = aws("ec2")
    org_arn, ou_arn, inside, outside = _organization(aws)
    by_org, by_ou = register_ami(owner, "org"), register_ami(owner, "ou")
    owner.modify_image_attribute(ImageId=by_org, LaunchPermission={"Add": [{"OrganizationArn": org_arn}]})
    owner.modify_image_attribute(
        ImageId=by_ou, OperationType="add", Attribute="launchPermission", OrganizationalUnitArns=[ou_arn]
    )
    member, root_member, stranger = aws("ec2", account=inside), aws("ec2", account=outside), aws("ec2", account=OTHER)
    assert {by_org, by_ou} <= _ids(member, Owners=[OWNER])  # the OU's nested account
    assert _ids(member, ExecutableUsers=["self"]) >= {by_org, by_ou}
    assert by_org in _ids(root_member, Owners=[OWNER]) and by_ou not in _ids(root_member, Owners=[OWNER])
    assert not _ids(stranger, Owners=[OWNER])
    # "AMIs that are shared with the account's organization or OU are not returned"
    assert not {by_org, by_ou} & _ids(owner, ExecutableUsers=[inside])
    member.run_instances(ImageId=by_ou, MinCount=1, MaxCount=1)
    perms = owner.describe_image_attribute(ImageId=by_ou, Attribute="launchPermission")["LaunchPermissions"]
    assert perms == [{"OrganizationalUnitArn": ou_arn}]
    owner.disable_image(ImageId=by_org)  # removes every launch permission, the organization's too
    assert by_org not in _ids(member, Owners=[OWNER])
    owner.enable_image(ImageId=by_org)
    assert owner.describe_image_attribute(ImageId=by_org, Attribute="launchPermission")["LaunchPermissions"] == []
    assert by_org not in _ids(member, Owners=[OWNER])


def test_the_aws_cli_reads_a_consumers_view(aws, cli_env):
    owner = aws("ec2")
    ami = register_ami(owner)
    owner.create_tags(Resources=[ami], Tags=[{"Key": "Team", "Value": "payments"}])
    share(owner, ami, CONSUMER)
    cmd = [".venv/bin/aws", "ec2", "describe-images", "--image-ids", ami, "--output", "json"]
    env = {**cli_env, "AWS_ACCESS_KEY_ID": "testing"}
    as_consumer = aws("sts").assume_role(RoleArn=f"arn:aws:iam::{CONSUMER}:role/r", RoleSessionName="cli")
    creds = as_consumer["Credentials"]
    env.update(
        AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
        AWS_SESSION_TOKEN=creds["SessionToken"],
    )
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=_root())
    [image] = json.loads(out.stdout)["Images"]
    assert image["ImageId"] == ami and image["OwnerId"] == OWNER
    assert not image.get("Tags") and "DeregistrationProtection" not in image


def _root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]
