"""The emulator's own state, shared by the WSGI wrapper, moto's EC2 actions and the control API.

moto instantiates a fresh response object per request, so the report
actions reach the emulator's state through this module-level singleton.
"""

from __future__ import annotations

import threading
from typing import Any

from .clock import Clock, rfc3339
from .config import Config
from .control.faults import Faults
from .control.oddities import Oddities
from .control.synthetic import SyntheticFleet
from .moto_grafts.allowed_images import ALLOWED
from .reports.store import ReportStore
from .services.recipes import RECIPES
from .services.recycle_bin import RBIN
from .services.reservations import ReservationStore


class EventLog:
    """An append-only, thread-safe log the control API serves: every SNS Publish the
    emulator accepted (``GET /_emulator/sns/published``), and every mutating EC2 and
    Recycle Bin call that reached it with what it named and how it was answered
    (``GET /_emulator/calls``: tests count the actions taken on each AMI from here,
    faulted attempts included). In order."""

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


class EmulatorState:
    def __init__(self) -> None:
        self.clock = Clock()
        self.config = Config()
        self.faults = Faults()
        self.synthetic = SyntheticFleet()
        self.reports = ReportStore(entry_source=self.synthetic.entries_for)
        self.recipes = RECIPES  # Image Builder recipes (recipes.py)
        self.allowed_images = ALLOWED  # Allowed AMIs settings (allowed_images.py)
        self.oddities = Oddities(self.clock, self.reports)
        self.sns_log = EventLog()
        self.calls = EventLog()
        self.recycle_bin = RBIN  # Recycle Bin rules and retained AMIs (recycle_bin.py)
        self.reservations = ReservationStore()  # Cost Explorer RI utilization (reservations.py)

    def now_rfc3339(self) -> str:
        return rfc3339(self.clock.now())

    def reset(self) -> None:
        """Forget everything the emulator added on top of moto (moto is reset by the caller)."""
        self.clock.reset()
        self.config.reset()
        self.faults.configure({})
        self.oddities.configure({})
        self.reports.reset()
        self.synthetic.reset()
        self.recipes.reset()
        self.allowed_images.reset()
        self.sns_log.clear()
        self.calls.clear()
        self.recycle_bin.reset()
        self.reservations.reset()


STATE = EmulatorState()
