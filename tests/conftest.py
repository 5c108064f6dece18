# Makes tests/support importable as the package `support` from every test directory
# (e.g. `from support.glue_schema import check_rows`), and orders the tests for a run
# spread over processes (scripts/test: pytest-xdist, `--dist loadfile`).
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the slow tests first: a run spread over processes ends when its last test
    does, so a long test must not start last. Under `--dist loadfile` a file goes to a
    worker whole, in the order of its first test here: the files with slow tests lead.
    Stable: the order within each class of tests is the collection order."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("slow") else 1)
