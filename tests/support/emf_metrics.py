"""What src/metrics.rs emits, read from its text (no Rust build): the namespace, the
dimension names and the metric names of each phase. Tests compare template.yaml's
alarms and dashboard with it, so the two cannot drift apart."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METRICS_RS = ROOT / "src" / "metrics.rs"
EVENT_RS = ROOT / "src" / "event.rs"

_METRIC = re.compile(r'count\("(\w+)"|Metric \{ name: "(\w+)"')


def namespace() -> str:
    (ns,) = re.findall(r'pub const NAMESPACE: &str = "(\w+)";', METRICS_RS.read_text())
    return ns


def dimensions() -> list[str]:
    (dims,) = re.findall(r"pub const DIMENSIONS: \[&str; \d+\] = (\[[^\]]*\]);", METRICS_RS.read_text())
    return json.loads(dims)


def _phase_names() -> dict[str, str]:
    """`Phase` variant -> the `Phase` dimension value (`Phase::as_str`)."""
    found = dict(re.findall(r'Phase::(\w+) => "(\w+)"', EVENT_RS.read_text()))
    assert found, "Phase::as_str not found in src/event.rs"
    return found


def metrics_by_phase() -> dict[str, set[str]]:
    """Phase dimension value -> the metric names `metrics_of` emits for it."""
    text = METRICS_RS.read_text()
    body = text[text.index("pub fn metrics_of(") : text.index("pub fn emf(")]
    arms = re.split(r"Summary::(\w+)\(s\) =>", body)[1:]
    names = _phase_names()
    out = {}
    for variant, arm in zip(arms[::2], arms[1::2], strict=True):
        out[names[variant]] = {a or b for a, b in _METRIC.findall(arm)}
    assert set(out) == set(names.values()), out
    assert all(out.values()), out
    return out


def all_metrics() -> set[str]:
    return set().union(*metrics_by_phase().values())
