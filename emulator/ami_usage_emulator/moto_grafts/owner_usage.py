"""Use of AMIs inside the caller's own account: ``DescribeImageReferences`` and
``DescribeImageAttribute`` ``lastLaunchedTime``, computed from what moto holds.

Same fidelity rule as the usage-report actions: the methods are grafted onto moto's
``EC2Response``, so botocore's own EC2 model parses the request and serialises the
result (element names, ``<item>`` lists, ``nextToken``) — the wire format is AWS's
by construction, which boto3 and the AWS CLI check in the tests.

* ``DescribeImageReferences`` lists the *caller's* resources referencing the images:
  instances (option ``state-name``, default all states), launch templates whose
  newest ``version-depth`` versions (default 10) use the image, and SSM parameters
  whose current value is the image id, and the caller's Image Builder image and
  container recipes that build on it (``services/recipes.py``).  It answers about any
  image id, also one shared with the caller (a member account's probe): the answer
  covers the caller's own resources only.
* ``DescribeImageAttribute`` answers only the AMI's owner for ``launchPermission``,
  ``lastLaunchedTime`` and ``deregistrationProtection`` (another account that can see
  the AMI gets ``AuthFailure``, one that cannot ``InvalidAMIID.NotFound``); moto answered
  any account for any AMI in its backend, its ~1,300 public ones included.
* ``lastLaunchedTime`` is the latest launch of the image by any account in the
  Region, as moto's instances record it.  AWS publishes it with up to 24 h delay;
  the emulator hides launches younger than ``last_launched_lag_seconds`` (default 0:
  published at once; instance *reports* have their own knob,
  ``instance_activity_lag_seconds``).  DescribeImages shows the same value to the
  owner (``image_fields.py``).

moto's instance launch times follow the emulator clock (``moto_clock.py``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses import EC2Response

from ..clock import Clock, as_utc
from ..config import Config
from ..listing import InvalidToken, paginate
from ..once import once
from ..services.recipes import CONTAINER_RECIPE, IMAGE_RECIPE, RecipeStore
from .graft import MillisResult, graft, wrap
from .image_access import lookup, usable_by

INSTANCE = "ec2:Instance"
LAUNCH_TEMPLATE = "ec2:LaunchTemplate"
SSM_PARAMETER = "ssm:Parameter"
RESOURCE_TYPES = (INSTANCE, LAUNCH_TEMPLATE, SSM_PARAMETER, IMAGE_RECIPE, CONTAINER_RECIPE)
INSTANCE_STATES = ("pending", "running", "shutting-down", "terminated", "stopping", "stopped")
DEFAULT_VERSION_DEPTH = 10
MAX_IMAGE_IDS = 10
AMI_ID_RE = re.compile(r"^ami-[0-9a-f]{8,17}$")


def _bad(message: str) -> EC2ClientError:
    return EC2ClientError("InvalidParameterValue", message)


def _scope(include_all: bool, raw: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Resource type -> options, AWS's defaults filled in."""
    defaults = {
        INSTANCE: {"state-name": list(INSTANCE_STATES)},
        LAUNCH_TEMPLATE: {"version-depth": DEFAULT_VERSION_DEPTH},
    }
    scope: dict[str, dict[str, Any]] = {t: dict(defaults.get(t, {})) for t in RESOURCE_TYPES} if include_all else {}
    for item in raw:
        rtype = item.get("ResourceType")
        if rtype not in RESOURCE_TYPES:
            raise _bad(
                f"Value ({rtype}) for parameter ResourceType is invalid. Valid values: " + " | ".join(RESOURCE_TYPES)
            )
        options = scope.setdefault(rtype, dict(defaults.get(rtype, {})))
        for opt in item.get("ResourceTypeOptions") or []:
            name, values = opt.get("OptionName"), [str(v) for v in opt.get("OptionValues") or []]
            if rtype == INSTANCE and name == "state-name":
                bad = [v for v in values if v not in INSTANCE_STATES]
                if bad or not values:
                    raise _bad(
                        f"Value ({','.join(bad)}) for option state-name is invalid. Valid "
                        "values: " + " | ".join(INSTANCE_STATES)
                    )
                options["state-name"] = values
            elif rtype == LAUNCH_TEMPLATE and name == "version-depth":
                if len(values) != 1 or not values[0].isdigit() or not 1 <= int(values[0]) <= 10000:
                    raise _bad(
                        f"Value ({','.join(values)}) for option version-depth is invalid. "
                        "Specify one integer between 1 and 10000"
                    )
                options["version-depth"] = int(values[0])
            else:
                raise _bad(f"Option {name} is not valid for resource type {rtype}")
    return scope


def _ssm_parameters(account: str, region: str) -> list[tuple[str, str]]:
    """(name, current value) of the account's SSM parameters in the Region."""
    from moto.ssm.models import ssm_backends

    try:
        params = ssm_backends[account][region]._parameters
    except KeyError:
        return []
    return [(name, versions[-1].value) for name, versions in list(params.items()) if versions]


def references(
    recipes: RecipeStore,
    backend: Any,
    account: str,
    region: str,
    image_ids: list[str],
    scope: dict[str, dict[str, Any]],
) -> list[dict[str, str]]:
    """The caller's resources referencing the images, image by image, ARNs sorted."""
    out: list[dict[str, str]] = []
    ssm = _ssm_parameters(account, region) if SSM_PARAMETER in scope else []
    for image_id in dict.fromkeys(image_ids):
        found: list[tuple[str, str]] = []
        if INSTANCE in scope:
            states = set(scope[INSTANCE]["state-name"])
            found += [
                (INSTANCE, f"arn:aws:ec2:{region}:{account}:instance/{i.id}")
                for i in backend.all_instances()
                if i.image_id == image_id and i.state in states
            ]
        if LAUNCH_TEMPLATE in scope:
            depth = scope[LAUNCH_TEMPLATE]["version-depth"]
            found += [
                (LAUNCH_TEMPLATE, f"arn:aws:ec2:{region}:{account}:launch-template/{t.id}")
                for t in list(backend.launch_templates.values())
                if any(v.image_id == image_id for v in t.versions[-depth:])
            ]
        found += [
            (SSM_PARAMETER, f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}")
            for name, value in ssm
            if value == image_id
        ]
        found += [
            (r.resource_type, r.arn) for r in recipes.referencing(account, region, image_id) if r.resource_type in scope
        ]
        out += [{"ImageId": image_id, "ResourceType": t, "Arn": arn} for t, arn in sorted(found)]
    return out


class LastLaunched:
    """``lastLaunchedTime`` as EC2 publishes it: the latest launch of an image by any
    account in the Region, hiding launches younger than the config's
    ``last_launched_lag_seconds`` on the emulator clock."""

    def __init__(self, clock: Clock, config: Config) -> None:
        self._clock = clock
        self._config = config

    def published(self, region: str, image_ids: set[str]) -> dict[str, datetime]:
        """Image id -> its latest published launch."""
        from moto.ec2.models import ec2_backends

        lag = self._config.get("last_launched_lag_seconds")
        cutoff = self._clock.now() - timedelta(seconds=lag)
        latest: dict[str, datetime] = {}
        for _, backend_region, backend in list(ec2_backends.iter_backends()):
            if backend_region != region:
                continue
            for inst in backend.all_instances():
                when = as_utc(inst.launch_time) if inst.image_id in image_ids else None
                if when is not None and (lag <= 0 or when <= cutoff):
                    latest[inst.image_id] = max(when, latest.get(inst.image_id, when))
        return latest

    def of(self, region: str, image_id: str) -> datetime | None:
        return self.published(region, {image_id}).get(image_id)


def format_last_launched(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class ImageReferences:
    """DescribeImageReferences, grafted onto moto's EC2Response; counts the recipes of ``recipes``."""

    def __init__(self, recipes: RecipeStore) -> None:
        self._recipes = recipes

    def describe_image_references(self, response: Any) -> MillisResult:
        image_ids = response._get_param("ImageIds", [])
        if not image_ids:
            raise EC2ClientError("MissingParameter", "The request must contain the parameter ImageId")
        if len(image_ids) > MAX_IMAGE_IDS:
            raise _bad(f"You can specify at most {MAX_IMAGE_IDS} image IDs")
        for image_id in image_ids:
            if not AMI_ID_RE.match(image_id):
                raise EC2ClientError("InvalidAMIID.Malformed", f'Invalid id: "{image_id}" (expecting "ami-...")')
        include_all = bool(response._get_param("IncludeAllResourceTypes"))
        raw = response._get_param("ResourceTypes", [])
        if not include_all and not raw:
            raise EC2ClientError(
                "MissingParameter", "Either IncludeAllResourceTypes or ResourceTypes must be specified"
            )
        scope = _scope(include_all, raw)
        max_results = response._get_param("MaxResults")
        if max_results is not None and not 5 <= int(max_results) <= 1000:
            raise _bad(
                f"Value ({max_results}) for parameter MaxResults is invalid. Expecting a value between 5 and 1000."
            )
        response.error_on_dryrun()
        refs = references(
            self._recipes, response.ec2_backend, response.current_account, response.region, image_ids, scope
        )
        try:
            page, token = paginate(
                refs,
                lambda r: [image_ids.index(r["ImageId"]), r["ResourceType"], r["Arn"]],
                int(max_results or 1000),
                response._get_param("NextToken"),
                "references",
            )
        except InvalidToken as err:
            raise EC2ClientError(err.code, err.message) from None
        result: dict[str, Any] = {"ImageReferences": page}
        if token:
            result["NextToken"] = token
        return MillisResult(result)


OWNER_ONLY_ATTRIBUTES = ("launchPermission", "lastLaunchedTime", "deregistrationProtection")


def _owned_for_attribute(response: Any) -> Any:
    """The caller's AMI whose attribute it may read, or EC2's refusal; None: moto answers
    (a non-owner attribute of a public AMI moto holds in the caller's backend)."""
    image_id, attribute = response._get_param("ImageId") or "", response._get_param("Attribute")
    if not image_id.startswith("ami-"):
        raise EC2ClientError("InvalidAMIID.Malformed", f'Invalid id: "{image_id}" (expecting "ami-...")')
    ami, owned = lookup(image_id, response.current_account, response.region)
    if ami is not None and owned:
        return ami
    if ami is None or not usable_by(ami, response.current_account):
        raise EC2ClientError("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")
    if attribute in OWNER_ONLY_ATTRIBUTES or image_id not in response.ec2_backend.amis:
        raise EC2ClientError("AuthFailure", f"Not authorized for image:{image_id}")
    return None


def _describe_image_attribute(launches: LastLaunched) -> Any:
    def make(original: Any) -> Any:
        def describe_image_attribute(self: Any) -> Any:
            """moto's DescribeImageAttribute for the AMI's owner only where EC2 says so,
            plus ``lastLaunchedTime`` and ``deregistrationProtection`` (moto has neither)."""
            attribute = self._get_param("Attribute")
            ami = _owned_for_attribute(self)
            if ami is None or attribute not in ("lastLaunchedTime", "deregistrationProtection"):
                return original(self)
            self.error_on_dryrun()
            if attribute == "deregistrationProtection":
                value = {"Value": ami.deregistration_protection}
                return MillisResult({"ImageId": ami.id, "DeregistrationProtection": value})
            when = launches.of(self.region, ami.id)
            value = {"Value": format_last_launched(when)} if when else {}
            return MillisResult({"ImageId": ami.id, "LastLaunchedTime": value})

        return describe_image_attribute

    return make


@once
def install(image_references: ImageReferences, launches: LastLaunched) -> None:
    """Graft DescribeImageReferences and DescribeImageAttribute's lastLaunchedTime onto moto."""
    graft(EC2Response, "describe_image_references", image_references.describe_image_references)
    wrap(EC2Response, "describe_image_attribute", _describe_image_attribute(launches))
