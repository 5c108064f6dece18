# Makes tests/support importable as the package `support` from every test directory
# (e.g. `from support.glue_schema import check_rows`), and orders the tests for a run
# spread over processes (scripts/test: pytest-xdist, `--dist loadgroup`).
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _shares_module_state(item: pytest.Item) -> bool:
    """A test whose module- or class-scoped fixture drives the worker's emulator: the
    fixture builds its world once, and every test of the module reads it back."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None or "emulator_server" not in info.names_closure:
        return False
    return any(d.scope in ("module", "class") for defs in info.name2fixturedefs.values() for d in defs)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep a module that builds emulator state once for all its tests on one worker
    (`xdist_group`: under `--dist loadgroup` its tests run there in order; split over two
    workers, each would build it), and start the slow tests first: a run spread over
    processes ends when its last test does, so a long test must not start last.
    Stable: the order within each class of tests is the collection order."""
    groups: dict[str, bool] = {}
    for item in items:
        if _shares_module_state(item):
            group = item.nodeid.split("::", 1)[0]
            item.add_marker(pytest.mark.xdist_group(group))
            groups[group] = groups.get(group, False) or item.get_closest_marker("slow") is not None

    def slow_first(item: pytest.Item) -> int:
        group = item.nodeid.split("::", 1)[0]
        return 0 if item.get_closest_marker("slow") is not None or groups.get(group) else 1

    items.sort(key=slow_first)
