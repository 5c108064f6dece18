"""Run-time knobs of the usage-report model (``POST /_emulator/config``).

Every field has an AWS-like default so that a fresh emulator behaves like the
real service as far as the project can observe it; tests change one knob at a
time.  Updates are partial (unknown fields are rejected so typos fail loudly).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

DEFAULTS: dict[str, Any] = {
    # 0 = a report is `available` as soon as it exists (first describe sees it).
    "report_ready_after_seconds": 0.0,
    # AWS reports usage "across other accounts": the owner's own use is left out.
    "include_owner_account": False,
    # {"ami-...": "StateReason text"}: reports for these AMIs end in `error`.
    "error_images": {},
    # ["ami-...", ...]: reports for these AMIs stay `pending` while listed (owner_usage.py).
    "pending_images": [],
    # pending reports allowed per (account, region) at once.
    "max_pending_reports_per_account": 2000,
    # instances launched less than this before report creation are not counted: AWS's
    # "Instance activity from the past 24 hours ... might not appear" at its worst.
    "instance_activity_lag_seconds": 86400.0,
    # launch template versions younger than this are not seen ("launch template activity
    # from the past few days might not appear": a few days taken as 7, an assumption).
    "launch_template_activity_lag_seconds": 604800.0,
    # lastLaunchedTime (DescribeImageAttribute, DescribeImages) shows only launches at
    # least this old (emulator clock): AWS's "there is a 24-hour delay before that usage
    # is reported" (API reference, Image.LastLaunchedTime), at its worst.
    "last_launched_lag_seconds": 86400.0,
    # page size of the Describe* actions when the request has no MaxResults.
    "max_results_cap": 1000,
    # a new Recycle Bin rule is `pending` (retains nothing) this long, then `available`
    # (AWS: the first rule "can take up to 30 minutes" to become active).
    "rbin_rule_activation_seconds": 1800.0,
    # S3's answer to a request signed for another Region than the bucket's (moto_grafts/bucket_region.py).
    "s3_wrong_region": "redirect",
    # CreateImageUsageReport's resource types: "api-reference" (ec2:Instance,
    # ec2:LaunchTemplate: the EC2 API reference, the CLI's and the product's SDK's model)
    # or "sdk-latest" (also the two Image Builder recipe types of the newest SDK docs).
    "report_resource_types": "api-reference",
}


class ConfigError(ValueError):
    """A control-API request with a bad field (answered with HTTP 400)."""


def _non_negative_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{name} must be a number >= 0")
    return float(value)


def _positive_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}")
    return value


def _validate(name: str, value: Any) -> Any:
    if name in (
        "report_ready_after_seconds",
        "instance_activity_lag_seconds",
        "launch_template_activity_lag_seconds",
        "last_launched_lag_seconds",
        "rbin_rule_activation_seconds",
    ):
        return _non_negative_number(name, value)
    if name == "include_owner_account":
        if not isinstance(value, bool):
            raise ConfigError("include_owner_account must be true or false")
        return value
    if name == "error_images":
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ConfigError('error_images must be {"ami-...": "reason", ...}')
        return dict(value)
    if name == "pending_images":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError('pending_images must be ["ami-...", ...]')
        return list(value)
    if name == "max_pending_reports_per_account":
        return _positive_int(name, value, 0)
    if name == "max_results_cap":
        return _positive_int(name, value, 1)
    if name == "s3_wrong_region":
        modes = ("redirect", "authorization_header_malformed", "ignore")
        if value not in modes:
            raise ConfigError(f"s3_wrong_region must be one of {', '.join(modes)}")
        return value
    if name == "report_resource_types":
        if value not in ("api-reference", "sdk-latest"):
            raise ConfigError("report_resource_types must be api-reference or sdk-latest")
        return value
    raise ConfigError(f"unknown config field {name!r} (known: {', '.join(DEFAULTS)})")


class Config:
    """Thread-safe holder of the current settings."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = copy.deepcopy(DEFAULTS)

    def get(self, name: str) -> Any:
        with self._lock:
            return copy.deepcopy(self._values[name])

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._values)

    def update(self, body: Any) -> dict[str, Any]:
        """Validate all fields first, then apply them together (all or nothing)."""
        if not isinstance(body, dict):
            raise ConfigError("config body must be a JSON object")
        validated = {name: _validate(name, value) for name, value in body.items()}
        with self._lock:
            self._values.update(validated)
            return copy.deepcopy(self._values)

    def reset(self) -> None:
        with self._lock:
            self._values = copy.deepcopy(DEFAULTS)
