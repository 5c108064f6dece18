"""Injected API oddities: answers that are well-formed on the wire but odd in content.

Why: faults (``faults.py``) make calls *fail*; oddities make them *succeed
strangely*, the way a real service sometimes does — an entry of a resource
type the client never asked for, a member missing from an answer, a report
deleted between the describe call that listed it and the entries call, an AMI
deregistered in the middle of a run.  The reporter must turn each into one
clear error or a recorded skip, and never write half an archive.

Everything is keyed by AMI id (what a test seeds and knows) and configured
through ``POST /_emulator/oddities``; a new configuration replaces the old
one.  The two time-based oddities fire once, so the next run sees a world
that stays consistent afterwards.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from ..clock import Clock
from ..config import ConfigError
from ..reports.store import ReportStore

KNOWN_KEYS = {"entry_extra", "entry_drop_fields", "report_drop_fields", "vanish_before_entries", "deregister_after"}
ENTRY_FIELDS = {"ResourceType", "ReportId", "UsageCount", "AccountId", "ImageId", "ReportCreationTime"}
REPORT_FIELDS = {
    "ImageId",
    "ReportId",
    "ResourceTypes",
    "AccountIds",
    "State",
    "StateReason",
    "CreationTime",
    "ExpirationTime",
    "Tags",
}


def _image_map(name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and k.startswith("ami-") for k in value):
        raise ConfigError(f"{name} must be an object keyed by AMI id")
    return value


def _fields(name: str, value: Any, allowed: set[str]) -> list[str]:
    if not isinstance(value, list) or not value or set(value) - allowed:
        raise ConfigError(f"{name} must be a non-empty list of {sorted(allowed)}")
    return list(value)


def _extra_entry(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) - ENTRY_FIELDS:
        raise ConfigError(f"{name} entries take {sorted(ENTRY_FIELDS)}")
    count = value.get("UsageCount", 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ConfigError(f"{name}.UsageCount must be an integer >= 0")
    return dict(value)  # members left out stay out: that is the point of some oddities


def _image_list(name: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(i, str) and i.startswith("ami-") for i in value):
        raise ConfigError(f"{name} must be a list of AMI ids")
    return list(value)


def _parse(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ConfigError("oddities body must be a JSON object")
    unknown = set(body) - KNOWN_KEYS
    if unknown:
        raise ConfigError(f"unknown oddity field(s) {sorted(unknown)} (known: {sorted(KNOWN_KEYS)})")
    extra = {}
    for image, entries in _image_map("entry_extra", body.get("entry_extra")).items():
        if not isinstance(entries, list):
            raise ConfigError(f"entry_extra.{image} must be a list of entries")
        extra[image] = [_extra_entry(f"entry_extra.{image}", e) for e in entries]
    deregister = body.get("deregister_after") or {}
    if not isinstance(deregister, dict) or not all(isinstance(a, str) and a[:1].isupper() for a in deregister):
        raise ConfigError('deregister_after must be an object {"<EC2 action>": [AMI ids]}')
    return {
        "entry_extra": extra,
        "entry_drop_fields": {
            image: _fields(f"entry_drop_fields.{image}", f, ENTRY_FIELDS)
            for image, f in _image_map("entry_drop_fields", body.get("entry_drop_fields")).items()
        },
        "report_drop_fields": {
            image: _fields(f"report_drop_fields.{image}", f, REPORT_FIELDS)
            for image, f in _image_map("report_drop_fields", body.get("report_drop_fields")).items()
        },
        "vanish_before_entries": _image_list("vanish_before_entries", body.get("vanish_before_entries")),
        "deregister_after": {
            action: _image_list(f"deregister_after.{action}", ids) for action, ids in deregister.items()
        },
    }


class Oddities:
    """Current oddity configuration and what has fired (thread-safe).

    ``clock`` and ``reports`` are the emulator's own (see ``world.World``): a
    vanishing report is deleted from the store the report actions read, at its time.
    """

    def __init__(self, clock: Clock, reports: ReportStore) -> None:
        self._clock = clock
        self._reports = reports
        self._lock = threading.Lock()
        self.configure({})

    def configure(self, body: Any) -> dict[str, Any]:
        settings = _parse(body)
        with self._lock:
            self._settings = settings
            self._fired: list[dict[str, Any]] = []
            return self._snapshot_locked()

    def _snapshot_locked(self) -> dict[str, Any]:
        return {"oddities": copy.deepcopy(self._settings), "fired": list(self._fired)}

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self._snapshot_locked()

    # ---------------------------------------------------------------- answer content

    def report_output(self, out: dict[str, Any]) -> dict[str, Any]:
        """A DescribeImageUsageReports item, with the configured members removed."""
        with self._lock:
            drop = self._settings["report_drop_fields"].get(out.get("ImageId"), [])
        return {k: v for k, v in out.items() if k not in drop}

    def entry_outputs(self, report: Any, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A report's entries, plus configured extra ones, minus configured members."""
        with self._lock:
            extra = self._settings["entry_extra"].get(report.image_id, [])
            drop = self._settings["entry_drop_fields"].get(report.image_id, [])
        base = {"ReportId": report.report_id, "ImageId": report.image_id, "ReportCreationTime": report.creation_time}
        out = entries + [{**base, **e} for e in extra]
        if extra:  # keep the order paging relies on; an entry without account goes last
            out.sort(key=lambda e: (e.get("AccountId", "~"), e.get("ResourceType", "~")))
        return [{k: v for k, v in e.items() if k not in drop} for e in out]

    # ---------------------------------------------------------------- around a call

    def before_call(self, call: Any) -> None:
        """Delete, once, a report whose entries are about to be read (it vanished)."""
        if call.service != "ec2" or call.action != "DescribeImageUsageReportEntries":
            return
        from moto.ec2.models import ec2_backends

        requested = {v for k, v in call.params.items() if k.startswith("ReportId.")}
        now = self._clock.now()
        with self._lock:
            vanish = self._settings["vanish_before_entries"]
            for report in self._reports.live(call.account, call.region, now):
                if report.report_id in requested and report.image_id in vanish:
                    vanish.remove(report.image_id)
                    self._reports.delete(call.account, call.region, report.report_id, now)
                    ec2_backends[call.account][call.region].tags.pop(report.report_id, None)
                    self._fired.append(
                        {"oddity": "vanish_before_entries", "image_id": report.image_id, "report_id": report.report_id}
                    )

    def after_call(self, call: Any, ok: bool) -> None:
        """Deregister, once, the AMIs configured for the EC2 action that just succeeded."""
        if call.service != "ec2" or not ok:
            return
        with self._lock:
            images = self._settings["deregister_after"].pop(call.action, [])
        if not images:
            return
        from moto.ec2.models import ec2_backends

        backend = ec2_backends[call.account][call.region]
        for image_id in images:
            if image_id in backend.amis:
                backend.deregister_image(image_id)
            with self._lock:
                self._fired.append({"oddity": "deregister_after", "action": call.action, "image_id": image_id})
