"""AWS Recycle Bin: retention rules (served by ``rbin_api.py``) and the AMIs they retain.

moto 5.2.5 has no ``rbin`` and no ``ListImagesInRecycleBin`` / ``RestoreImageFromRecycleBin``.
Here, per account and Region:

* a **rule** keeps its resource type, retention period (days), resource tags (tag-level
  rule) or none plus up to 5 exclusion tags (Region-level rule), and its lock.  Only a
  Region-level rule without exclusion tags can be locked (AWS: "You can't lock tag-level
  retention rules, or Region-level retention rules that have exclusion tags").  A locked
  rule, and an unlocked one whose unlock delay still runs (``pending_unlock``), can be
  neither updated nor deleted.  A rule is ``pending`` for the config's
  ``rbin_rule_activation_seconds`` after its creation (emulator clock; default 0), then
  ``available``: "Only retention rules that are in the available state retain resources".
* a rule **matches** an AMI when its type is ``EC2_IMAGE`` and it is tag-level with at
  least one of its tag pairs on the AMI (a pair without a value matches the key with any
  value), or Region-level with none of its exclusion pairs on the AMI.
* a **retained AMI** is the deregistered AMI object itself, with its tags, the time it
  entered and the time it leaves (enter + the longest retention of the matching
  ``EC2_IMAGE`` rules).  It is gone for good once the emulator clock passes that time.
* a **retained snapshot** likewise, for a deleted snapshot an ``EBS_SNAPSHOT`` rule
  matches (by the snapshot's own tags).
"""

from __future__ import annotations

import random
import string
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..clock import Clock
from ..config import Config
from ..wire import AwsError

RESOURCE_TYPES = ("EBS_SNAPSHOT", "EC2_IMAGE", "EBS_VOLUME")


class RbinError(AwsError):
    """An rbin error; ``code`` is the error shape's name in botocore's model."""

    def __init__(self, code: str, message: str, reason: str | None = None) -> None:
        super().__init__(code, message)
        self.reason = reason


def tag_pairs(raw: Any, member: str) -> list[dict[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(t, dict) and t.get("ResourceTagKey") for t in raw):
        raise RbinError("ValidationException", f"{member} must be a list of ResourceTagKey/ResourceTagValue pairs")
    return [{k: str(v) for k, v in t.items() if k in ("ResourceTagKey", "ResourceTagValue")} for t in raw]


def _pair_on(pair: dict[str, str], tags: dict[str, str]) -> bool:
    key = pair["ResourceTagKey"]
    value = pair.get("ResourceTagValue")
    return key in tags and (value in (None, "") or tags[key] == value)


@dataclass
class Rule:
    identifier: str
    account: str
    region: str
    resource_type: str
    retention_days: int
    description: str = ""
    resource_tags: list[dict[str, str]] = field(default_factory=list)
    exclude_tags: list[dict[str, str]] = field(default_factory=list)
    unlock_delay_days: int | None = None  # set while the rule has a lock configuration
    unlock_at: datetime | None = None  # set by UnlockRule: pending_unlock until then
    tags: list[dict[str, str]] = field(default_factory=list)
    available_at: datetime | None = None  # pending until then (set when the rule is added)

    @property
    def arn(self) -> str:
        return f"arn:aws:rbin:{self.region}:{self.account}:rule/{self.identifier}"

    def lock_state(self, now: datetime) -> str:
        if self.unlock_delay_days is None:
            return "unlocked"
        if self.unlock_at is None:
            return "locked"
        if now < self.unlock_at:
            return "pending_unlock"
        self.unlock_delay_days, self.unlock_at = None, None  # the delay ran out: unlocked
        return "unlocked"

    def status(self, now: datetime) -> str:
        return "pending" if self.available_at is not None and now < self.available_at else "available"

    def matches(self, tags: dict[str, str]) -> bool:
        if self.resource_tags:
            return any(_pair_on(p, tags) for p in self.resource_tags)
        return not any(_pair_on(p, tags) for p in self.exclude_tags)

    def retention(self) -> dict[str, Any]:
        return {"RetentionPeriodValue": self.retention_days, "RetentionPeriodUnit": "DAYS"}

    def to_output(self, now: datetime, full: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Identifier": self.identifier,
            "Description": self.description,
            "RetentionPeriod": self.retention(),
            "LockState": self.lock_state(now),
            "RuleArn": self.arn,
        }
        if full:
            out.update(ResourceType=self.resource_type, ResourceTags=self.resource_tags, Status=self.status(now))
            out["ExcludeResourceTags"] = self.exclude_tags
            if self.unlock_delay_days is not None:
                out["LockConfiguration"] = {
                    "UnlockDelay": {"UnlockDelayValue": self.unlock_delay_days, "UnlockDelayUnit": "DAYS"}
                }
            if self.unlock_at is not None:
                out["LockEndTime"] = self.unlock_at
        return out


@dataclass
class Retained:
    ami: Any  # moto's Ami (or Snapshot) object, as it was when deleted
    tags: dict[str, str]
    enter: datetime
    exit: datetime


class RecycleBin:
    """Rules and retained AMIs of every account and Region (thread-safe); retention runs
    on ``clock``, the emulator's."""

    def __init__(self, clock: Clock, config: Config) -> None:
        self._clock = clock
        self._config = config
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._rules: dict[tuple[str, str], dict[str, Rule]] = {}
            self._amis: dict[tuple[str, str], dict[str, Retained]] = {}
            self._snapshots: dict[tuple[str, str], dict[str, Retained]] = {}

    def add_rule(self, rule: Rule) -> Rule:
        delay = timedelta(seconds=self._config.get("rbin_rule_activation_seconds"))
        rule.available_at = self._clock.now() + delay
        with self._lock:
            rules = self._rules.setdefault((rule.account, rule.region), {})
            alphabet = string.ascii_letters + string.digits
            while not rule.identifier or rule.identifier in rules:
                rule.identifier = "".join(random.choices(alphabet, k=11))
            rules[rule.identifier] = rule
            return rule

    def rules(self, account: str, region: str) -> list[Rule]:
        with self._lock:
            return sorted(self._rules.get((account, region), {}).values(), key=lambda r: r.identifier)

    def rule(self, account: str, region: str, identifier: str) -> Rule:
        with self._lock:
            found = self._rules.get((account, region), {}).get(identifier)
        if found is None:
            raise RbinError("ResourceNotFoundException", f"Rule {identifier} was not found.", "RULE_NOT_FOUND")
        return found

    def delete_rule(self, account: str, region: str, identifier: str) -> None:
        with self._lock:
            self._rules.get((account, region), {}).pop(identifier, None)

    def retention_for(
        self, account: str, region: str, tags: dict[str, str], resource_type: str = "EC2_IMAGE"
    ) -> int | None:
        """Days a deleted resource with ``tags`` is retained, or None when no available rule matches."""
        now = self._clock.now()
        days = [
            r.retention_days
            for r in self.rules(account, region)
            if r.resource_type == resource_type and r.status(now) == "available" and r.matches(tags)
        ]
        return max(days) if days else None

    def _store(self, kind: str) -> dict[tuple[str, str], dict[str, Retained]]:
        return self._amis if kind == "EC2_IMAGE" else self._snapshots

    def retain(
        self, account: str, region: str, item: Any, tags: dict[str, str], days: int, kind: str = "EC2_IMAGE"
    ) -> None:
        now = self._clock.now()
        with self._lock:
            bin_ = self._store(kind).setdefault((account, region), {})
            bin_[item.id] = Retained(item, dict(tags), now, now + timedelta(days=days))

    def retained(self, account: str, region: str, kind: str = "EC2_IMAGE") -> dict[str, Retained]:
        """The account's AMIs (or snapshots) still in the bin; those past their exit time are gone for good."""
        now = self._clock.now()
        with self._lock:
            bin_ = self._store(kind).get((account, region), {})
            for item_id in [i for i, r in bin_.items() if r.exit <= now]:
                del bin_[item_id]
            return dict(sorted(bin_.items()))

    def take(self, account: str, region: str, item_id: str, kind: str = "EC2_IMAGE") -> Retained | None:
        self.retained(account, region, kind)  # expire first
        with self._lock:
            return self._store(kind).get((account, region), {}).pop(item_id, None)
