"""Benchmarks of the release binary against the emulator, side by side with the boto3
baseline (bench/baseline.py). Run through `bench/run`; prints a Markdown table.

Each workload starts from a reset emulator seeded with SYNTHETIC AMIs (the emulator's
scale mode: N AMIs whose reports carry M generated entries). Every measured program
runs as its own process under /usr/bin/time; its CPU (user + system) and peak RSS are
its own, so the emulator's work is never counted.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from harness import REGION, Emulator  # noqa: E402

BINARY = Path(os.environ.get("AUR_RELEASE_BINARY", ROOT / "target" / "release" / "ami-usage-reporter"))
BUCKET = "bench-archive"
AWS_BUCKETS = {"mutating": (50, 5.0), "non_mutating": (100, 20.0)}  # capacity, refill per second


def measured(cmd: list[str], env: dict, tag: str = "run") -> dict:
    """Runs one measured process under /usr/bin/time: wall seconds, CPU seconds (user +
    system), peak RSS (MiB) and its JSON summary. (Python's own rusage of a child would
    count the forked copy of this interpreter, ~55 MiB, before the exec.)"""
    stats, out_path, err_path = (
        Path(f"/tmp/bench-{os.getpid()}-{tag}-{name}") for name in ("time.txt", "stdout.json", "stderr.log")
    )
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        code = subprocess.call(
            ["/usr/bin/time", "-o", str(stats), "-f", "%e %U %S %M", *cmd], env=env, stdout=out, stderr=err
        )
    if code not in (0, 3):
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}): {err_path.read_text()[-2000:]}")
    wall, user, system, rss_kib = stats.read_text().split()[-4:]
    return {
        "wall": float(wall),
        "cpu": float(user) + float(system),
        "rss_mib": int(rss_kib) / 1024,
        "summary": json.loads(out_path.read_text()),
    }


def env_for(emu: Emulator, scale: float, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ARCHIVE_", "AMI_", "EC2_"))}
    env.update(
        AWS_ENDPOINT_URL=emu.url,
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_EC2_METADATA_DISABLED="true",
        S3_FORCE_PATH_STYLE="true",
        ARCHIVE_BUCKET=BUCKET,
        RUST_LOG="warn",
        EC2_MUTATING_BURST=str(int(AWS_BUCKETS["mutating"][0] * scale)),
        EC2_MUTATING_RATE=str(AWS_BUCKETS["mutating"][1] * scale),
        EC2_DESCRIBE_BURST=str(int(AWS_BUCKETS["non_mutating"][0] * scale)),
        EC2_DESCRIBE_RATE=str(AWS_BUCKETS["non_mutating"][1] * scale),
    )
    env.update(extra)
    return env


def fresh(emu: Emulator, amis: int, entries: int, buckets_scale: float | None) -> None:
    emu.control("reset", {})
    emu.control("synthetic", {"amis": amis, "entries_per_report": entries})
    emu.client("s3").create_bucket(Bucket=BUCKET)
    faults = {}
    if buckets_scale is not None:
        faults["ec2_token_buckets"] = {
            kind: {"capacity": int(cap * buckets_scale), "refill_per_second": rate * buckets_scale}
            for kind, (cap, rate) in AWS_BUCKETS.items()
        }
    emu.control("faults", faults)


CREATE_CMDS = (
    ("rust", [str(BINARY), "create"]),
    ("boto3", [sys.executable, str(ROOT / "bench" / "baseline.py"), "create"]),
)


def create_one(emu: Emulator, who: str, cmd: list[str], amis: int, scale: float) -> dict:
    fresh(emu, amis, 0, scale)
    m = measured(cmd, env_for(emu, scale), tag=who)
    ec2 = emu.control("faults")["counters"]["ec2"]
    creates = ec2["by_action"].get("CreateImageUsageReport", {"calls": 0, "throttled": 0})
    m["throttled_pct"] = 100 * creates["throttled"] / max(1, creates["calls"])
    m["calls_per_ami"] = ec2["totals"]["calls"] / amis
    m["created"] = m["summary"].get("created")
    m["creating"] = m["summary"]["creating_seconds"]
    return m


def create_row(emus: list[Emulator], amis: int, scale: float) -> dict:
    """With two emulators, the Rust binary and the baseline run at the same time, each
    against its own emulator and token buckets (for the ~35-minute unscaled 10,000-AMI
    run): CPU and RSS are still each process's own; wall times share the machine."""
    capacity, refill = AWS_BUCKETS["mutating"][0] * scale, AWS_BUCKETS["mutating"][1] * scale
    row = {
        "workload": f"create {amis:,} AMIs"
        + (f" (buckets x{scale:g})" if scale != 1 else "")
        + (" (side by side)" if len(emus) > 1 else ""),
        "ideal": max(0.0, amis - capacity) / refill,
    }
    if len(emus) > 1:
        with ThreadPoolExecutor(2) as pool:
            futures = {
                who: pool.submit(create_one, emu, who, cmd, amis, scale)
                for emu, (who, cmd) in zip(emus, CREATE_CMDS, strict=True)
            }
            row.update({who: f.result() for who, f in futures.items()})
    else:
        row.update({who: create_one(emus[0], who, cmd, amis, scale) for who, cmd in CREATE_CMDS})
    return row


def collect_row(emu: Emulator, entries: int) -> dict:
    row = {"workload": f"collect {entries:,} entries (1 report)", "ideal": None}
    # Describe pacing is lifted for both: this measures client CPU and memory; on AWS,
    # 1,000 entries per page at 20 pages/s bound the wall time (about 50 s per million).
    for who, cmd in (
        ("rust", [str(BINARY), "collect"]),
        ("boto3", [sys.executable, str(ROOT / "bench" / "baseline.py"), "collect"]),
    ):
        fresh(emu, 1, entries, None)
        env = env_for(emu, 1000)
        measured([str(BINARY), "create"], env)
        m = measured(cmd, env)
        m["entries"] = m["summary"].get("entries_archived")
        if m["entries"] != entries:
            raise RuntimeError(f"{who} archived {m['entries']} entries, expected {entries}")
        m["entries_per_cpu_s"] = entries / max(m["cpu"], 1e-9)
        row[who] = m
    return row


class _FirstNext(http.server.BaseHTTPRequestHandler):
    arrived: list[float] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if "/runtime/invocation/next" in self.path:
            _FirstNext.arrived.append(time.perf_counter())
        self.send_response(503)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return


def cold_start(runs: int) -> dict:
    """exec → first GET /runtime/invocation/next on a local fake Runtime API."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FirstNext)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "s",
        "AWS_LAMBDA_LOG_GROUP_NAME": "g",
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "ARCHIVE_BUCKET": BUCKET,
    }
    times = []
    for _ in range(runs):
        _FirstNext.arrived.clear()
        start = time.perf_counter()
        proc = subprocess.Popen([str(BINARY)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not _FirstNext.arrived and time.perf_counter() - start < 5:
            time.sleep(0.0002)
        proc.kill()
        proc.wait()
        if _FirstNext.arrived:
            times.append((_FirstNext.arrived[0] - start) * 1000)
    server.shutdown()
    times.sort()
    return {"median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))], "runs": len(times)}


def zip_size() -> dict:
    """The deployment zip as cargo lambda makes it: the release binary as `bootstrap`."""
    out = ROOT / "target" / "bench-bootstrap.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(BINARY, "bootstrap")
    return {
        "binary_mib": BINARY.stat().st_size / 2**20,
        "zip_mib": out.stat().st_size / 2**20,
        "target": platform.machine(),
    }


ELF_MACHINES = {0x3E: "x86_64", 0xB7: "aarch64"}


def lambda_zip(path: Path) -> str:
    """Size of a deployment zip as built, and the machine its bootstrap is for (ELF e_machine)."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("bootstrap")
        with z.open(info) as f:
            header = f.read(20)
    machine = (
        ELF_MACHINES.get(int.from_bytes(header[18:20], "little"), "unknown") if header[:4] == b"\x7fELF" else "not ELF"
    )
    return (
        f"lambda zip {path}: {path.stat().st_size / 2**20:.2f} MiB, bootstrap {info.file_size / 2**20:.2f} MiB "
        f"for {machine}"
    )


def ratio(a: float, b: float) -> str:
    return f"{b / a:.1f}x" if a > 0 else "-"


def table(rows: list[dict], cold: dict | None, size: dict | None) -> str:
    lines = [
        "| workload | ideal wall s | rust wall s | boto3 wall s | rust CPU s | boto3 CPU s | CPU ratio | "
        "rust RSS MiB | boto3 RSS MiB | RSS ratio | detail |",
        "|" + "---|" * 11,
    ]
    for r in rows:
        rust, py = r["rust"], r["boto3"]
        if "throttled_pct" in rust:
            detail = "; ".join(
                f"{who} {m['created']} created, create calls {m['creating']:.1f} s = "
                f"{100 * r['ideal'] / m['creating'] if r['ideal'] else 100:.0f}% of the bucket rate, "
                f"{m['throttled_pct']:.2f}% throttled, {m['calls_per_ami']:.2f} calls/AMI"
                for who, m in (("rust", rust), ("boto3", py))
            )
        else:
            detail = (
                f"rust {rust['entries_per_cpu_s']:,.0f} entries/CPU-s; boto3 {py['entries_per_cpu_s']:,.0f} "
                "entries/CPU-s"
            )
        ideal = f"{r['ideal']:.1f}" if r["ideal"] is not None else "-"
        lines.append(
            f"| {r['workload']} | {ideal} | {rust['wall']:.1f} | {py['wall']:.1f} | {rust['cpu']:.2f} | "
            f"{py['cpu']:.2f} | {ratio(rust['cpu'], py['cpu'])} | {rust['rss_mib']:.1f} | "
            f"{py['rss_mib']:.1f} | {ratio(rust['rss_mib'], py['rss_mib'])} | {detail} |"
        )
    if cold is not None:
        lines.append(
            f"\ncold start (exec → first Runtime API GET /next), {cold['runs']} runs: median "
            f"{cold['median_ms']:.1f} ms, p90 {cold['p90_ms']:.1f} ms"
        )
    if size is not None:
        lines.append(
            f"deployment zip ({size['target']} release binary as bootstrap): {size['zip_mib']:.2f} MiB "
            f"(binary {size['binary_mib']:.2f} MiB)"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--create", default="100,1000,10000", help="AMI counts for create")
    ap.add_argument("--collect", default="10000,100000,1000000", help="entry counts for collect")
    ap.add_argument(
        "--scale-above",
        type=int,
        default=0,
        help="create workloads above this many AMIs run with both buckets (emulator and client) "
        "scaled x10, so 10,000 AMIs take ~3.5 min instead of ~35 (0 = never scale)",
    )
    ap.add_argument(
        "--side-by-side-above",
        type=int,
        default=1000,
        help="create workloads above this many AMIs run the two clients at the same time, each on its "
        "own emulator (0 = never)",
    )
    ap.add_argument("--cold-runs", type=int, default=20)
    ap.add_argument(
        "--lambda-zip",
        type=Path,
        help="also report this deployment zip (e.g. from cargo lambda build --release --arm64 "
        "--output-format zip): size and the architecture of its bootstrap",
    )
    args = ap.parse_args()
    if not BINARY.exists():
        sys.exit(f"{BINARY} is missing: build it with cargo build --release")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}", flush=True)
    creates = [int(x) for x in args.create.split(",") if x]
    side_by_side = bool(args.side_by_side_above) and any(n > args.side_by_side_above for n in creates)
    emus = [Emulator().start() for _ in range(2 if side_by_side else 1)]
    rows = []
    try:
        for n in creates:
            scale = 10.0 if args.scale_above and n > args.scale_above else 1.0
            both = side_by_side and n > args.side_by_side_above
            rows.append(create_row(emus if both else emus[:1], n, scale))
            print(table(rows[-1:], None, None).splitlines()[-1], flush=True)
        for n in [int(x) for x in args.collect.split(",") if x]:
            rows.append(collect_row(emus[0], n))
            print(table(rows[-1:], None, None).splitlines()[-1], flush=True)
    finally:
        for emu in emus:
            emu.stop()
    cold = cold_start(args.cold_runs) if args.cold_runs else None
    print(table(rows, cold, zip_size()))
    if args.lambda_zip:
        print(lambda_zip(args.lambda_zip))


if __name__ == "__main__":
    main()
