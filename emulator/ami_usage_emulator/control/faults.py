"""Injected failures: EC2 token-bucket throttling, random EC2 faults, per-action faults, S3/SNS failures.

Why: the reporter must survive what AWS really does under load.  EC2 throttles
per account, region and API action with token buckets (``throttling.py``) and answers
``RequestLimitExceeded`` (HTTP 503); it also fails
now and then with ``InternalError``/``Unavailable``.  S3 PutObject and SNS
Publish can fail too.  The project's benchmarks read the counters kept here,
so every EC2 call, S3 PutObject and SNS Publish is counted whether or not a
fault is configured.  ``calls`` targets one action by name (any EC2 action, or a
Recycle Bin operation such as ``ListRules``) with the same knobs as S3/SNS: fail the
next N, a probability, let the first ``after`` matching calls through, and
``hang_seconds`` to hold the faulted answer back (a test kills the client meanwhile:
a crash at exactly that call).  ``s3_put_object`` may target keys containing
``key_contains`` (e.g. the collect state).  ``configure`` replaces the whole fault set and zeroes
the counters, so a benchmark run starts from a clean slate.
"""

from __future__ import annotations

import copy
import random
import threading
from dataclasses import dataclass
from typing import Any

from ..config import ConfigError
from .throttling import TokenBucket, bucket_of, parse_buckets, size_of

S3_CODES = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}
SNS_CODES = {
    500: ("InternalError", "Request could not be completed due to an internal error."),
    503: ("ServiceUnavailable", "Service is unavailable."),
    400: ("Throttled", "Rate exceeded"),
}
CONFLICT_CODES = {
    409: (
        "ConditionalRequestConflict",
        "A conflicting operation occurred. If using PutObject you can retry the request. If using multipart "
        "upload you should initiate another CreateMultipartUpload request and re-upload each part.",
    ),
}
KNOWN_KEYS = {
    "s3_conditional_conflict",
    "ec2_token_buckets",
    "throttle_probability",
    "server_error_probability",
    "actions",
    "seed",
    "s3_put_object",
    "sns_publish",
    "calls",
}
CALL_CODES = {
    500: ("InternalError", "An internal error has occurred."),
    503: ("RequestLimitExceeded", "Request limit exceeded."),
}
TARGET_KEYS = {"fail_next", "status", "probability", "code", "after", "hang_seconds", "key_contains"}


@dataclass(frozen=True)
class Fault:
    """What the wrapper must answer instead of passing the request to moto."""

    status: int
    code: str
    message: str
    hang_seconds: float = 0.0


def _probability(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{name} must be a number between 0 and 1")
    return float(value)


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{name} must be an integer >= 0")
    return value


def _parse_target(name: str, value: Any, codes: dict[int, tuple[str, str]]) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - TARGET_KEYS:
        raise ConfigError(f"{name} takes {', '.join(sorted(TARGET_KEYS))}")
    status = value.get("status", 500)
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ConfigError(f"{name}.status must be an HTTP error status (400-599)")
    default_code = codes.get(status, ("InternalError", "Injected failure."))[0]
    code = value.get("code", default_code)
    if not isinstance(code, str) or not code:
        raise ConfigError(f"{name}.code must be a non-empty string")
    return {
        "fail_next": _count(f"{name}.fail_next", value.get("fail_next", 0)),
        "probability": _probability(f"{name}.probability", value.get("probability", 0)),
        "status": status,
        "code": code,
        "after": _count(f"{name}.after", value.get("after", 0)),
        "hang_seconds": _seconds(f"{name}.hang_seconds", value.get("hang_seconds", 0)),
        "key_contains": _text(f"{name}.key_contains", value.get("key_contains")),
    }


def _conflict_defaults(value: Any) -> Any:
    """``s3_conditional_conflict`` answers 409 ConditionalRequestConflict unless told otherwise."""
    return {"status": 409, **value} if isinstance(value, dict) else value


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 300:
        raise ConfigError(f"{name} must be a number of seconds between 0 and 300")
    return float(value)


def _text(name: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{name} must be a non-empty string")
    return value


def _parse_calls(value: Any) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and k for k in value):
        raise ConfigError('calls must map action names to fault targets, e.g. {"DisableImage": {"fail_next": 1}}')
    return {action: _parse_target(f"calls.{action}", target, CALL_CODES) for action, target in value.items()}


class Faults:
    """Current fault configuration, bucket state and counters (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.configure({})

    def configure(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ConfigError("faults body must be a JSON object")
        unknown = set(body) - KNOWN_KEYS
        if unknown:
            raise ConfigError(f"unknown fault field(s) {sorted(unknown)} (known: {sorted(KNOWN_KEYS)})")
        actions = body.get("actions")
        if actions is not None and (not isinstance(actions, list) or not all(isinstance(a, str) for a in actions)):
            raise ConfigError("actions must be a list of EC2 action names")
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ConfigError("seed must be an integer")
        settings = {
            "ec2_token_buckets": parse_buckets(body.get("ec2_token_buckets")),
            "throttle_probability": _probability("throttle_probability", body.get("throttle_probability", 0)),
            "server_error_probability": _probability(
                "server_error_probability", body.get("server_error_probability", 0)
            ),
            "actions": actions,
            "seed": seed,
            "s3_put_object": _parse_target("s3_put_object", body.get("s3_put_object"), S3_CODES),
            "sns_publish": _parse_target("sns_publish", body.get("sns_publish"), SNS_CODES),
            "s3_conditional_conflict": _parse_target(
                "s3_conditional_conflict", _conflict_defaults(body.get("s3_conditional_conflict")), CONFLICT_CODES
            ),
            "calls": _parse_calls(body.get("calls")),
        }
        if settings["throttle_probability"] + settings["server_error_probability"] > 1:
            raise ConfigError("throttle_probability + server_error_probability must be <= 1")
        with self._lock:
            self._settings = settings
            self._buckets: dict[tuple[str, str, str], TokenBucket] = {}  # (account, region, bucket)
            # One generator per site so S3/SNS traffic does not shift EC2's sequence.
            self._rng = {site: random.Random(seed) for site in ("ec2", "s3", "sns", "calls")}
            self._ec2: dict[str, dict[str, int]] = {}
            self._s3 = {"calls": 0, "failed": 0}
            self._sns = {"calls": 0, "failed": 0}
            self._conflicts = {"calls": 0, "failed": 0}
            self._calls: dict[str, dict[str, int]] = {}
            return self._snapshot_locked()

    def ec2_call(self, account: str, region: str, action: str, params: dict[str, Any] | None = None) -> Fault | None:
        """Count one EC2 call and decide whether it fails (``params``: its query members)."""
        with self._lock:
            counters = self._ec2.setdefault(action, {"calls": 0, "throttled": 0, "server_errors": 0})
            counters["calls"] += 1
            s = self._settings
            if s["ec2_token_buckets"]:
                name = bucket_of(action, params or {})
                bucket = self._buckets.get((account, region, name))
                if bucket is None:
                    conf = size_of(name, s["ec2_token_buckets"])
                    bucket = TokenBucket(conf["capacity"], conf["refill_per_second"])
                    self._buckets[(account, region, name)] = bucket
                if not bucket.take():
                    counters["throttled"] += 1
                    return Fault(503, "RequestLimitExceeded", "Request limit exceeded.")
            targeted = self._action_target(action)
            if targeted is not None:
                return targeted
            if s["actions"] is not None and action not in s["actions"]:
                return None
            if not (s["throttle_probability"] or s["server_error_probability"]):
                return None
            rng = self._rng["ec2"]
            roll = rng.random()
            if roll < s["throttle_probability"]:
                counters["throttled"] += 1
                return Fault(503, "RequestLimitExceeded", "Request limit exceeded.")
            if roll < s["throttle_probability"] + s["server_error_probability"]:
                counters["server_errors"] += 1
                if rng.random() < 0.5:
                    return Fault(500, "InternalError", "An internal error has occurred.")
                return Fault(503, "Unavailable", "The server is overloaded and can't handle the request.")
            return None

    def _action_target(self, action: str) -> Fault | None:
        target = self._settings["calls"].get(action)
        if target is None:
            return None
        counters = self._calls.setdefault(action, {"calls": 0, "failed": 0})
        counters["calls"] += 1
        return self._fire(target, "calls", counters, CALL_CODES)

    def call(self, action: str) -> Fault | None:
        """Count one call of a non-EC2 service's action (rbin) and decide whether it fails."""
        with self._lock:
            return self._action_target(action)

    def _target_call(
        self,
        name: str,
        site: str,
        counters: dict[str, int],
        codes: dict[int, tuple[str, str]],
        key: str | None = None,
    ) -> Fault | None:
        counters["calls"] += 1
        target = self._settings[name]
        if not target or (target["key_contains"] and target["key_contains"] not in (key or "")):
            return None
        return self._fire(target, site, counters, codes)

    def _fire(
        self, target: dict[str, Any], site: str, counters: dict[str, int], codes: dict[int, tuple[str, str]]
    ) -> Fault | None:
        if target["after"] > 0:
            target["after"] -= 1
            return None
        fail = False
        if target["fail_next"] > 0:
            target["fail_next"] -= 1
            fail = True
        elif target["probability"] and self._rng[site].random() < target["probability"]:
            fail = True
        if not fail:
            return None
        counters["failed"] += 1
        message = codes.get(target["status"], ("", "Injected failure."))[1]
        return Fault(target["status"], target["code"], message, target["hang_seconds"])

    def s3_put_object(self, key: str | None = None) -> Fault | None:
        with self._lock:
            return self._target_call("s3_put_object", "s3", self._s3, S3_CODES, key)

    def s3_conditional_write(self, key: str | None = None) -> Fault | None:
        """Count one conditional S3 write (If-Match / If-None-Match) and decide whether it
        answers 409 ConditionalRequestConflict."""
        with self._lock:
            return self._target_call("s3_conditional_conflict", "s3", self._conflicts, CONFLICT_CODES, key)

    def sns_publish(self) -> Fault | None:
        with self._lock:
            return self._target_call("sns_publish", "sns", self._sns, SNS_CODES)

    def _snapshot_locked(self) -> dict[str, Any]:
        totals = {"calls": 0, "throttled": 0, "server_errors": 0}
        for c in self._ec2.values():
            for k in totals:
                totals[k] += c[k]
        buckets = {f"{a}/{r}/{k}": round(b.tokens, 3) for (a, r, k), b in self._buckets.items()}
        return {
            "faults": copy.deepcopy(self._settings),
            "counters": {
                "ec2": {"by_action": copy.deepcopy(self._ec2), "totals": totals},
                "s3_put_object": dict(self._s3),
                "sns_publish": dict(self._sns),
                "s3_conditional_conflict": dict(self._conflicts),
                "calls": copy.deepcopy(self._calls),
            },
            "token_buckets": buckets,
        }

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self._snapshot_locked()
