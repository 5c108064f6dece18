# Makes tests/support importable as the package `support` from every test directory
# (e.g. `from support.glue_schema import check_rows`).
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
