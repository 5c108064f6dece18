"""Image usage reports, the model: a report, its entries, its states.

A report is a snapshot: at creation it counts (``usage.py``) what references the AMI,
and later changes do not alter it.  States follow the emulator clock: ``pending`` until
``ready_at`` (or while the AMI is listed in the config's ``pending_images``), then
``available`` (or ``error`` for AMIs listed in ``error_images``); the report disappears
once the clock passes ``expiration_time`` (creation + 30 days).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..clock import THIRTY_DAYS
from ..services.recipes import CONTAINER_RECIPE, IMAGE_RECIPE
from ..wire import AwsError

INSTANCE = "ec2:Instance"
LAUNCH_TEMPLATE = "ec2:LaunchTemplate"
# ImageUsageResourceTypeName's documented values; the recipes live in services/recipes.py.
VALID_RESOURCE_TYPES = (INSTANCE, LAUNCH_TEMPLATE, IMAGE_RECIPE, CONTAINER_RECIPE)
DEFAULT_VERSION_DEPTH = 20


class ReportError(AwsError):
    """Raised by the store; turned into an EC2 error by the action layer."""


def new_report_id() -> str:
    return "amiur-" + secrets.token_hex(9)[:17]


@dataclass
class Entry:
    """One row of a report: how many resources of one type one account has."""

    resource_type: str
    account_id: str
    usage_count: int


@dataclass
class Report:
    report_id: str
    owner: str
    region: str
    image_id: str
    resource_types: list[dict[str, Any]]  # as in the request, normalised
    account_ids: list[str]
    creation_time: datetime
    ready_at: datetime
    error_reason: str | None
    seq: int = 0  # creation order within the store: the stable sort/paging key
    entries: list[Entry] = field(default_factory=list)
    # The config's ``pending_images``, read at each look (the store hands it in): a
    # report of a listed AMI stays pending while it is listed.
    held_images: Callable[[], Sequence[str]] = field(default=lambda: (), repr=False, compare=False)

    @property
    def expiration_time(self) -> datetime:
        return self.creation_time + THIRTY_DAYS

    def state(self, now: datetime) -> str:
        if self.image_id in self.held_images() or now < self.ready_at:
            return "pending"
        return "error" if self.error_reason is not None else "available"

    def expired(self, now: datetime) -> bool:
        return now >= self.expiration_time

    def to_output(self, now: datetime, tags: dict[str, str]) -> dict[str, Any]:
        """Dict keyed by botocore member names, ready for moto's EC2 serializer.

        Tags live in moto's EC2 tag store (so CreateTags/DeleteTags work on
        reports); the caller passes them in.
        """
        state = self.state(now)
        out: dict[str, Any] = {
            "ImageId": self.image_id,
            "ReportId": self.report_id,
            "ResourceTypes": self.resource_types,
            "AccountIds": self.account_ids,
            "State": state,
            "CreationTime": self.creation_time,
            "ExpirationTime": self.expiration_time,
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        }
        if state == "error":
            out["StateReason"] = self.error_reason
        return out

    def entry_outputs(self) -> list[dict[str, Any]]:
        return [
            {
                "ResourceType": e.resource_type,
                "ReportId": self.report_id,
                "UsageCount": e.usage_count,
                "AccountId": e.account_id,
                "ImageId": self.image_id,
                "ReportCreationTime": self.creation_time,
            }
            for e in self.entries
        ]


def version_depth(resource_types: list[dict[str, Any]]) -> int:
    for rt in resource_types:
        if rt["ResourceType"] == LAUNCH_TEMPLATE:
            for opt in rt.get("ResourceTypeOptions", []):
                if opt["OptionName"] == "version-depth":
                    return int(opt["OptionValues"][0])
    return DEFAULT_VERSION_DEPTH
