"""Session fixture: the emulator as a real server (``scripts/emulator --port <free>``).

Every test starts from a clean emulator (``POST /_emulator/reset``), talks to
it over HTTP with boto3 (or the real ``aws`` CLI) exactly as the project's
Rust binary does through AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from emu_helpers import REGION

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Any:
    port = _free_port()
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(ROOT / "scripts" / "emulator"), "--port", str(port), "--quiet"], stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # first run may have to build the venv
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited with {proc.returncode}: {log.read_text()}")
        try:
            if requests.get(url + "/_emulator/health", timeout=1).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):  # busy machine: warm-up can take seconds
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"emulator not healthy in time: {log.read_text()}")
        time.sleep(0.1)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


# The emulator's delays default to AWS's documented worst case (usage reports: instances
# 24 h, launch templates 7 days unseen; lastLaunchedTime 24 h; a new Recycle Bin rule
# pending 30 minutes); a test that is not about them (no `aws_lags` marker) sees what it
# just created. The tests of the delays themselves run with the defaults.
NO_LAGS = {
    "instance_activity_lag_seconds": 0,
    "launch_template_activity_lag_seconds": 0,
    "last_launched_lag_seconds": 0,
    "rbin_rule_activation_seconds": 0,
}


@pytest.fixture(autouse=True)
def clean(endpoint: str, request: pytest.FixtureRequest) -> None:
    r = requests.post(endpoint + "/_emulator/reset", timeout=30)
    assert r.status_code == 200, r.text
    if request.node.get_closest_marker("aws_lags") is None:
        r = requests.post(endpoint + "/_emulator/config", json=NO_LAGS, timeout=30)
        assert r.status_code == 200, r.text


class Control:
    """Thin JSON client for the control API."""

    def __init__(self, base: str) -> None:
        self.base = base + "/_emulator"

    def get(self, path: str) -> Any:
        r = requests.get(self.base + path, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, path: str, body: Any = None, expect: int = 200) -> Any:
        r = requests.post(self.base + path, json=body if body is not None else {}, timeout=30)
        assert r.status_code == expect, r.text
        return r.json()


@pytest.fixture
def control(endpoint: str) -> Control:
    return Control(endpoint)


@pytest.fixture
def aws(endpoint: str) -> Any:
    """``aws("ec2", account="111111111111", region=...)`` -> boto3 client without retries."""

    def make(
        service: str,
        account: str | None = None,
        region: str = REGION,
        credentials: dict[str, str] | None = None,
        **config: Any,
    ) -> Any:
        creds = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        settings = {
            "retries": {"total_max_attempts": 1, "mode": "standard"},  # see every error
            "s3": {"addressing_style": "path"},
            **config,
        }
        client = boto3.client(service, endpoint_url=endpoint, region_name=region, **creds, config=Config(**settings))
        if account:

            def add_header(request: Any, **_: Any) -> None:
                request.headers["x-moto-account-id"] = account

            client.meta.events.register("before-sign.*.*", add_header)
        return client

    return make


@pytest.fixture
def cli_env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL=endpoint,
        AWS_PAGER="",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    return env
