"""Using an AMI, as EC2 allows it: launches, sharing a disabled AMI, reading attributes.

moto launches from any id (``MOTO_ENABLE_AMI_VALIDATION`` unset), lets any account read
any attribute of the AMIs in its backend (moto's ~1,300 public AMIs are in every one)
and takes organization ARNs as they come.  Here (``image_access.py`` decides):

* **RunInstances** (and every launch moto makes through ``run_instances``: launch
  templates, Auto Scaling groups, fleets) from an AMI the account may not use is
  refused: ``InvalidAMIID.Malformed`` for an id that is not ``ami-…``;
  ``InvalidAMIID.Unavailable`` for the caller's own AMI that is disabled or deregistered
  ("A disabled AMI can't be used for instance launches"); ``InvalidAMIID.NotFound`` for
  an AMI it cannot see: unknown, never shared with it, unshared, disabled or deregistered
  by its owner (no hint of which).  With the caller's Allowed AMIs ``enabled``, another
  owner's AMI that meets no criterion is refused the same way ("only AMIs matching these
  criteria are discoverable and can be used by your account to launch instances").  An
  Auto Scaling group's launch that is refused launches nothing (the group is created,
  as on AWS, where the launch activity fails).  Instances already running are never
  touched ("EC2 instances that were previously launched using an AMI that is
  subsequently disabled are not affected").
* **ModifyImageAttribute** adding launch permissions to a disabled AMI is refused with
  ``OperationNotPermitted`` *(chosen)*: "A disabled AMI can't be shared".  An
  organization or OU given by its id rather than its ARN is refused with
  ``InvalidAMIAttributeItemValue`` ("You'll get an error if you specify only the ID").
"""

from __future__ import annotations

import re
from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.instances import InstanceBackend
from moto.ec2.responses import EC2Response

from ..clock import Clock
from ..once import once
from .allowed_images import AllowedImagesStore, allowed
from .graft import wrap
from .image_access import lookup, usable_by

ORG_ARN = re.compile(r"^arn:aws[a-z-]*:organizations::\d{12}:organization/o-[a-z0-9]{10,32}$")
OU_ARN = re.compile(r"^arn:aws[a-z-]*:organizations::\d{12}:ou/o-[a-z0-9]{10,32}/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$")


def not_found(image_id: str) -> EC2ClientError:
    return EC2ClientError("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")


class ImageUse:
    """The launch check (on ``clock`` and the callers' Allowed AMIs settings)."""

    def __init__(self, clock: Clock, allowed_images: AllowedImagesStore) -> None:
        self._clock = clock
        self._allowed_images = allowed_images

    def check_launch(self, backend: Any, image_id: str) -> None:
        """Raise EC2's refusal when ``backend``'s account may not launch from ``image_id``."""
        if not image_id.startswith("ami-"):
            raise EC2ClientError("InvalidAMIID.Malformed", f'Invalid id: "{image_id}" (expecting "ami-...")')
        account, region = backend.account_id, backend.region_name
        ami, owned = lookup(image_id, account, region)
        if owned and ami is not None and ami.state != "available":
            raise EC2ClientError("InvalidAMIID.Unavailable", f"The image id '[{image_id}]' is {ami.state}")
        if ami is None and image_id in backend.deleted_amis:
            raise EC2ClientError("InvalidAMIID.Unavailable", f"The image id '[{image_id}]' has been deregistered")
        if ami is None or not usable_by(ami, account):
            raise not_found(image_id)
        settings = self._allowed_images.get(account, region)
        if settings["state"] == "enabled" and not allowed(ami, account, settings, self._clock.now()):
            raise not_found(image_id)


def _image_of(backend: Any, image_id: str | None, kwargs: dict[str, Any]) -> str | None:
    if image_id or not kwargs.get("launch_template"):
        return image_id
    try:
        return backend._get_template_from_args(kwargs["launch_template"]).image_id
    except Exception:  # noqa: BLE001 - moto's own call reports a bad template
        return None


def _wrap_run_instances(use: ImageUse) -> Any:
    def make(original: Any) -> Any:
        def run_instances(self: Any, image_id: Any, count: Any, *args: Any, **kwargs: Any) -> Any:
            wanted = _image_of(self, image_id, kwargs)
            if wanted:
                try:
                    use.check_launch(self, wanted)
                except EC2ClientError:
                    if "launch_config" not in kwargs:  # RunInstances, fleets: the call fails
                        raise
                    from moto.ec2.models.instances import Reservation

                    return Reservation(reservation_id="r-refused", owner_id=self.account_id)  # ASG: no launch
            return original(self, image_id, count, *args, **kwargs)

        return run_instances

    return make


def _added_permissions(response: Any) -> list[dict[str, str]]:
    adds = list((response._get_param("LaunchPermission", {}) or {}).get("Add") or [])
    if response._get_param("OperationType") == "add":
        adds += [{"UserId": u} for u in response._get_param("UserIds", []) or []]
        adds += [{"Group": g} for g in response._get_param("UserGroups", []) or []]
        adds += [{"OrganizationArn": a} for a in response._get_param("OrganizationArns", []) or []]
        adds += [{"OrganizationalUnitArn": a} for a in response._get_param("OrganizationalUnitArns", []) or []]
    return adds


def _wrap_modify_attribute(original: Any) -> Any:
    def modify_image_attribute(self: Any) -> Any:
        adds = _added_permissions(self)
        removes = list((self._get_param("LaunchPermission", {}) or {}).get("Remove") or [])
        for lp in adds + removes:
            for key, pattern in (("OrganizationArn", ORG_ARN), ("OrganizationalUnitArn", OU_ARN)):
                if key in lp and not pattern.match(str(lp[key])):
                    raise EC2ClientError(
                        "InvalidAMIAttributeItemValue",
                        f'Invalid attribute item value "{lp[key]}" for {key} item type: expecting an ARN',
                    )
        ami = self.ec2_backend.amis.get(self._get_param("ImageId"))
        if ami is not None and ami.state == "disabled" and adds:
            raise EC2ClientError(
                "OperationNotPermitted", f"The image {ami.id} is disabled: a disabled AMI can't be shared."
            )
        return original(self)

    return modify_image_attribute


@once
def install(use: ImageUse) -> None:
    wrap(InstanceBackend, "run_instances", _wrap_run_instances(use))
    wrap(EC2Response, "modify_image_attribute", _wrap_modify_attribute)
