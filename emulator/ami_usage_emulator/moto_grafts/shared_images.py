"""DescribeImages across accounts: what one caller may see, as EC2 decides it.

moto keeps AMIs per account backend, so a consumer's DescribeImages never saw an AMI
the owner shared with it.  The selection here is still moto's own ``describe_images``
(ids, owners, filters, its errors), run over the caller's AMIs plus the AMIs other
accounts *own* in the same Region and let it use (``image_access.foreign_amis``: a
launch permission for the account, its organization or one of its OUs, or public; never
a disabled AMI), each as a ``ConsumerAmi``: the caller's own tags (``tag:`` filters
too), only the launch permissions that concern it, no owner-only member.  moto's
built-in public AMIs are in every backend already and are not duplicated.

Then EC2's rules moto lacks:

* ``ExecutableUsers``: ``self`` (or the caller's id) keeps AMIs with a launch permission
  for the caller, its organization or OU; another account id keeps only AMIs with an
  explicit ``UserId`` permission for it ("AMIs that are shared with the account's
  organization or organizational unit (OU) are not returned"), which a non-owner can
  only know of its own AMIs; ``all`` the public ones.  moto returned every public AMI
  for any value and read the owner's permissions for a consumer.
* Deprecated AMIs of other owners are left out unless ``IncludeDeprecated`` is set or
  the request names them in ``ImageIds`` ("For AMI users, the deprecated AMI does not
  appear in DescribeImages API calls unless you specify its ID or specify that
  deprecated AMIs must appear"); the owner always sees its own.
* Disabled AMIs only with ``IncludeDisabled`` (the caller's own: no other account can
  see a disabled AMI).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from moto.ec2.models.amis import Ami, AmiBackend

from .image_access import foreign_amis, is_deprecated, org_arns


class _View:
    """What ``AmiBackend.describe_images`` reads of a backend, with more AMIs in it."""

    def __init__(self, backend: Any, amis: dict[str, Ami]) -> None:
        self.amis = amis
        self.deleted_amis = backend.deleted_amis
        self.account_id = backend.account_id


def _executable_by(images: list[Ami], account: str, exec_users: list[str]) -> list[Ami]:
    users = {account if u == "self" else u for u in exec_users}
    mine = org_arns(account) if account in users else frozenset()

    def keep(ami: Ami) -> bool:
        perms = ami.launch_permissions
        if "all" in users and ami.is_public:
            return True
        if any({"UserId": u} in perms for u in users):
            return True
        return account in users and any(
            lp.get("OrganizationArn") in mine or lp.get("OrganizationalUnitArn") in mine for lp in perms
        )

    return [a for a in images if keep(a)]


def visible_amis(backend: Any, region: str) -> dict[str, Ami]:
    """Every AMI the caller may see in the Region: its own objects, others' as views."""
    foreign = foreign_amis(backend, region)
    return {**foreign, **backend.amis} if foreign else backend.amis


def describe_visible_images(
    backend: Any, region: str, now: datetime, include_deprecated: bool, include_disabled: bool, **query: Any
) -> list[Ami]:
    """moto's DescribeImages selection over what the caller may see, then EC2's rules."""
    account = backend.account_id
    exec_users = query.pop("exec_users", None)  # EC2's rule below, not moto's
    amis = visible_amis(backend, region)
    if amis is backend.amis:
        images = list(backend.describe_images(**query))
    else:
        images = list(AmiBackend.describe_images(_View(backend, amis), **query))  # type: ignore[arg-type]
    named = set(query.get("ami_ids") or [])
    if exec_users and not named:
        images = _executable_by(images, account, exec_users)
    return [
        image
        for image in images
        if (include_disabled or image.state != "disabled")
        and (image.owner_id == account or include_deprecated or image.id in named or not is_deprecated(image, now))
    ]
