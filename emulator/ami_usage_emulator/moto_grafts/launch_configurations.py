"""Auto Scaling ``DescribeLaunchConfigurations`` paged as AWS pages it.

moto serves Auto Scaling (launch configurations, groups at any desired capacity)
through botocore's model already; its paging of DescribeLaunchConfigurations uses
the last *name* as ``NextToken``, so a bad token or a launch configuration deleted
between two pages makes it crash (HTTP 500).  Here:

* ``MaxRecords`` defaults to 50 and must be 1-100 (the model's documentation),
  else ``ValidationError``.
* The order is by name and the token is opaque, keyed on the last name returned,
  so deleting or creating launch configurations between pages neither skips nor
  repeats the others.  A token that is not one of ours fails with
  ``InvalidNextToken`` (the operation's modelled error).

CreateLaunchConfiguration refuses an ``ImageId`` that is not an available AMI the
caller owns, or that is shared with it or public, in the Region (``ValidationError``
"The image id '[ami-…]' does not exist", AWS's answer); moto accepted any id.

Launch configurations are never counted by usage reports nor by
DescribeImageReferences: AWS covers neither (only instances, launch templates,
SSM parameters and Image Builder recipes).
"""

from __future__ import annotations

from typing import Any

from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult

from ..once import once
from ..wire import opaque_token, read_token
from .image_access import lookup, usable_by

DEFAULT_RECORDS, MAX_RECORDS = 50, 100


class InvalidNextToken(AutoscalingClientError):
    code = "InvalidNextToken"


def _encode(after: str) -> str:
    return opaque_token({"kind": "launch-configurations", "after": after}, compact=True)


def _decode(token: str) -> str:
    try:
        decoded = read_token(token)
        if decoded.get("kind") != "launch-configurations" or not isinstance(decoded.get("after"), str):
            raise ValueError("foreign token")
        return str(decoded["after"])
    except (ValueError, AttributeError):
        raise InvalidNextToken("The token is not valid.") from None


def _max_records(raw: Any) -> int:
    if raw is None:
        return DEFAULT_RECORDS
    n = int(raw)
    if not 1 <= n <= MAX_RECORDS:
        raise ValidationError(
            f"1 validation error detected: Value '{n}' at 'maxRecords' failed to "
            f"satisfy constraint: Member must have value between 1 and {MAX_RECORDS}"
        )
    return n


def describe_launch_configurations(self: Any) -> ActionResult:
    names = self._get_param("LaunchConfigurationNames", []) or []
    size = _max_records(self._get_param("MaxRecords"))
    token = self._get_param("NextToken")
    after = _decode(token) if token else None
    found = sorted(self.autoscaling_backend.describe_launch_configurations(names), key=lambda lc: lc.name)
    rest = [lc for lc in found if after is None or lc.name > after]
    page = rest[:size]
    result: dict[str, Any] = {"LaunchConfigurations": page}
    if len(rest) > size:
        result["NextToken"] = _encode(page[-1].name)
    return ActionResult(result)


def _wrap_create(original: Any) -> Any:
    def create_launch_configuration(self: Any) -> Any:
        """moto's CreateLaunchConfiguration, refusing an AMI the caller cannot use (as AWS does)."""
        image_id = self._get_param("ImageId")
        if image_id and not self._get_param("InstanceId") and not _usable(self.current_account, self.region, image_id):
            raise ValidationError(f"The image id '[{image_id}]' does not exist")
        return original(self)

    create_launch_configuration.__name__ = "create_launch_configuration"
    return create_launch_configuration


def _usable(account: str, region: str, image_id: str) -> bool:
    """The AMI is available in the Region and the account may use it (``image_access``)."""
    ami, _ = lookup(image_id, account, region)
    return ami is not None and usable_by(ami, account)


@once
def install() -> None:
    describe_launch_configurations.__name__ = "describe_launch_configurations"
    AutoScalingResponse.describe_launch_configurations = describe_launch_configurations
    AutoScalingResponse.create_launch_configuration = _wrap_create(AutoScalingResponse.create_launch_configuration)
