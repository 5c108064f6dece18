"""AWS Recycle Bin's rule actions, served on botocore's ``rbin`` model (rest-json).

moto has no ``rbin``: the WSGI wrapper hands requests signed for it here, as it does
Image Builder's (``imagebuilder_api.py``).  The operation is found from the HTTP method
and the model's request URI template (``PATCH /rules/{identifier}/lock`` …), the answer
or the modelled error (status, ``X-Amzn-Errortype``, ``Reason``) written by moto's
rest-json serializer.  Served: CreateRule, GetRule, ListRules, UpdateRule, DeleteRule,
LockRule, UnlockRule (rules live in ``recycle_bin.py``).  Tagging a rule answers
``ValidationException`` naming the operation (not emulated).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from moto.core.serialize import RestJSONSerializer
from moto.core.utils import get_service_model

from ..aws_request import AwsCall, buffer_body
from ..clock import Clock
from ..listing import InvalidToken, paginate
from ..wire import serialized_response
from .recycle_bin import RESOURCE_TYPES, RbinError, RecycleBin, Rule, tag_pairs

MODEL = get_service_model("rbin")
DESCRIPTION_RE = re.compile(r"^[\S ]{0,255}$")
# Retention the console and the user guide allow per resource type (the model allows 3650).
MAX_RETENTION_DAYS = {"EC2_IMAGE": 365, "EBS_SNAPSHOT": 365, "EBS_VOLUME": 7}


def _invalid(message: str) -> RbinError:
    return RbinError("ValidationException", message, "INVALID_PARAMETER_VALUE")


def _conflict(rule: Rule, state: str) -> RbinError:
    return RbinError(
        "ConflictException", f"The rule {rule.identifier} is {state} and can't be changed.", "INVALID_RULE_STATE"
    )


def _resource_type(params: dict[str, Any]) -> str:
    value = params.get("ResourceType")
    if value not in RESOURCE_TYPES:
        raise _invalid(f"ResourceType must be one of {', '.join(RESOURCE_TYPES)}, not {value!r}")
    return str(value)


def _retention(params: dict[str, Any], resource_type: str) -> int:
    period = params.get("RetentionPeriod")
    if not isinstance(period, dict) or period.get("RetentionPeriodUnit") != "DAYS":
        raise _invalid("RetentionPeriod needs RetentionPeriodValue and RetentionPeriodUnit DAYS")
    days = period.get("RetentionPeriodValue")
    limit = MAX_RETENTION_DAYS[resource_type]
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= limit:
        raise _invalid(f"RetentionPeriodValue for {resource_type} must be between 1 and {limit} days, not {days}")
    return days


def _unlock_delay(params: dict[str, Any]) -> int:
    delay = (params.get("LockConfiguration") or {}).get("UnlockDelay")
    if not isinstance(delay, dict) or delay.get("UnlockDelayUnit") != "DAYS":
        raise _invalid("LockConfiguration needs UnlockDelay with UnlockDelayValue and UnlockDelayUnit DAYS")
    days = delay.get("UnlockDelayValue")
    if isinstance(days, bool) or not isinstance(days, int) or not 7 <= days <= 30:
        raise _invalid(f"UnlockDelayValue must be between 7 and 30 days, not {days}")
    return days


def _selection(params: dict[str, Any]) -> tuple[list[dict[str, str]], list[dict[str, str]], str]:
    tags = tag_pairs(params.get("ResourceTags"), "ResourceTags")
    excluded = tag_pairs(params.get("ExcludeResourceTags"), "ExcludeResourceTags")
    if len(tags) > 50 or len(excluded) > 5:
        raise _invalid("A rule takes at most 50 ResourceTags and 5 ExcludeResourceTags")
    if tags and excluded:
        raise _invalid("ExcludeResourceTags apply to Region-level rules only: a rule with ResourceTags can't have them")
    description = params.get("Description") or ""
    if not isinstance(description, str) or not DESCRIPTION_RE.match(description):
        raise _invalid("Description must be at most 255 characters without line breaks")
    return tags, excluded, description


def _lockable(rule: Rule) -> None:
    if rule.resource_tags or rule.exclude_tags:
        raise _invalid("Only a Region-level rule without exclusion tags can be locked")


ACTIONS = {
    "CreateRule": "_create",
    "GetRule": "_get",
    "ListRules": "_list",
    "UpdateRule": "_update",
    "DeleteRule": "_delete",
    "LockRule": "_lock",
    "UnlockRule": "_unlock",
}


def _route_pattern(uri: str) -> re.Pattern[str]:
    path = uri.split("?")[0]
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")


ROUTES = [
    (MODEL.operation_model(n).http["method"], _route_pattern(MODEL.operation_model(n).http["requestUri"]), n)
    for n in MODEL.operation_names
]


def operation_of(call: AwsCall) -> tuple[str | None, dict[str, str]]:
    """The operation a request names and its URI members (``identifier`` …)."""
    path = call.path.rstrip("/") or "/"
    for method, pattern, name in ROUTES:
        match = pattern.match(path)
        if method == call.method and match:
            return name, match.groupdict()
    return None, {}


def _input(op: Any, uri: dict[str, str], environ: dict[str, Any]) -> dict[str, Any]:
    raw = buffer_body(environ)
    params: dict[str, Any] = json.loads(raw) if raw.strip() else {}
    if not isinstance(params, dict):
        raise _invalid("The request body is not a JSON object")
    for member, shape in op.input_shape.members.items():
        if shape.serialization.get("location") == "uri" and shape.serialization.get("name") in uri:
            params[member] = uri[shape.serialization["name"]]
    return params


def respond(op: Any, result: Any, start_response: Any) -> list[bytes]:
    """Write ``result`` (an output dict or an RbinError) as rbin does."""
    if isinstance(result, RbinError):
        result.Message, result.Reason = result.message, result.reason  # the error shape's members
    return serialized_response(RestJSONSerializer(op).serialize(result), start_response)


class RecycleBinApi:
    """The rule actions on ``recycle_bin``'s rules, judged on ``clock``."""

    def __init__(self, recycle_bin: RecycleBin, clock: Clock) -> None:
        self._bin = recycle_bin
        self._clock = clock

    def handle(self, call: AwsCall, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        """Answer one Recycle Bin request."""
        name, uri = operation_of(call)
        op = MODEL.operation_model(name or "ListRules")
        result: Any
        try:
            if name not in ACTIONS:
                raise _invalid(f"The emulator does not implement Recycle Bin operation {name or call.path}")
            result = getattr(self, ACTIONS[name])(call, _input(op, uri, environ))
        except RbinError as err:
            result = err
        except ValueError as err:
            result = _invalid(f"The request is not valid: {err}")
        return respond(op, result, start_response)

    def _create(self, call: AwsCall, params: dict[str, Any]) -> dict[str, Any]:
        resource_type = _resource_type(params)
        days = _retention(params, resource_type)
        tags, excluded, description = _selection(params)
        rule = Rule("", call.account, call.region, resource_type, days, description, tags, excluded)
        rule.tags = list(params.get("Tags") or [])
        if params.get("LockConfiguration") is not None:
            rule.unlock_delay_days = _unlock_delay(params)
            _lockable(rule)
        self._bin.add_rule(rule)
        out = rule.to_output(self._clock.now(), full=True)
        out.pop("LockEndTime", None)
        return {**out, "Tags": rule.tags}

    def _get(self, call: AwsCall, params: dict[str, Any]) -> dict[str, Any]:
        return self._bin.rule(call.account, call.region, str(params.get("Identifier"))).to_output(
            self._clock.now(), True
        )

    def _list(self, call: AwsCall, params: dict[str, Any]) -> dict[str, Any]:
        resource_type = _resource_type(params)
        size = params.get("MaxResults") or 1000
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1000:
            raise _invalid(f"MaxResults must be between 1 and 1000, not {size}")
        lock_state = params.get("LockState")
        if lock_state not in (None, "locked", "pending_unlock", "unlocked"):
            raise _invalid(f"LockState must be locked, pending_unlock or unlocked, not {lock_state!r}")
        wanted = tag_pairs(params.get("ResourceTags"), "ResourceTags")
        wanted_excluded = tag_pairs(params.get("ExcludeResourceTags"), "ExcludeResourceTags")
        now = self._clock.now()
        rules = [
            r
            for r in self._bin.rules(call.account, call.region)
            if r.resource_type == resource_type
            and (lock_state is None or r.lock_state(now) == lock_state)
            and all(p in r.resource_tags for p in wanted)
            and all(p in r.exclude_tags for p in wanted_excluded)
        ]
        try:
            page, token = paginate(rules, lambda r: [r.identifier], size, params.get("NextToken"), "rbin-rules")
        except InvalidToken:
            raise RbinError("ValidationException", "The NextToken is not valid.", "INVALID_PAGE_TOKEN") from None
        out: dict[str, Any] = {"Rules": [r.to_output(now, full=False) for r in page]}
        if token:
            out["NextToken"] = token
        return out

    def _changeable(self, call: AwsCall, params: dict[str, Any]) -> Rule:
        rule = self._bin.rule(call.account, call.region, str(params.get("Identifier")))
        state = rule.lock_state(self._clock.now())
        if state != "unlocked":
            raise _conflict(rule, state)
        return rule

    def _update(self, call: AwsCall, params: dict[str, Any]) -> dict[str, Any]:
        rule = self._changeable(call, params)
        if params.get("ResourceType") not in (None, rule.resource_type):
            raise _invalid("The resource type of a rule can't be changed")
        days = _retention(params, rule.resource_type) if "RetentionPeriod" in params else rule.retention_days
        merged = {
            "ResourceTags": params.get("ResourceTags", rule.resource_tags),
            "ExcludeResourceTags": params.get("ExcludeResourceTags", rule.exclude_tags),
            "Description": params.get("Description", rule.description),
        }
        rule.resource_tags, rule.exclude_tags, rule.description = _selection(merged)
        rule.retention_days = days
        out = rule.to_output(self._clock.now(), full=True)
        out.pop("LockConfiguration", None)
        return out

    def _delete(self, call: AwsCall, params: dict[str, Any]) -> dict[str, Any]:
        rule = self._changeable(call, params)
        self._bin.delete_rule(call.account, call.region, rule.identifier)
        return {}

    def _lock(self, call: AwsCall, params: dict[str, Any]) -> dict[str, Any]:
        rule = self._changeable(call, params)
        delay = _unlock_delay(params)
        _lockable(rule)
        rule.unlock_delay_days, rule.unlock_at = delay, None
        out = rule.to_output(self._clock.now(), full=True)
        out.pop("LockEndTime", None)
        return out

    def _unlock(self, call: AwsCall, params: dict[str, Any]) -> dict[str, Any]:
        rule = self._bin.rule(call.account, call.region, str(params.get("Identifier")))
        now = self._clock.now()
        state = rule.lock_state(now)
        if state != "locked":
            raise _conflict(rule, state)
        rule.unlock_at = now + timedelta(days=rule.unlock_delay_days or 0)
        return rule.to_output(now, full=True)
