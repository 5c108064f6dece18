"""The emulator's state: the ``World`` builds every store once and hands each its clock,
its config and the other stores it works with.

moto creates a response object per request, so nothing reaches this state as a module
global: the app builds one ``World`` and gives its stores, as arguments, to the moto
grafts, the services and the control API (``moto_grafts/install.py``, ``app.py``).
"""

from __future__ import annotations

from .clock import Clock, rfc3339
from .config import Config
from .control.faults import Faults
from .control.oddities import Oddities
from .control.synthetic import SyntheticFleet
from .logs import EventLog
from .moto_grafts.allowed_images import AllowedImagesStore
from .reports.store import ReportStore
from .services.recipes import RecipeStore
from .services.recycle_bin import RecycleBin
from .services.reservations import ReservationStore


class World:
    """Every store of the emulator, built together; ``reset`` forgets all they hold."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.config = Config()
        self.faults = Faults()
        self.synthetic = SyntheticFleet()
        self.recipes = RecipeStore()  # Image Builder recipes
        self.reports = ReportStore(self.config, self.recipes, entry_source=self.synthetic.entries_for)
        self.allowed_images = AllowedImagesStore()  # Allowed AMIs settings
        self.oddities = Oddities(self.clock, self.reports)
        self.sns_log = EventLog()
        self.calls = EventLog()
        self.recycle_bin = RecycleBin(self.clock, self.config)  # Recycle Bin rules and retained AMIs
        self.reservations = ReservationStore()  # Cost Explorer RI utilization

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
