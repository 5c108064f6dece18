"""The JSON control API under ``/_emulator/`` (health, clock, config, faults, reset, logs, calls).

Tests and the README demo steer the emulator through it instead of reaching
into the process: everything a test needs to arrange (time passing, report
readiness, failures) or to observe (fault counters, SNS messages) is here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from ..clock import rfc3339
from ..config import ConfigError
from ..wire import json_response
from ..world import World

Handler = Callable[[Any], tuple[int, Any]]


class ControlApi:
    """Routes ``/_emulator/...`` requests to ``world``'s stores; ``reset_moto`` is supplied by the app."""

    def __init__(self, world: World, reset_moto: Callable[[], None]) -> None:
        self._world = world
        self._reset_moto = reset_moto
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/_emulator/health"): self._health,
            ("GET", "/_emulator/clock"): self._get_clock,
            ("POST", "/_emulator/clock"): self._post_clock,
            ("GET", "/_emulator/config"): self._get_config,
            ("POST", "/_emulator/config"): self._post_config,
            ("GET", "/_emulator/faults"): self._get_faults,
            ("POST", "/_emulator/faults"): self._post_faults,
            ("GET", "/_emulator/oddities"): self._get_oddities,
            ("POST", "/_emulator/oddities"): self._post_oddities,
            ("POST", "/_emulator/reset"): self._reset,
            ("GET", "/_emulator/sns/published"): self._sns_published,
            ("POST", "/_emulator/synthetic"): self._post_synthetic,
            ("GET", "/_emulator/synthetic"): self._get_synthetic,
            ("GET", "/_emulator/reports"): self._reports,
            ("GET", "/_emulator/calls"): self._calls,
            ("POST", "/_emulator/reservations"): self._post_reservations,
            ("GET", "/_emulator/reservations"): self._get_reservations,
            ("POST", "/_emulator/cost_explorer"): self._post_cost_explorer,
            ("GET", "/_emulator/cost_explorer"): self._get_reservations,
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "").rstrip("/")
        handler = self.routes.get((method, path))
        if handler is None:
            known = any(p == path for _, p in self.routes)
            status, payload = (
                (405, {"error": f"{method} not allowed on {path}"})
                if known
                else (
                    404,
                    {"error": f"no control endpoint {path}", "endpoints": sorted({f"{m} {p}" for m, p in self.routes})},
                )
            )
        else:
            try:
                status, payload = handler(self._json_body(environ) if method == "POST" else None)
            except ConfigError as err:
                status, payload = 400, {"error": str(err)}
        return json_response(start_response, status, payload)

    @staticmethod
    def _json_body(environ: dict[str, Any]) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError as err:
            raise ConfigError(f"body is not JSON: {err}") from None

    def _reset(self, _: Any) -> tuple[int, Any]:
        self._reset_moto()
        self._world.reset()
        return 200, {"ok": True, "now": self._world.now_rfc3339()}

    def _health(self, _: Any) -> tuple[int, Any]:
        return 200, {"ok": True}

    def _get_clock(self, _: Any) -> tuple[int, Any]:
        return 200, {"now": self._world.now_rfc3339(), "offset_seconds": self._world.clock.offset_seconds}

    def _post_clock(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or set(body) != {"advance_seconds"}:
            raise ConfigError('clock takes {"advance_seconds": N}')
        seconds = body["advance_seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ConfigError("advance_seconds must be a number")
        try:
            now = self._world.clock.advance(seconds)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        return 200, {"now": rfc3339(now), "offset_seconds": self._world.clock.offset_seconds}

    def _get_config(self, _: Any) -> tuple[int, Any]:
        return 200, self._world.config.snapshot()

    def _post_config(self, body: Any) -> tuple[int, Any]:
        return 200, self._world.config.update(body)

    def _get_faults(self, _: Any) -> tuple[int, Any]:
        return 200, self._world.faults.snapshot()

    def _post_faults(self, body: Any) -> tuple[int, Any]:
        return 200, self._world.faults.configure(body)

    def _get_oddities(self, _: Any) -> tuple[int, Any]:
        return 200, self._world.oddities.snapshot()

    def _post_oddities(self, body: Any) -> tuple[int, Any]:
        return 200, self._world.oddities.configure(body)

    def _post_synthetic(self, body: Any) -> tuple[int, Any]:
        from moto.core import DEFAULT_ACCOUNT_ID

        return 200, self._world.synthetic.seed(body, DEFAULT_ACCOUNT_ID)

    def _get_synthetic(self, _: Any) -> tuple[int, Any]:
        return 200, self._world.synthetic.snapshot()

    def _post_reservations(self, body: Any) -> tuple[int, Any]:
        return 200, self._world.reservations.add(body)

    def _get_reservations(self, _: Any) -> tuple[int, Any]:
        return 200, self._world.reservations.snapshot()

    def _post_cost_explorer(self, body: Any) -> tuple[int, Any]:
        return 200, self._world.reservations.configure(body)

    def _sns_published(self, _: Any) -> tuple[int, Any]:
        return 200, {"messages": self._world.sns_log.all()}

    def _calls(self, _: Any) -> tuple[int, Any]:
        """Every mutating EC2 / Recycle Bin call so far, faulted ones included (``fault`` set)."""
        return 200, {"calls": self._world.calls.all()}

    def _reports(self, _: Any) -> tuple[int, Any]:
        """Debug view: every stored report of every account and region."""
        from moto.ec2.models import ec2_backends

        now = self._world.clock.now()
        out = []
        for (owner, region), reports in sorted(self._world.reports.snapshot(now).items()):
            for r in reports:
                item = r.to_output(now, dict(ec2_backends[owner][region].tags.get(r.report_id, {})))
                item.update(
                    CreationTime=rfc3339(r.creation_time),
                    ExpirationTime=rfc3339(r.expiration_time),
                    OwnerId=owner,
                    Region=region,
                    Entries=[
                        {"AccountId": e.account_id, "ResourceType": e.resource_type, "UsageCount": e.usage_count}
                        for e in r.entries
                    ],
                )
                out.append(item)
        return 200, {"reports": out}
