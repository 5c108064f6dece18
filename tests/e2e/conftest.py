import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import BINARY, ROOT, Emulator  # noqa: E402


@pytest.fixture(scope="session")
def binary() -> Path:
    """The real binary; built here when the test command did not build it first."""
    if not BINARY.exists():
        subprocess.run(["cargo", "build", "--quiet"], cwd=ROOT, check=True)
    return BINARY


@pytest.fixture(scope="session")
def emulator_server():
    (ROOT / "target").mkdir(exist_ok=True)
    emu = Emulator().start()
    yield emu
    emu.stop()


@pytest.fixture
def emu(emulator_server, binary) -> Emulator:
    emulator_server.control("reset", {})
    return emulator_server
