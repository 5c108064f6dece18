"""Cost Explorer's ``GetReservationUtilization`` on botocore's ``ce`` model (JSON 1.1,
target ``AWSInsightsIndexService``), computed from the seeded reservations (reservations.py).

moto's Cost Explorer lacks the action, so the WSGI wrapper hands it here; every other
``ce`` action still goes to moto.  What the API reference documents and a caller can
trip over is modelled: the one endpoint (us-east-1), ``TimePeriod`` with an exclusive
``End`` (refused when empty, reversed or starting after today), ``GroupBy`` only by
``SUBSCRIPTION_ID`` and never together with ``Granularity``, granularities DAILY and
MONTHLY (DAILY when neither is set), a ``Filter`` of dimensions joined only by ``And``
with at most one ``SERVICE`` value, ``SortBy``, ``NextPageToken`` paging of the groups
(page size ``MaxResults`` or the configured one), the caller's access (denied, Cost
Explorer not enabled, data unavailable), throttling (``LimitExceededException`` for the
next N calls, on request) and a per-call counter.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from moto.core.serialize import JSONSerializer
from moto.core.utils import get_service_model

from ..aws_request import AwsCall, buffer_body
from ..clock import Clock
from ..wire import AwsError, opaque_token, serialized_response
from .reservations import EC2_COMPUTE, ONE_DAY, Aggregates, Reservation, ReservationStore, day_start

MODEL = get_service_model("ce")
OPERATION = MODEL.operation_model("GetReservationUtilization")
ENDPOINT_REGION = "us-east-1"
RI_SERVICES = {
    EC2_COMPUTE,
    "Amazon Relational Database Service",
    "Amazon ElastiCache",
    "Amazon Redshift",
    "Amazon Elasticsearch Service",
    "Amazon OpenSearch Service",
}
FILTER_DIMENSIONS: dict[str, Callable[[Reservation], str]] = {
    "SERVICE": lambda r: EC2_COMPUTE,
    "INSTANCE_TYPE": lambda r: r.instance_type,
    "LINKED_ACCOUNT": lambda r: r.account_id,
    "PLATFORM": lambda r: r.platform,
    "REGION": lambda r: r.region,
    "SCOPE": lambda r: r.scope,
    "TENANCY": lambda r: r.tenancy,
    "AZ": lambda r: "",
    "OPERATING_SYSTEM": lambda r: r.platform,
    "CACHE_ENGINE": lambda r: "",
    "DEPLOYMENT_OPTION": lambda r: "",
}
SORT_KEYS = set(OPERATION.output_shape.members["Total"].members)


class CostExplorerError(AwsError):
    """An error answered as Cost Explorer does: HTTP 400, ``__type`` = ``code``."""


def _invalid(message: str) -> CostExplorerError:
    return CostExplorerError("ValidationException", message)


def _date(name: str, value: Any) -> date:
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else date.fromisoformat("x")
    except ValueError:
        raise _invalid(f"Invalid date format for {name}: {value!r}. Expected yyyy-MM-dd") from None


def _period(params: dict[str, Any], today: date) -> tuple[date, date]:
    period = params.get("TimePeriod")
    if not isinstance(period, dict) or "Start" not in period or "End" not in period:
        raise _invalid(
            "1 validation error detected: Value null at 'timePeriod' failed to satisfy constraint: Member must not be null"
        )
    start, end = _date("Start", period["Start"]), _date("End", period["End"])
    if start >= end:
        raise _invalid(f"Start date ({start}) must be before end date ({end}). The end date is exclusive.")
    if start > today:
        raise _invalid(f"Start date ({start}) must be equal to or no later than the current date ({today}).")
    return start, end


def _grouping(params: dict[str, Any]) -> tuple[bool, str | None]:
    group_by, granularity = params.get("GroupBy") or [], params.get("Granularity")
    if granularity is not None and granularity not in ("DAILY", "MONTHLY"):
        raise _invalid(
            f"Granularity {granularity} is not supported; GetReservationUtilization supports DAILY and MONTHLY"
        )
    for g in group_by:
        if (
            not isinstance(g, dict)
            or str(g.get("Type", "")).upper() != "DIMENSION"
            or g.get("Key") != "SUBSCRIPTION_ID"
        ):
            raise _invalid(
                f"Group by {g!r} is not supported: GetReservationUtilization groups only by the dimension SUBSCRIPTION_ID"
            )
    if group_by and granularity is not None:
        raise _invalid("Granularity can't be set when GroupBy is set")
    return bool(group_by), (None if group_by else granularity or "DAILY")


def _dimension_test(expr: dict[str, Any]) -> Callable[[Reservation], bool]:
    dims = expr.get("Dimensions")
    if set(expr) != {"Dimensions"} or not isinstance(dims, dict):
        raise _invalid("GetReservationUtilization supports only Dimensions joined by And, one level deep")
    key, values = dims.get("Key"), dims.get("Values") or []
    if key not in FILTER_DIMENSIONS:
        raise _invalid(
            f"Dimension {key} is not allowed for GetReservationUtilization. Allowed: {sorted(FILTER_DIMENSIONS)}"
        )
    if key == "SERVICE":
        if len(values) != 1:
            raise _invalid("The value for the SERVICE filter should not exceed 1")
        if values[0] not in RI_SERVICES:
            raise _invalid(f"Service {values[0]!r} is not supported for reservation utilization")
    attr = FILTER_DIMENSIONS[key]
    return lambda r: attr(r) in values


def _filter(params: dict[str, Any]) -> Callable[[Reservation], bool]:
    expr = params.get("Filter")
    if not expr:
        return lambda r: True
    if not isinstance(expr, dict):
        raise _invalid("Filter must be an Expression")
    tests = [_dimension_test(e) for e in expr["And"]] if set(expr) == {"And"} else [_dimension_test(expr)]
    return lambda r: all(t(r) for t in tests)


def _buckets(start: date, end: date, granularity: str | None) -> list[tuple[date, date]]:
    if granularity is None:
        return [(start, end)]
    out, cursor = [], start
    while cursor < end:
        if granularity == "DAILY":
            nxt = cursor + ONE_DAY
        else:
            nxt = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
        out.append((cursor, min(nxt, end)))
        cursor = nxt
    return out


def _aggregate(reservations: list[Reservation], start: date, end: date, now: datetime) -> Aggregates:
    low, high = day_start(start), min(day_start(end), now)  # no data for hours still to come
    total = Aggregates()
    for r in reservations:
        total.add(r, low, high)
    return total


def _token_key(params: dict[str, Any], account: str) -> str:
    rest = {k: v for k, v in params.items() if k not in ("NextPageToken", "MaxResults")}
    return hashlib.sha256(json.dumps([account, rest], sort_keys=True).encode()).hexdigest()[:16]


def _page_start(params: dict[str, Any], account: str) -> int:
    token = params.get("NextPageToken")
    if not token:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        if decoded["q"] != _token_key(params, account) or int(decoded["o"]) < 1:
            raise ValueError
        return int(decoded["o"])
    except (ValueError, KeyError, TypeError):
        raise CostExplorerError(
            "InvalidNextTokenException", "The pagination token is invalid. Try again without a pagination token."
        ) from None


def _sorted_groups(groups: list[dict[str, Any]], sort_by: Any) -> list[dict[str, Any]]:
    if not sort_by:
        return sorted(groups, key=lambda g: g["Value"])
    key = sort_by.get("Key") if isinstance(sort_by, dict) else None
    if key not in SORT_KEYS:
        raise _invalid(f"SortBy key {key!r} is not supported. Supported: {sorted(SORT_KEYS)}")
    descending = sort_by.get("SortOrder", "ASCENDING") == "DESCENDING"
    return sorted(groups, key=lambda g: (float(g["Utilization"][key]), g["Value"]), reverse=descending)


class CostExplorerApi:
    """GetReservationUtilization over ``reservations`` (the seeded RIs, the accounts'
    settings, the call counters), as of ``clock``."""

    def __init__(self, reservations: ReservationStore, clock: Clock) -> None:
        self._reservations = reservations
        self._clock = clock

    def handle(self, call: AwsCall, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        """Answer one ``GetReservationUtilization`` request and count it."""
        result: Any
        try:
            params = json.loads(buffer_body(environ) or b"{}")
            if not isinstance(params, dict):
                raise _invalid("The request body is not a JSON object")
            result = self.utilization(call, params)
        except CostExplorerError as err:
            result = err
        except ValueError as err:
            result = CostExplorerError("SerializationException", f"The request body is not valid JSON: {err}")
        self._reservations.count("GetReservationUtilization", call.account, getattr(result, "code", None))
        return serialized_response(JSONSerializer(OPERATION).serialize(result), start_response, "Bad Request")

    def _check_access(self, call: AwsCall) -> None:
        if call.region != ENDPOINT_REGION:
            raise CostExplorerError(
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{call.region}'. Cost Explorer's endpoint is "
                f"ce.{ENDPOINT_REGION}.amazonaws.com",
            )
        access = self._reservations.settings_of(call.account)["access"]
        if access == "denied":
            raise CostExplorerError(
                "AccessDeniedException",
                f"User: arn:aws:sts::{call.account}:assumed-role/caller is not authorized to perform: "
                f"ce:GetReservationUtilization on resource: arn:aws:ce:{ENDPOINT_REGION}:{call.account}:/GetReservationUtilization",
            )
        if access == "not_enabled":
            raise CostExplorerError("AccessDeniedException", "User not enabled for cost explorer access")
        if access == "data_unavailable":
            raise CostExplorerError(
                "DataUnavailableException",
                "Data is not available. Please try to adjust the time period. If you've just enabled Cost Explorer, "
                "data might not be ready yet.",
            )

    def _grouped(
        self, call: AwsCall, params: dict[str, Any], chosen: list[Reservation], period: tuple[date, date], now: datetime
    ) -> dict[str, Any]:
        name = self._reservations.account_name
        groups = []
        for r in chosen:
            agg = _aggregate([r], *period, now)
            if agg.purchased_hours > 0:
                groups.append(
                    {
                        "Key": "SUBSCRIPTION_ID",
                        "Value": r.subscription_id,
                        "Attributes": r.attributes(now, name(r.account_id)),
                        "Utilization": agg.to_output(),
                    }
                )
        groups = _sorted_groups(groups, params.get("SortBy"))
        size = params.get("MaxResults") or self._reservations.page_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise _invalid("MaxResults must be an integer >= 1")
        offset = _page_start(params, call.account)
        total = _aggregate(
            [r for r in chosen if r.subscription_id in {g["Value"] for g in groups}], *period, now
        ).to_output()
        out: dict[str, Any] = {
            "UtilizationsByTime": [
                {
                    "TimePeriod": {"Start": period[0].isoformat(), "End": period[1].isoformat()},
                    "Groups": groups[offset : offset + size],
                    "Total": total,
                }
            ],
            "Total": total,
        }
        if offset + size < len(groups):
            out["NextPageToken"] = opaque_token({"o": offset + size, "q": _token_key(params, call.account)})
        return out

    def utilization(self, call: AwsCall, params: dict[str, Any]) -> dict[str, Any]:
        self._check_access(call)
        if self._reservations.take_limit_exceeded():
            raise CostExplorerError(
                "LimitExceededException", "You made too many calls in a short period of time. Try again later."
            )
        now = self._clock.now()
        period = _period(params, now.astimezone(UTC).date())
        grouped, granularity = _grouping(params)
        keep = _filter(params)
        chosen = [r for r in self._reservations.visible_to(call.account) if keep(r)]
        if grouped:
            return self._grouped(call, params, chosen, period, now)
        by_time = [
            {
                "TimePeriod": {"Start": low.isoformat(), "End": high.isoformat()},
                "Groups": [],
                "Total": _aggregate(chosen, low, high, now).to_output(),
            }
            for low, high in _buckets(*period, granularity)
        ]
        return {"UtilizationsByTime": by_time, "Total": _aggregate(chosen, *period, now).to_output()}
