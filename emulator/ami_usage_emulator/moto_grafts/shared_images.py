"""DescribeImages across accounts: an AMI shared with the caller, or made public, by
another account is visible to the caller, as on AWS.

moto keeps AMIs per account backend, so a consumer's DescribeImages never saw an AMI
the owner shared with it (``ExecutableUsers=self``, ``Owners=[owner]`` and
``ImageIds=[shared]`` all came back empty or ``InvalidAMIID.NotFound``).  A member
account's probe (issue 11) starts exactly there.  The selection is still moto's own
``describe_images`` (ids, owners, executable users, filters, its errors), run over the
caller's AMIs plus the AMIs that other accounts *own* in the same Region and share with
the caller (``LaunchPermission`` ``UserId``) or with everyone (``Group: all``).  moto's
built-in public AMIs are in every backend already and are not duplicated.

What the caller then sees of a foreign AMI is the owner's object: its tags are the
owner's (AWS does not show an owner's tags to other accounts), and ``LastLaunchedTime``
is left out (owner only, ``image_fields.py``).

``ExecutableUsers`` is EC2's: ``self`` (or an account id) selects the AMIs with an
explicit launch permission for that account, ``all`` the public ones; moto returned
every public AMI (its ~1,300 built-in ones) for any value.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models.amis import Ami, AmiBackend


def _shared_with(ami: Ami, account: str) -> bool:
    perms = ami.launch_permissions
    return {"UserId": account} in perms or {"Group": "all"} in perms


def foreign_amis(account: str, region: str) -> dict[str, Ami]:
    """AMIs owned by other accounts in the Region and shared with ``account`` (or public)."""
    from moto.ec2.models import ec2_backends

    found: dict[str, Ami] = {}
    for owner, backend_region, backend in list(ec2_backends.iter_backends()):
        if owner == account or backend_region != region:
            continue
        for ami in list(backend.amis.values()):
            if ami.owner_id == owner and _shared_with(ami, account):
                found[ami.id] = ami
    return found


class _View:
    """What ``AmiBackend.describe_images`` reads of a backend, with more AMIs in it."""

    def __init__(self, backend: Any, amis: dict[str, Ami]) -> None:
        self.amis = amis
        self.deleted_amis = backend.deleted_amis
        self.account_id = backend.account_id


def _executable_by(images: list[Ami], account: str, exec_users: list[str]) -> list[Ami]:
    """EC2's ``ExecutableUsers``: ``self`` / an account id keeps AMIs with an explicit launch
    permission for it, ``all`` the public ones (moto kept every public AMI for any value)."""
    users = {account if u == "self" else u for u in exec_users}
    return [
        a
        for a in images
        if ("all" in users and a.is_public) or any({"UserId": u} in a.launch_permissions for u in users)
    ]


def describe_visible_images(backend: Any, region: str, **query: Any) -> list[Ami]:
    """moto's DescribeImages selection over the caller's AMIs and those shared with it."""
    foreign = foreign_amis(backend.account_id, region)
    if not foreign:
        images = list(backend.describe_images(**query))
    else:
        amis = {**foreign, **backend.amis}  # the caller's own object wins
        images = list(AmiBackend.describe_images(_View(backend, amis), **query))  # type: ignore[arg-type]
    exec_users = query.get("exec_users")
    return _executable_by(images, backend.account_id, exec_users) if exec_users and not query.get("ami_ids") else images
