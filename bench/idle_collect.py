"""An idle collect's cost against the length of the history (issue 23, item 7).

    cargo build    # the binary under test: target/debug/ami-usage-reporter
    $(scripts/python-env)/python bench/idle_collect.py --days 10,40,80 \
        --before /tmp/aur-before [--after target/debug/ami-usage-reporter]

On the emulator (started here on a free port), the demo fleet of tests/e2e/fleet.py
(four golden AMIs, consumers in two accounts) lives through the longest of `--days`
emulated days: each day `create`, then `collect` once its reports are ready (the
`--after` binary, as deployed after the change). At each checkpoint day N, an hour after
that day's collect, each binary runs idle collects (nothing new to archive, no day newly
closed): one warm-up (it does whatever the other binary's state left it to do once),
then `--repeat` measured runs. Every measured run goes through a counting proxy: its S3
`ListObjectsV2` calls (split into the compaction's day-folder listings, `?delimiter=/`,
listings of one day's partition per dataset, and others), its other S3 and its EC2
calls, and its wall time (process start to exit, debug build). Prints a Markdown table
(BENCHMARKS.md, "An idle collect").

`--before` is a build of the previous code (e.g. `git worktree add /tmp/base <commit>`
and `cargo build` there, or a copy of target/debug/ami-usage-reporter taken before the
change): both binaries read and write the same archive and states; an earlier build
ignores the state fields it does not know (and drops them when it writes), which is
why each binary has its warm-up run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from fleet import SHORT_WINDOW_RULES, archive_and_alerting, demo_fleet, seed  # noqa: E402
from harness import Emulator, base_env, free_port  # noqa: E402

DAY = 86_400
READY_AFTER = 600
PREFIX = "ami-usage"


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: Counter = Counter()

    def add(self, kind: str) -> None:
        with self.lock:
            self.calls[kind] += 1

    def take(self) -> Counter:
        with self.lock:
            taken, self.calls = self.calls, Counter()
        return taken


def kind_of(method: str, path: str, body: bytes) -> str:
    """What a request is: `list <what>` for ListObjectsV2, `s3` / `ec2` / `sts` otherwise."""
    url = urlsplit(path)
    query = parse_qs(url.query)
    if method == "POST" and url.path == "/":
        action = parse_qs(body.decode(errors="replace")).get("Action", ["?"])[0]
        return "sts" if action == "GetCallerIdentity" else "ec2"
    if method == "GET" and "list-type" in query:
        prefix = query.get("prefix", [""])[0]
        if "delimiter" in query:
            return "list folders"
        for dataset in ("entries", "reports", "verdicts"):
            if f"/{dataset}/" in prefix and "report_date=" in prefix:
                return f"list {dataset} day"
        return "list other"
    return "s3"


def proxy(target: str, counts: Counts) -> ThreadingHTTPServer:
    host, port = target.removeprefix("http://").split(":")

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    data += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                return data
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def forward(self) -> None:
            body = self.body()
            counts.add(kind_of(self.command, self.path, body))
            headers = {k: v for k, v in self.headers.items() if k.lower() != "transfer-encoding"}
            headers["Content-Length"] = str(len(body))
            conn = http.client.HTTPConnection(host, int(port), timeout=300)
            conn.request(self.command, self.path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for k, v in answer.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = forward

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Forward)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(binary: Path, phase: str, emu: Emulator, env: dict) -> tuple[int, float, dict]:
    start = time.perf_counter()
    p = subprocess.run(
        [str(binary), phase, "--now", emu.now(), "--allow-any-now"], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if p.returncode not in (0, 3):
        raise SystemExit(f"{binary} {phase} exited {p.returncode}:\n{p.stderr[-3000:]}")
    return p.returncode, wall, json.loads(p.stdout) if p.stdout.strip() else {}


def idle_runs(binary: Path, emu: Emulator, env: dict, counts: Counts, repeat: int) -> list[tuple[float, Counter]]:
    runs = []
    for i in range(repeat + 1):
        emu.advance(60)
        counts.take()
        _, wall, summary = run(binary, "collect", emu, env)
        calls = counts.take()
        if summary.get("archived"):
            raise SystemExit(f"not idle: {binary} archived {summary['archived']} reports")
        if i > 0:
            runs.append((wall, calls))
    return runs


def row(n: int, name: str, runs: list[tuple[float, Counter]]) -> str:
    lists = [sum(v for k, v in c.items() if k.startswith("list ")) for _, c in runs]
    last = runs[-1][1]
    return (
        f"| {n} | {name} | {min(lists)}–{max(lists)} | {last['list folders']} | {last['list entries day']} | "
        f"{last['list reports day']} | {last['list verdicts day']} | {last['list other']} | "
        f"{last['s3']} | {last['ec2']} | {statistics.median(w for w, _ in runs):.2f} |"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", default="10,40,80", help="checkpoints: history lengths in days")
    ap.add_argument("--before", type=Path, required=True, help="the binary before the change")
    ap.add_argument("--after", type=Path, default=ROOT / "target" / "debug" / "ami-usage-reporter")
    ap.add_argument("--repeat", type=int, default=2, help="measured idle runs per binary and checkpoint")
    args = ap.parse_args()
    checkpoints = sorted({int(d) for d in args.days.split(",")})
    emu = Emulator().start()
    try:
        alerting = archive_and_alerting(emu)
        seed(emu, demo_fleet())
        env = base_env(emu, ARCHIVE_BUCKET=alerting.bucket, ARCHIVE_PREFIX=PREFIX, **SHORT_WINDOW_RULES)
        counts = Counts()
        server = proxy(emu.url, counts)
        counted = {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}"}
        emu.control("config", {"report_ready_after_seconds": READY_AFTER})
        print(
            "| days of history | binary | ListObjectsV2 per run | of which: day folders | entries days |"
            " reports days (collect's and compaction's) | verdicts days | other | other S3 calls | EC2 calls |"
            " wall s (median) |"
        )
        print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        started = time.perf_counter()
        for day in range(1, checkpoints[-1] + 1):
            run(args.after, "create", emu, env)
            emu.advance(READY_AFTER + 60)
            _, wall, _ = run(args.after, "collect", emu, env)
            if day in checkpoints:
                emu.advance(3600)
                for name, binary in (("before", args.before), ("after", args.after)):
                    print(row(day, name, idle_runs(binary, emu, counted, counts, args.repeat)), flush=True)
                emu.advance(DAY - READY_AFTER - 60 - 3600 - 60 * 2 * (args.repeat + 1))
            else:
                emu.advance(DAY - READY_AFTER - 60)
            print(
                f"day {day}: daily collect {wall:.1f} s, {time.perf_counter() - started:.0f} s so far", file=sys.stderr
            )
        server.shutdown()
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
