"""The two logs the control API serves, and what goes into them.

* ``GET /_emulator/sns/published``: every SNS Publish (and each successful PublishBatch
  entry) that moto accepted, with the raw message as sent.
* ``GET /_emulator/calls``: every mutating EC2 and Recycle Bin call that reached the
  emulator, with what it named and how it was answered; tests count the actions taken on
  each AMI from here, faulted attempts included.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from .aws_request import AwsCall, is_mutating, sns_message_attributes


class EventLog:
    """An append-only, thread-safe log, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = []

    def add(self, item: dict[str, Any]) -> None:
        with self._lock:
            self._items.append(item)

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def is_logged(call: AwsCall) -> bool:
    """Whether the call log records ``call``: a mutating EC2 action or Recycle Bin call."""
    if call.service == "ec2":
        return bool(call.action) and is_mutating(str(call.action))
    return call.service == "rbin" and call.method != "GET" and not call.path.startswith("/list-rules")


def _resources(call: AwsCall) -> list[str]:
    """The resource ids a mutating EC2 call names (ImageId, or CreateTags' ResourceId.N)."""
    p = call.params
    named = [p["ImageId"]] if p.get("ImageId") else []
    named += [v for k, v in sorted(p.items()) if k.startswith("ResourceId.")]
    return named


def call_record(call: AwsCall, status: int, fault: str | None, timestamp: str) -> dict[str, Any]:
    return {
        "timestamp": timestamp,
        "account": call.account,
        "region": call.region,
        "service": call.service,
        "action": call.action,
        "resources": _resources(call),
        "status": status,
        "fault": fault,
    }


def _sns_fields(p: dict[str, str], pre: str) -> dict[str, Any]:
    """A message's fields as the request sent them (``pre``: ``""`` or a batch entry's prefix)."""
    return {
        "Subject": p.get(f"{pre}Subject"),
        "Message": p.get(f"{pre}Message"),
        "MessageStructure": p.get(f"{pre}MessageStructure"),
        "MessageAttributes": sns_message_attributes(p, f"{pre}MessageAttributes"),
        "MessageGroupId": p.get(f"{pre}MessageGroupId"),
        "MessageDeduplicationId": p.get(f"{pre}MessageDeduplicationId"),
    }


def sns_records(call: AwsCall, body: bytes, timestamp: str) -> list[dict[str, Any]]:
    """The messages an accepted Publish or PublishBatch (moto's answer ``body``) published."""
    text = body.decode("utf-8", "replace")
    base = {"account": call.account, "region": call.region, "timestamp": timestamp}
    p = call.params
    if call.action == "Publish":
        match = re.search(r"<MessageId>([^<]+)</MessageId>", text)
        return [
            {
                **base,
                "MessageId": match.group(1) if match else None,
                "TopicArn": p.get("TopicArn"),
                "TargetArn": p.get("TargetArn"),
                "PhoneNumber": p.get("PhoneNumber"),
                **_sns_fields(p, ""),
            }
        ]
    if call.action != "PublishBatch":
        return []
    ok = dict(re.findall(r"<member>\s*<Id>([^<]+)</Id>\s*<MessageId>([^<]+)</MessageId>", text))
    records = []
    n = 1
    while f"PublishBatchRequestEntries.member.{n}.Id" in p:
        pre = f"PublishBatchRequestEntries.member.{n}"
        entry_id = p[f"{pre}.Id"]
        if entry_id in ok:
            records.append(
                {
                    **base,
                    "MessageId": ok[entry_id],
                    "TopicArn": p.get("TopicArn"),
                    "TargetArn": None,
                    "PhoneNumber": None,
                    **_sns_fields(p, f"{pre}."),
                }
            )
        n += 1
    return records
