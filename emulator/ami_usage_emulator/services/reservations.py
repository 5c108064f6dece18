"""EC2 Reserved Instances as Cost Explorer sees them, seeded through ``POST /_emulator/reservations``.

moto has no Cost Explorer ``GetReservationUtilization``.  The emulator keeps the
reservations a test seeds (who bought what, when, at which price, how much of it ran)
and the Cost Explorer settings of each account (its payer, whether it may call Cost
Explorer), and computes every figure of a ``ReservationAggregates`` from them for any
period: nothing is stored as an answer.

Organisations: an account whose settings name a ``payer`` is a member of the payer's
organisation.  Like the management account of an AWS organisation, a payer sees its
own reservations and its members'; any other account sees only its own.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..config import ConfigError

EC2_COMPUTE = "Amazon Elastic Compute Cloud - Compute"
ACCESS = ("enabled", "denied", "not_enabled", "data_unavailable")
PLATFORMS = (
    "Linux/UNIX",
    "Linux/UNIX (Amazon VPC)",
    "Windows",
    "Windows (Amazon VPC)",
    "Red Hat Enterprise Linux",
    "SUSE Linux",
)
ACCOUNT_RE = re.compile(r"^\d{12}$")
# EC2's normalisation factors (size -> units per instance-hour); "16xlarge" etc. are 8 x N.
SIZE_UNITS = {"nano": 0.25, "micro": 0.5, "small": 1, "medium": 2, "large": 4, "xlarge": 8}
RESERVATION_FIELDS = {
    "account_id",
    "subscription_id",
    "instance_type",
    "region",
    "platform",
    "number_of_instances",
    "start",
    "end",
    "upfront_hourly_usd",
    "recurring_hourly_usd",
    "on_demand_hourly_usd",
    "used_fraction",
    "used_hours_per_day",
    "scope",
    "tenancy",
    "offering_class",
}


def normalized_units(instance_type: str) -> float:
    size = instance_type.split(".")[-1]
    if size in SIZE_UNITS:
        return float(SIZE_UNITS[size])
    match = re.fullmatch(r"(\d+)xlarge", size)
    return 8.0 * int(match.group(1)) if match else 8.0  # metal and unknown sizes: as xlarge


def _parse_time(name: str, value: Any) -> datetime:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be an ISO date or date-time string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{name} is not an ISO date or date-time: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _number(name: str, value: Any, low: float, high: float | None = None) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ConfigError(f"{name} must be a number {bound}")
    return float(value)


@dataclass(frozen=True)
class Reservation:
    """One EC2 RI subscription and how much of it ran (a constant rate over its term)."""

    account_id: str
    subscription_id: str
    instance_type: str
    region: str
    platform: str
    number_of_instances: int
    start: datetime
    end: datetime
    upfront_hourly_usd: float
    recurring_hourly_usd: float
    on_demand_hourly_usd: float
    used_fraction: float
    scope: str
    tenancy: str
    offering_class: str

    @staticmethod
    def parse(raw: Any) -> Reservation:
        if not isinstance(raw, dict):
            raise ConfigError("each reservation must be an object")
        unknown = set(raw) - RESERVATION_FIELDS
        if unknown:
            raise ConfigError(f"unknown reservation fields: {sorted(unknown)}")
        for name in ("account_id", "subscription_id", "instance_type", "region", "number_of_instances", "start", "end"):
            if name not in raw:
                raise ConfigError(f"reservation field {name} is required")
        if not isinstance(raw["account_id"], str) or not ACCOUNT_RE.match(raw["account_id"]):
            raise ConfigError("account_id must be a 12-digit account id")
        count = raw["number_of_instances"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError("number_of_instances must be an integer >= 1")
        start, end = _parse_time("start", raw["start"]), _parse_time("end", raw["end"])
        if end <= start:
            raise ConfigError("end must be after start")
        platform = raw.get("platform", "Linux/UNIX")
        if platform not in PLATFORMS:
            raise ConfigError(f"platform must be one of {list(PLATFORMS)}")
        return Reservation(
            account_id=raw["account_id"],
            subscription_id=str(raw["subscription_id"]),
            instance_type=str(raw["instance_type"]),
            region=str(raw["region"]),
            platform=platform,
            number_of_instances=count,
            start=start,
            end=end,
            upfront_hourly_usd=_number("upfront_hourly_usd", raw.get("upfront_hourly_usd", 0), 0),
            recurring_hourly_usd=_number("recurring_hourly_usd", raw.get("recurring_hourly_usd", 0), 0),
            on_demand_hourly_usd=_number("on_demand_hourly_usd", raw.get("on_demand_hourly_usd", 0), 0),
            used_fraction=_used_fraction(raw, count),
            scope=str(raw.get("scope", "Region")),
            tenancy=str(raw.get("tenancy", "Shared")),
            offering_class=str(raw.get("offering_class", "standard")),
        )

    @property
    def subscription_type(self) -> str:
        if self.upfront_hourly_usd and self.recurring_hourly_usd:
            return "Partial Upfront"
        return "All Upfront" if self.upfront_hourly_usd else "No Upfront"

    def attributes(self, now: datetime, account_name: str | None) -> dict[str, str]:
        """The group's ``Attributes`` with the keys as Cost Explorer returns them (camelCase)."""
        iso = "%Y-%m-%dT%H:%M:%S.000Z"
        attrs = {
            "accountId": self.account_id,
            "availabilityZone": "",
            "cancellationDateTime": "",
            "endDateTime": self.end.strftime(iso),
            "instanceType": self.instance_type,
            "leaseId": f"{self.subscription_id}-lease",
            "numberOfInstances": str(self.number_of_instances),
            "offeringType": self.offering_class,
            "platform": self.platform,
            "region": self.region,
            "scope": self.scope,
            "startDateTime": self.start.strftime(iso),
            "subscriptionId": self.subscription_id,
            "subscriptionStatus": "Active" if self.start <= now < self.end else "Retired",
            "subscriptionType": self.subscription_type,
            "tenancy": self.tenancy,
        }
        if account_name:
            attrs["accountName"] = account_name
        return attrs

    def hours_in(self, start: datetime, end: datetime) -> float:
        """Hours of the term inside ``[start, end)``."""
        low, high = max(start, self.start), min(end, self.end)
        return max(0.0, (high - low).total_seconds() / 3600)


def _used_fraction(raw: dict[str, Any], count: int) -> float:
    if "used_fraction" in raw and "used_hours_per_day" in raw:
        raise ConfigError("give used_fraction or used_hours_per_day, not both")
    if "used_hours_per_day" in raw:
        per_day = _number("used_hours_per_day", raw["used_hours_per_day"], 0, 24.0 * count)
        return per_day / (24.0 * count)
    return _number("used_fraction", raw.get("used_fraction", 1.0), 0, 1)


@dataclass
class Aggregates:
    """The sums behind one ``ReservationAggregates``."""

    purchased_hours: float = 0.0
    actual_hours: float = 0.0
    purchased_units: float = 0.0
    actual_units: float = 0.0
    upfront_fee: float = 0.0
    recurring_fee: float = 0.0
    on_demand_cost_used: float = 0.0
    on_demand_cost_purchased: float = 0.0

    def add(self, r: Reservation, start: datetime, end: datetime) -> None:
        purchased = r.hours_in(start, end) * r.number_of_instances
        used = purchased * r.used_fraction
        units = normalized_units(r.instance_type)
        self.purchased_hours += purchased
        self.actual_hours += used
        self.purchased_units += purchased * units
        self.actual_units += used * units
        self.upfront_fee += purchased * r.upfront_hourly_usd
        self.recurring_fee += purchased * r.recurring_hourly_usd
        self.on_demand_cost_used += used * r.on_demand_hourly_usd
        self.on_demand_cost_purchased += purchased * r.on_demand_hourly_usd

    def to_output(self) -> dict[str, str]:
        unused = self.purchased_hours - self.actual_hours
        unused_units = self.purchased_units - self.actual_units
        amortized = self.upfront_fee + self.recurring_fee
        rate = amortized / self.purchased_hours if self.purchased_hours else 0.0
        od_rate = self.on_demand_cost_purchased / self.purchased_hours if self.purchased_hours else 0.0
        return {
            "UtilizationPercentage": _num(_percent(self.actual_hours, self.purchased_hours)),
            "UtilizationPercentageInUnits": _num(_percent(self.actual_units, self.purchased_units)),
            "PurchasedHours": _num(self.purchased_hours),
            "PurchasedUnits": _num(self.purchased_units),
            "TotalActualHours": _num(self.actual_hours),
            "TotalActualUnits": _num(self.actual_units),
            "UnusedHours": _num(unused),
            "UnusedUnits": _num(unused_units),
            "OnDemandCostOfRIHoursUsed": _num(self.on_demand_cost_used),
            "NetRISavings": _num(self.on_demand_cost_used - amortized),
            "TotalPotentialRISavings": _num(self.on_demand_cost_purchased - amortized),
            "AmortizedUpfrontFee": _num(self.upfront_fee),
            "AmortizedRecurringFee": _num(self.recurring_fee),
            "TotalAmortizedFee": _num(amortized),
            "RICostForUnusedHours": _num(unused * rate),
            "RealizedSavings": _num(self.actual_hours * (od_rate - rate)),
            "UnrealizedSavings": _num(unused * (od_rate - rate)),
        }


def _percent(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def _num(value: float) -> str:
    """Cost Explorer's numbers are strings: integers bare, the rest with up to 10 decimals."""
    text = f"{round(value, 10):.10f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


class ReservationStore:
    """Seeded reservations, per-account Cost Explorer settings and the call counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self._reservations: list[Reservation] = []
            self._accounts: dict[str, dict[str, Any]] = {}
            self.page_size = 100
            self.limit_exceeded_next = 0
            self._counters: dict[str, dict[str, Any]] = {}

    def add(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or set(body) != {"reservations"} or not isinstance(body["reservations"], list):
            raise ConfigError('reservations takes {"reservations": [{...}, ...]}')
        parsed = [Reservation.parse(raw) for raw in body["reservations"]]
        with self._lock:
            known = {r.subscription_id for r in self._reservations}
            dupes = [r.subscription_id for r in parsed if r.subscription_id in known]
            if dupes or len({r.subscription_id for r in parsed}) != len(parsed):
                raise ConfigError(f"subscription ids must be unique: {dupes or 'repeated in the request'}")
            self._reservations.extend(parsed)
        return self.snapshot()

    def configure(self, body: Any) -> dict[str, Any]:
        """``{"accounts": {"<id>": {"payer", "access", "name"}}, "page_size": N,
        "limit_exceeded_next": N}`` (partial)."""
        if not isinstance(body, dict) or set(body) - {"accounts", "page_size", "limit_exceeded_next"}:
            raise ConfigError('cost_explorer takes {"accounts": {...}, "page_size": N, "limit_exceeded_next": N}')
        accounts = {a: _account_settings(a, s) for a, s in (body.get("accounts") or {}).items()}
        size = body.get("page_size", self.page_size)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError("page_size must be an integer >= 1")
        throttled = body.get("limit_exceeded_next", self.limit_exceeded_next)
        if isinstance(throttled, bool) or not isinstance(throttled, int) or throttled < 0:
            raise ConfigError("limit_exceeded_next must be an integer >= 0")
        with self._lock:
            self._accounts.update(accounts)
            self.page_size = size
            self.limit_exceeded_next = throttled
        return self.snapshot()

    def take_limit_exceeded(self) -> bool:
        """Whether this call is one of the next ones configured to be throttled."""
        with self._lock:
            if self.limit_exceeded_next == 0:
                return False
            self.limit_exceeded_next -= 1
            return True

    def settings_of(self, account: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._accounts.get(account, {"access": "enabled"}))

    def visible_to(self, account: str) -> list[Reservation]:
        """The caller's reservations, plus its members' when it is a payer."""
        with self._lock:
            members = {a for a, s in self._accounts.items() if s.get("payer") == account}
            return [r for r in self._reservations if r.account_id == account or r.account_id in members]

    def account_name(self, account: str) -> str | None:
        with self._lock:
            return self._accounts.get(account, {}).get("name")

    def count(self, action: str, account: str, error: str | None) -> None:
        with self._lock:
            c = self._counters.setdefault(action, {"calls": 0, "errors": {}, "by_account": {}})
            c["calls"] += 1
            c["by_account"][account] = c["by_account"].get(account, 0) + 1
            if error:
                c["errors"][error] = c["errors"].get(error, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "reservations": [_reservation_view(r) for r in self._reservations],
                "accounts": {a: dict(s) for a, s in self._accounts.items()},
                "page_size": self.page_size,
                "limit_exceeded_next": self.limit_exceeded_next,
                "counters": {
                    k: {**v, "errors": dict(v["errors"]), "by_account": dict(v["by_account"])}
                    for k, v in self._counters.items()
                },
            }


def _account_settings(account: Any, raw: Any) -> dict[str, Any]:
    if not isinstance(account, str) or not ACCOUNT_RE.match(account):
        raise ConfigError(f"account {account!r} must be a 12-digit account id")
    if not isinstance(raw, dict) or set(raw) - {"payer", "access", "name"}:
        raise ConfigError("account settings take payer, access, name")
    access = raw.get("access", "enabled")
    if access not in ACCESS:
        raise ConfigError(f"access must be one of {list(ACCESS)}")
    payer = raw.get("payer")
    if payer is not None and (not isinstance(payer, str) or not ACCOUNT_RE.match(payer)):
        raise ConfigError("payer must be a 12-digit account id")
    out: dict[str, Any] = {"access": access}
    if payer:
        out["payer"] = payer
    if raw.get("name"):
        out["name"] = str(raw["name"])
    return out


def _reservation_view(r: Reservation) -> dict[str, Any]:
    return {
        "account_id": r.account_id,
        "subscription_id": r.subscription_id,
        "instance_type": r.instance_type,
        "region": r.region,
        "platform": r.platform,
        "number_of_instances": r.number_of_instances,
        "start": r.start.isoformat(),
        "end": r.end.isoformat(),
        "upfront_hourly_usd": r.upfront_hourly_usd,
        "recurring_hourly_usd": r.recurring_hourly_usd,
        "on_demand_hourly_usd": r.on_demand_hourly_usd,
        "used_fraction": r.used_fraction,
        "subscription_type": r.subscription_type,
    }


ONE_DAY = timedelta(days=1)
