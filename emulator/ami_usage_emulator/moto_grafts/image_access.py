"""Who may see and use an AMI: EC2's launch permissions, judged for one caller.

One rule for every graft (DescribeImages, RunInstances, launch configurations, Image
Builder recipes, DescribeImageAttribute):

* The **owner** always sees its AMI; it may launch it while it is ``available``.
* Another account sees and may launch it only while it is ``available`` and one of its
  launch permissions applies to that account: ``UserId`` = the account, ``Group: all``
  (public), ``OrganizationArn`` of the organization the account belongs to, or
  ``OrganizationalUnitArn`` of an OU the account sits in or under (EC2: "When you share
  an AMI with an organization or an OU, all of the children accounts gain access to the
  AMI").  Membership comes from moto's Organizations backend (``CreateOrganization``,
  ``CreateAccount``, ``CreateOrganizationalUnit``, ``MoveAccount``).
* A disabled AMI has no launch permissions (DisableImage removes them), so no other
  account sees it; the check on ``available`` holds even if a permission were left.

``ConsumerAmi`` is what a non-owner is shown of another account's AMI: a copy of the
owner's object that reads tags from the *caller's* backend (AWS: "When you share an AMI,
your user-defined tags are not available to any AWS account that the AMI is shared
with"), lists only the launch permissions that concern the caller, and carries none of
the owner-only members (``DeregistrationProtection``, ``LastLaunchedTime``,
``SourceImageId`` / ``SourceImageRegion``).  The owner's object is never written to on a
consumer's behalf.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from moto.ec2.models.amis import Ami


def org_arns(account: str) -> frozenset[str]:
    """The organization ARN and the ARNs of every OU (with their ancestors) that ``account``
    belongs to, from moto's Organizations backend; empty outside any organization."""
    from moto.organizations.models import organizations_backends

    master, partition = organizations_backends.master_accounts.get(account, (account, "aws"))
    try:
        backend = organizations_backends[master][partition]
    except KeyError:
        return frozenset()
    org = backend.org
    if org is None:
        return frozenset()
    parents = {ou.id: ou for ou in backend.ou}
    member = next((a for a in backend.accounts if a.id == account), None)
    if member is None:
        return frozenset()
    arns = {org.arn}
    parent_id = member.parent_id
    while parent_id in parents:
        unit = parents[parent_id]
        if unit.type == "ORGANIZATIONAL_UNIT":
            arns.add(unit.arn)
        parent_id = unit.parent_id
    return frozenset(arns)


def grants(ami: Ami, account: str, orgs: frozenset[str]) -> list[dict[str, str]]:
    """The AMI's launch permissions that apply to ``account`` (member of ``orgs``)."""
    return [
        lp
        for lp in ami.launch_permissions
        if lp.get("UserId") == account
        or lp.get("Group") == "all"
        or lp.get("OrganizationArn") in orgs
        or lp.get("OrganizationalUnitArn") in orgs
    ]


def usable_by(ami: Ami, account: str, orgs: frozenset[str] | None = None) -> bool:
    """May ``account`` launch from the AMI (and so see it, when it does not own it)?"""
    if ami.state != "available":
        return False
    if ami.owner_id == account:
        return True
    return bool(grants(ami, account, org_arns(account) if orgs is None else orgs))


def is_deprecated(ami: Ami, now: datetime) -> bool:
    """Deprecated: a ``DeprecationTime`` in the past ("A deprecated AMI is an AMI whose
    deprecation date is in the past")."""
    stamp = getattr(ami, "deprecation_time", None)
    if not stamp:
        return False
    when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return when <= now


class ConsumerAmi:
    """Mixin: another account's AMI as a non-owner sees it (see the module docstring);
    ``of`` builds one as a subclass of the AMI's own class (``RegisteredAmi`` …)."""

    deregistration_protection = None  # owner only; shadows image_fields' property
    source_image_id = None
    source_image_region = None
    _classes: dict[type, type] = {}

    @classmethod
    def of(cls, ami: Ami, caller_backend: Any, permissions: list[dict[str, str]]) -> Ami:
        kind = cls._classes.get(type(ami))
        if kind is None:
            kind = cls._classes.setdefault(
                type(ami), type(f"Consumer{type(ami).__name__}", (cls, type(ami)), {"__module__": __name__})
            )
        view = kind.__new__(kind)
        state = {
            k: v
            for k, v in ami.__dict__.items()
            if not k.startswith("_emulator_") and k not in ("source_image_id", "source_image_region")
        }
        view.__dict__.update(state)
        view.__dict__.update(
            ec2_backend=caller_backend,  # tags: the caller's own, never the owner's
            launch_permissions=[dict(lp) for lp in permissions],
            last_launched_time=None,
            image_allowed=None,
        )
        return view  # type: ignore[no-any-return]


def foreign_amis(caller_backend: Any, region: str) -> dict[str, Ami]:
    """AMIs other accounts own in the Region that the caller may use, as it sees them."""
    from moto.ec2.models import ec2_backends

    account = caller_backend.account_id
    orgs = org_arns(account)
    found: dict[str, Ami] = {}
    for owner, backend_region, backend in list(ec2_backends.iter_backends()):
        if owner == account or backend_region != region:
            continue
        for ami in list(backend.amis.values()):
            if ami.owner_id != owner or ami.state != "available":
                continue
            permissions = grants(ami, account, orgs)
            if permissions:
                found[ami.id] = ConsumerAmi.of(ami, caller_backend, permissions)
    return found


def lookup(image_id: str, account: str, region: str) -> tuple[Ami | None, bool]:
    """(the AMI ``image_id`` as it exists in the Region, whether the caller owns it).

    The caller's own AMI first; else the owning account's object, wherever it is."""
    from moto.ec2.models import ec2_backends

    candidates = [
        backend.amis.get(image_id)
        for owner, backend_region, backend in list(ec2_backends.iter_backends())
        if backend_region == region and (owner == account or image_id in backend.amis)
    ]
    amis = [a for a in candidates if a is not None]
    own = next((a for a in amis if a.owner_id == account), None)
    if own is not None:
        return own, True
    foreign = next((a for a in amis if a.ec2_backend.account_id == a.owner_id), None)
    if foreign is not None:
        return foreign, False
    builtin = next(
        (a for a in amis if a.ec2_backend.account_id == account), None
    )  # moto's public AMIs, in every backend
    return builtin, False
