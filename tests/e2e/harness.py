"""Test harness: the emulator as a real server, AWS clients per emulated account, and
the real ami-usage-reporter binary run as a subprocess against it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import requests
from botocore.config import Config as BotoConfig

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
OWNER = "123456789012"
# AUR_BINARY (scripts/test sets it), else where `cargo build` puts it.
BINARY = Path(
    os.environ.get("AUR_BINARY")
    or Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "debug" / "ami-usage-reporter"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """`scripts/emulator` in the foreground of a child process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Emulator:
        log = open(ROOT / "target" / f"emulator-{self.port}.log", "w")
        self.proc = subprocess.Popen(
            [str(ROOT / "scripts" / "emulator"), "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.proc.returncode}; see {log.name}")
            try:
                if requests.get(f"{self.url}/_emulator/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("emulator did not become healthy in 60 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def control(self, path: str, body: dict | None = None) -> dict:
        if body is None:
            r = requests.get(f"{self.url}/_emulator/{path}", timeout=10)
        else:
            r = requests.post(f"{self.url}/_emulator/{path}", json=body, timeout=10)
        r.raise_for_status()
        return r.json() if r.content else {}

    def now(self) -> str:
        return self.control("clock")["now"]

    def advance(self, seconds: int) -> str:
        self.control("clock", {"advance_seconds": seconds})
        return self.now()

    def client(self, service: str, account: str = OWNER, region: str = REGION):
        c = boto3.client(
            service,
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=BotoConfig(s3={"addressing_style": "path"}, retries={"max_attempts": 10, "mode": "standard"}),
        )
        if account != OWNER:

            def add_header(request, **_):
                request.headers["x-moto-account-id"] = account

            c.meta.events.register("before-sign.*.*", add_header)
        return c


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    summary: dict = field(default_factory=dict)


def base_env(emulator: Emulator, **config: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ARCHIVE_", "ALERT_", "AMI_"))}
    env.update(
        AWS_ENDPOINT_URL=emulator.url,
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_EC2_METADATA_DISABLED="true",
        S3_FORCE_PATH_STYLE="true",
        RUST_LOG="warn,ami_usage_reporter=info",
    )
    env.update(config)
    return env


def run_binary(emulator: Emulator, args: list[str], env: dict, timeout: int = 300) -> Result:
    p = subprocess.run([str(BINARY), *args], env=env, capture_output=True, text=True, timeout=timeout)
    summary = {}
    if p.returncode in (0, 3) and p.stdout.strip():
        summary = json.loads(p.stdout)
    return Result(p.returncode, p.stdout, p.stderr, summary)


VENV_BIN = ROOT / ".venv" / "bin"


class LambdaWatch:
    """`cargo lambda watch` (cargo lambda's Lambda Runtime API emulator) serving the
    function with `env` as its environment, and `cargo lambda invoke` against it."""

    def __init__(self, env: dict) -> None:
        self.env = dict(env)
        self.env["PATH"] = f"{VENV_BIN}{os.pathsep}{self.env.get('PATH', '')}"
        self.port = free_port()
        self.log_path = ROOT / "target" / f"cargo-lambda-watch-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> LambdaWatch:
        import shutil
        import socket as _socket

        assert shutil.which("cargo-lambda", path=self.env["PATH"]), "cargo-lambda missing: run scripts/python-env"
        self.proc = subprocess.Popen(
            ["cargo", "lambda", "watch", "--ignore-changes", "-q", "-A", "127.0.0.1", "-P", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=open(self.log_path, "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 120
        while True:
            try:
                _socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError as e:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"cargo lambda watch did not start; see {self.log_path}") from e
                time.sleep(0.3)

    def invoke(self, *data_args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["cargo", "lambda", "invoke", "ami-usage-reporter", "-A", "127.0.0.1", "-P", str(self.port), *data_args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(20)


def s3_puts(emu) -> int:
    return emu.control("faults")["counters"]["s3_put_object"]["calls"]


def collect_killed_after(emu, env, now, puts: int) -> bool:
    """Starts collect and SIGKILLs it once the emulator has seen `puts` more S3
    PutObject calls from it. False when the run finished before reaching that point."""
    start = s3_puts(emu)
    proc = subprocess.Popen(
        [str(BINARY), "collect", "--now", now], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if s3_puts(emu) - start >= puts:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    return False
