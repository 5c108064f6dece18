"""The emulator's clock: real time plus an offset that tests can advance.

Report states (pending -> available), expiry (30 days) and the instance
activity lag are all judged against this clock, so a test can move 30 days
forward in one call instead of waiting.  The clock never goes backwards
relative to real time: only ``advance`` (non-negative) changes the offset.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Real UTC time shifted by ``offset`` seconds (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0

    @property
    def offset_seconds(self) -> float:
        with self._lock:
            return self._offset

    def now(self) -> datetime:
        """Aware UTC datetime, truncated to milliseconds like EC2 timestamps."""
        with self._lock:
            ts = time.time() + self._offset
        dt = datetime.fromtimestamp(ts, tz=UTC)
        return dt.replace(microsecond=(dt.microsecond // 1000) * 1000)

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("advance_seconds must be >= 0 (the clock never goes back)")
        with self._lock:
            self._offset += float(seconds)
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0


def rfc3339(dt: datetime) -> str:
    """``2025-11-29T11:04:43.305Z`` (UTC, milliseconds)."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def as_utc(value: datetime) -> datetime:
    """moto stores naive UTC datetimes; make them aware so they compare with ours."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


THIRTY_DAYS = timedelta(days=30)
