"""AMI state moto lacks, shown by DescribeImages as EC2 shows it.

moto 5.2.5's ``Ami`` has none of ``DeregistrationProtection``, ``DeprecationTime``,
``SourceImageId`` / ``SourceImageRegion``, ``LastLaunchedTime`` nor ``ImageAllowed``,
no Enable/DisableImageDeregistrationProtection nor Enable/DisableImageDeprecation, and
its DescribeImages lists disabled AMIs.  Here (state per AMI object, so per account):

* ``DeregistrationProtection``: ``disabled`` (default), ``enabled-without-cooldown``,
  ``enabled-with-cooldown``; disabling protection that was enabled with the cooldown
  shows ``disabled-until-<time + 24 h>`` until then.  DeregisterImage is refused with
  ``OperationNotPermitted`` while protection is enabled or the cooldown runs.
* ``DeprecationTime`` from EnableImageDeprecation (rounded to the minute, must be in the
  future on the emulator clock), removed by DisableImageDeprecation.
* ``SourceImageId`` / ``SourceImageRegion`` on an AMI made by CopyImage.
* ``LastLaunchedTime`` for the owner only, lagged like DescribeImageAttribute's
  (``owner_usage.published_launches``), set on the page's AMIs before it is rendered.
* DisableImage also removes the AMI's launch permissions, as on AWS.
* ``ImageAllowed`` as the caller's Allowed AMIs settings decide (``allowed_images.py``):
  absent while they are ``disabled`` (the default).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.amis import Ami
from moto.ec2.responses import EC2Response

from ..once import once
from ..state import STATE
from ..wire import iso_millis
from . import allowed_images, image_pages
from .owner_usage import format_last_launched, published_launches
from .report_actions import MillisResult

COOLDOWN = timedelta(hours=24)


def _protection(self: Ami) -> str:
    state = self.__dict__.get("_emulator_protection", "disabled")
    until = self.__dict__.get("_emulator_protection_until")
    if state == "disabled" and until is not None and STATE.clock.now() < until:
        return f"disabled-until-{until.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    return str(state)


def _owned_ami(response: Any) -> Ami:
    image_id = response._get_param("ImageId")
    if not image_id:
        raise EC2ClientError("MissingParameter", "The request must contain the parameter ImageId")
    ami = response.ec2_backend.amis.get(image_id)
    if ami is None or ami.owner_id != response.current_account:
        raise EC2ClientError("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")
    response.error_on_dryrun()
    return ami


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class ImageFieldActions(EC2Response):
    """Methods grafted onto moto's EC2Response."""

    def enable_image_deregistration_protection(self) -> MillisResult:
        ami = _owned_ami(self)
        cooldown = _true(self._get_param("WithCooldown"))
        ami.__dict__["_emulator_protection"] = "enabled-with-cooldown" if cooldown else "enabled-without-cooldown"
        ami.__dict__["_emulator_protection_until"] = None
        return MillisResult({"Return": "true"})

    def disable_image_deregistration_protection(self) -> MillisResult:
        ami = _owned_ami(self)
        if ami.__dict__.get("_emulator_protection") == "enabled-with-cooldown":
            ami.__dict__["_emulator_protection_until"] = STATE.clock.now() + COOLDOWN
        ami.__dict__["_emulator_protection"] = "disabled"
        return MillisResult({"Return": "true"})

    def enable_image_deprecation(self) -> MillisResult:
        raw = self._get_param("DeprecateAt")
        if raw is None:
            raise EC2ClientError("MissingParameter", "The request must contain the parameter DeprecateAt")
        ami = _owned_ami(self)
        when = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        when = when.replace(tzinfo=when.tzinfo or UTC).astimezone(UTC)
        when = (when + timedelta(seconds=30)).replace(second=0, microsecond=0)  # to the nearest minute
        if when <= STATE.clock.now():
            raise EC2ClientError("InvalidParameterValue", "The deprecation time must be in the future.")
        ami.__dict__["deprecation_time"] = iso_millis(when)
        return MillisResult({"Return": True})

    def disable_image_deprecation(self) -> MillisResult:
        _owned_ami(self).__dict__.pop("deprecation_time", None)
        return MillisResult({"Return": True})


def _wrap_deregister(original: Any) -> Any:
    def deregister_image(self: Any) -> Any:
        ami = self.ec2_backend.amis.get(self._get_param("ImageId"))
        if ami is not None and _protection(ami) != "disabled":
            raise EC2ClientError(
                "OperationNotPermitted",
                f"The image {ami.id} has deregistration protection "
                f"({_protection(ami)}). Disable it before deregistering the image.",
            )
        return original(self)

    deregister_image.__name__ = "deregister_image"
    return deregister_image


def _wrap_copy(original: Any) -> Any:
    def copy_image(self: Any) -> Any:
        result = original(self)
        ami = self.ec2_backend.amis[result.result["ImageId"]]
        ami.source_image_id = self._get_param("SourceImageId")
        ami.source_image_region = self._get_param("SourceRegion")
        return result

    copy_image.__name__ = "copy_image"
    return copy_image


def _wrap_disable(original: Any) -> Any:
    def disable_image(self: Any) -> Any:
        result = original(self)
        self.ec2_backend.amis[self._get_param("ImageId")].launch_permissions = []
        return result

    disable_image.__name__ = "disable_image"
    return disable_image


def prepare_page(response: Any, page: list[Ami]) -> None:
    """Set each AMI's ``LastLaunchedTime`` (the owner only) and ``ImageAllowed`` as this caller sees them."""
    owned = {ami.id for ami in page if ami.owner_id == response.current_account}
    launches = published_launches(response.region, owned) if owned else {}
    settings = allowed_images.ALLOWED.get(response.current_account, response.region)
    now = STATE.clock.now()
    for ami in page:
        when = launches.get(ami.id)
        ami.__dict__["last_launched_time"] = format_last_launched(when) if when else None
        ami.__dict__["image_allowed"] = (
            None
            if settings["state"] == "disabled"
            else allowed_images.allowed(ami, response.current_account, settings, now)
        )


ACTIONS = (
    "enable_image_deregistration_protection",
    "disable_image_deregistration_protection",
    "enable_image_deprecation",
    "disable_image_deprecation",
)


@once
def install() -> None:
    Ami.deregistration_protection = property(_protection)  # type: ignore[attr-defined]
    for attr in ("deprecation_time", "source_image_id", "source_image_region", "last_launched_time", "image_allowed"):
        setattr(Ami, attr, None)
    for name in ACTIONS:
        setattr(EC2Response, name, ImageFieldActions.__dict__[name])
    EC2Response.deregister_image = _wrap_deregister(EC2Response.deregister_image)
    EC2Response.copy_image = _wrap_copy(EC2Response.copy_image)
    EC2Response.disable_image = _wrap_disable(EC2Response.disable_image)
    image_pages.BEFORE_RENDER.append(prepare_page)
    allowed_images.install()
