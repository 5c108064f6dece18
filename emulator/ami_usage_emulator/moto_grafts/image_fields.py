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
  (``owner_usage.LastLaunched``), set on the page's AMIs before it is rendered.
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

from ..clock import Clock
from ..once import once
from ..wire import iso_millis
from .allowed_images import AllowedImagesStore, allowed
from .graft import MillisResult, graft, wrap
from .owner_usage import LastLaunched, format_last_launched

COOLDOWN = timedelta(hours=24)


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


class ImageFields:
    """The members' state and their actions (grafted onto moto's EC2Response; each action
    takes the request's response), judged on ``clock``; ``prepare_page`` readies a
    DescribeImages page for its caller."""

    def __init__(self, clock: Clock, launches: LastLaunched, allowed_images: AllowedImagesStore) -> None:
        self._clock = clock
        self._launches = launches
        self._allowed_images = allowed_images

    def protection(self, ami: Ami) -> str:
        """The AMI's ``DeregistrationProtection`` now."""
        state = ami.__dict__.get("_emulator_protection", "disabled")
        until = ami.__dict__.get("_emulator_protection_until")
        if state == "disabled" and until is not None and self._clock.now() < until:
            return f"disabled-until-{until.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        return str(state)

    def enable_image_deregistration_protection(self, response: Any) -> MillisResult:
        ami = _owned_ami(response)
        cooldown = _true(response._get_param("WithCooldown"))
        ami.__dict__["_emulator_protection"] = "enabled-with-cooldown" if cooldown else "enabled-without-cooldown"
        ami.__dict__["_emulator_protection_until"] = None
        return MillisResult({"Return": "true"})

    def disable_image_deregistration_protection(self, response: Any) -> MillisResult:
        ami = _owned_ami(response)
        if ami.__dict__.get("_emulator_protection") == "enabled-with-cooldown":
            ami.__dict__["_emulator_protection_until"] = self._clock.now() + COOLDOWN
        ami.__dict__["_emulator_protection"] = "disabled"
        return MillisResult({"Return": "true"})

    def enable_image_deprecation(self, response: Any) -> MillisResult:
        raw = response._get_param("DeprecateAt")
        if raw is None:
            raise EC2ClientError("MissingParameter", "The request must contain the parameter DeprecateAt")
        ami = _owned_ami(response)
        when = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        when = when.replace(tzinfo=when.tzinfo or UTC).astimezone(UTC)
        when = (when + timedelta(seconds=30)).replace(second=0, microsecond=0)  # to the nearest minute
        if when <= self._clock.now():
            raise EC2ClientError("InvalidParameterValue", "The deprecation time must be in the future.")
        ami.__dict__["deprecation_time"] = iso_millis(when)
        return MillisResult({"Return": True})

    def disable_image_deprecation(self, response: Any) -> MillisResult:
        _owned_ami(response).__dict__.pop("deprecation_time", None)
        return MillisResult({"Return": True})

    def prepare_page(self, response: Any, page: list[Ami]) -> None:
        """Set each AMI's ``LastLaunchedTime`` (the owner only) and ``ImageAllowed`` as this caller sees them."""
        owned = {ami.id for ami in page if ami.owner_id == response.current_account}
        launches = self._launches.published(response.region, owned) if owned else {}
        settings = self._allowed_images.get(response.current_account, response.region)
        now = self._clock.now()
        for ami in page:
            when = launches.get(ami.id)
            ami.__dict__["last_launched_time"] = format_last_launched(when) if when else None
            ami.__dict__["image_allowed"] = (
                None if settings["state"] == "disabled" else allowed(ami, response.current_account, settings, now)
            )


def _wrap_deregister(fields: ImageFields) -> Any:
    def make(original: Any) -> Any:
        def deregister_image(self: Any) -> Any:
            ami = self.ec2_backend.amis.get(self._get_param("ImageId"))
            if ami is not None and fields.protection(ami) != "disabled":
                raise EC2ClientError(
                    "OperationNotPermitted",
                    f"The image {ami.id} has deregistration protection "
                    f"({fields.protection(ami)}). Disable it before deregistering the image.",
                )
            return original(self)

        return deregister_image

    return make


def _wrap_copy(original: Any) -> Any:
    def copy_image(self: Any) -> Any:
        result = original(self)
        ami = self.ec2_backend.amis[result.result["ImageId"]]
        ami.source_image_id = self._get_param("SourceImageId")
        ami.source_image_region = self._get_param("SourceRegion")
        return result

    return copy_image


def _wrap_disable(original: Any) -> Any:
    def disable_image(self: Any) -> Any:
        result = original(self)
        self.ec2_backend.amis[self._get_param("ImageId")].launch_permissions = []
        return result

    return disable_image


ACTIONS = (
    "enable_image_deregistration_protection",
    "disable_image_deregistration_protection",
    "enable_image_deprecation",
    "disable_image_deprecation",
)


@once
def install(fields: ImageFields) -> None:
    """The members on moto's Ami, the actions and the wrappers on its EC2Response (the page
    preparation is handed to ``image_pages`` by ``install.py``)."""
    Ami.deregistration_protection = property(fields.protection)  # type: ignore[attr-defined]
    for attr in ("deprecation_time", "source_image_id", "source_image_region", "last_launched_time", "image_allowed"):
        setattr(Ami, attr, None)
    for name in ACTIONS:
        graft(EC2Response, name, getattr(fields, name))
    wrap(EC2Response, "deregister_image", _wrap_deregister(fields))
    wrap(EC2Response, "copy_image", _wrap_copy)
    wrap(EC2Response, "disable_image", _wrap_disable)
