"""EC2's request throttling: a token bucket per account, Region and API action.

"Request throttling for the Amazon EC2 API" (EC2 Developer Guide): "each API is
evaluated individually, and you are throttled on the number of requests you make on a
per-API basis"; each action's bucket has its category's size and refill rate:

* non-mutating ("The Describe*, List*, Search*, and Get* API actions that are not
  included in another category"): 100 tokens, 20/s;
* unfiltered and unpaginated non-mutating (DescribeInstances, DescribeInstanceStatus,
  DescribeNetworkInterfaces, DescribeSecurityGroups, DescribeSnapshots,
  DescribeSpotInstanceRequests, DescribeVolumes called without a filter and without
  paging): 50, 10/s;
* mutating (every other action): 50, 5/s;
* uncategorised actions with their own sizes (those the product calls): CreateTags and
  DeleteTags 100 / 10/s, DeregisterImage, ModifyImageAttribute and DeleteSnapshot
  100 / 5/s, CopyImage 100 / 1/s.

A call over budget answers HTTP 503 ``RequestLimitExceeded`` and takes no token.  The
buckets refill on the monotonic clock, not the emulator clock.
"""

from __future__ import annotations

import time
from typing import Any

from ..config import ConfigError

CATEGORIES: dict[str, dict[str, float]] = {
    "mutating": {"capacity": 50, "refill_per_second": 5.0},
    "non_mutating": {"capacity": 100, "refill_per_second": 20.0},
    "unfiltered_non_mutating": {"capacity": 50, "refill_per_second": 10.0},
}
OWN_BUCKETS: dict[str, dict[str, float]] = {
    "CreateTags": {"capacity": 100, "refill_per_second": 10.0},
    "DeleteTags": {"capacity": 100, "refill_per_second": 10.0},
    "DeregisterImage": {"capacity": 100, "refill_per_second": 5.0},
    "ModifyImageAttribute": {"capacity": 100, "refill_per_second": 5.0},
    "DeleteSnapshot": {"capacity": 100, "refill_per_second": 5.0},
    "CopyImage": {"capacity": 100, "refill_per_second": 1.0},
}
UNFILTERED_ACTIONS = {
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeNetworkInterfaces",
    "DescribeSecurityGroups",
    "DescribeSnapshots",
    "DescribeSpotInstanceRequests",
    "DescribeVolumes",
}
NON_MUTATING_PREFIXES = ("Describe", "List", "Search", "Get")


class TokenBucket:
    """Classic token bucket on the monotonic clock (not the emulator clock)."""

    def __init__(self, capacity: int, refill_per_second: float) -> None:
        self.capacity = capacity
        self.refill = refill_per_second
        self.tokens = float(capacity)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False  # a throttled call consumes nothing, as on AWS


def bucket_of(action: str, params: dict[str, Any]) -> str:
    """The bucket an action's call draws from: the action's own, or its unfiltered one."""
    if action in UNFILTERED_ACTIONS and not any(k.startswith(("Filter.", "MaxResults")) for k in params):
        return f"{action}#unfiltered"
    return action


def size_of(bucket: str, sizes: dict[str, Any]) -> dict[str, float]:
    """Capacity and refill of ``bucket`` under the configured ``sizes``."""
    action, _, unfiltered = bucket.partition("#")
    if action in sizes["actions"]:
        return sizes["actions"][action]
    if unfiltered:
        return sizes["unfiltered_non_mutating"]
    if action in OWN_BUCKETS:
        return OWN_BUCKETS[action]
    return sizes["non_mutating" if action.startswith(NON_MUTATING_PREFIXES) else "mutating"]


def _size(name: str, given: Any, default: dict[str, float]) -> dict[str, float]:
    if not isinstance(given, dict) or set(given) - {"capacity", "refill_per_second"}:
        raise ConfigError(f"ec2_token_buckets.{name} takes capacity and refill_per_second")
    capacity = given.get("capacity", default["capacity"])
    refill = given.get("refill_per_second", default["refill_per_second"])
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ConfigError(f"ec2_token_buckets.{name}.capacity must be an integer >= 1")
    if isinstance(refill, bool) or not isinstance(refill, (int, float)) or refill < 0:
        raise ConfigError(f"ec2_token_buckets.{name}.refill_per_second must be >= 0")
    return {"capacity": capacity, "refill_per_second": float(refill)}


def parse_buckets(value: Any) -> dict[str, Any] | None:
    """``true`` (AWS's sizes) or ``{"mutating": {...}, "non_mutating": {...},
    "unfiltered_non_mutating": {...}, "actions": {"CreateTags": {...}}}`` (partial sizes
    keep the defaults); ``false``/absent: off."""
    if value in (None, False):
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict) or set(value) - set(CATEGORIES) - {"actions"}:
        raise ConfigError(
            'ec2_token_buckets must be true or {"mutating": {...}, "non_mutating": {...}, '
            '"unfiltered_non_mutating": {...}, "actions": {"<Action>": {...}}}'
        )
    out: dict[str, Any] = {kind: _size(kind, value.get(kind) or {}, d) for kind, d in CATEGORIES.items()}
    actions = value.get("actions") or {}
    if not isinstance(actions, dict):
        raise ConfigError('ec2_token_buckets.actions must map action names to {"capacity", "refill_per_second"}')
    out["actions"] = {
        a: _size(f"actions.{a}", v, OWN_BUCKETS.get(a, CATEGORIES["mutating"])) for a, v in actions.items()
    }
    return out
