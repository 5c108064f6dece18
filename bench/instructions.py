"""Instructions per created report: `create` of the Rust binary and of the boto3
baseline under valgrind's callgrind, which counts instructions rather than seconds, so
the figures repeat run after run whatever else the machine is doing. Run through
`bench/instructions`; prints a Markdown table.

Each program runs twice on a fresh emulator, over N and 2N synthetic AMIs with the token
buckets lifted: (count at 2N - count at N) / N is what one more AMI costs (its share of
the DescribeImages listing plus its CreateImageUsageReport call), with start-up and
client construction cancelled out. For the Rust binary the cost is split by the crate
of the function that ran (code inlined into a function counts as that function's).

valgrind does not emulate the SHA extensions, so under it SHA-256 runs in software: the
signing row is larger here than on the machine itself (see `sha256` in the table).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import Emulator

import bench  # bench/ is on sys.path as this script's folder; bench puts tests/e2e there too

PROFILING_BINARY = bench.ROOT / "target" / "profiling" / "ami-usage-reporter"

# Groups of the split, by the crate of the function the instruction ran in (the symbol:
# code inlined into a function counts as that function's).
GROUPS = (
    ("this crate", {"ami_usage_reporter"}),
    ("SigV4 signing (aws-sigv4, sha2, hmac, digest)", {"aws_sigv4", "sha2", "hmac", "digest", "hex"}),
    ("XML parsing (aws-smithy-xml, xmlparser)", {"aws_smithy_xml", "xmlparser"}),
    ("EC2 operations and shapes (aws-sdk-ec2)", {"aws_sdk_ec2"}),
    (
        "SDK runtime (aws-smithy-*, aws-runtime)",
        {
            "aws_smithy_runtime",
            "aws_smithy_runtime_api",
            "aws_smithy_types",
            "aws_smithy_http",
            "aws_smithy_http_client",
            "aws_smithy_async",
            "aws_smithy_query",
            "aws_smithy_observability",
            "aws_runtime",
            "aws_types",
        },
    ),
    ("HTTP (hyper, hyper-util, http, httparse)", {"hyper", "hyper_util", "http", "http_body", "httparse"}),
    ("tokio, futures", {"tokio", "futures_util", "futures_core", "mio"}),
    ("tracing", {"tracing", "tracing_core", "tracing_subscriber"}),
    ("Rust standard library", {"core", "alloc", "std", "hashbrown"}),
    ("malloc/free, memcpy (glibc)", {"libc"}),
)
OTHER = "everything else"
SHA256 = re.compile(r"sha2::sha256::")
CRATE = re.compile(r"^<*(?:[A-Z]\w* as )?&?(?:mut )?([a-z_][a-z0-9_]*)::")
GLIBC = re.compile(r"^\./|/libc\.so")
LINE = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+(.*?):(.*)$")  # callgrind_annotate: "Ir (pct) file:function"


def crate_of(path: str, function: str) -> str:
    if GLIBC.search(path) or "[/usr/lib" in function:
        return "libc"
    m = CRATE.match(function)
    return m.group(1) if m else ""


def callgrind(cmd: list[str], env: dict, out: Path) -> None:
    code = subprocess.call(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *cmd],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if code not in (0, 3):
        raise RuntimeError(f"{' '.join(cmd)} failed under valgrind ({code})")


def self_costs(out: Path) -> list[tuple[int, str, str]]:
    """(instructions, source file, function) of every function, its own instructions only."""
    text = subprocess.run(
        ["callgrind_annotate", "--threshold=100", "--auto=no", str(out)], capture_output=True, text=True, check=True
    ).stdout
    rows = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append((int(m.group(1).replace(",", "")), m.group(2), m.group(3)))
    return rows


def split(rows: list[tuple[int, str, str]]) -> collections.Counter:
    by_group: collections.Counter = collections.Counter()
    for ir, path, function in rows:
        crate = crate_of(path, function)
        group = next((name for name, crates in GROUPS if crate in crates), OTHER)
        by_group[group] += ir
        by_group["total"] += ir
        if SHA256.search(function):
            by_group["sha256"] += ir
    return by_group


def measure(emu: Emulator, cmd: list[str], amis: int, workdir: Path, tag: str) -> collections.Counter:
    """Per-AMI instructions by group: the 2N run minus the N run, divided by N."""
    counts = []
    for n in (amis, 2 * amis):
        bench.fresh(emu, n, 0, None)
        out = workdir / f"{tag}-{n}.callgrind"
        callgrind(cmd, bench.env_for(emu, 1000), out)
        counts.append(split(self_costs(out)))
    return collections.Counter({k: (counts[1][k] - counts[0][k]) / amis for k in counts[1] | counts[0]})


def table(rust: collections.Counter, boto3: collections.Counter | None) -> str:
    lines = ["| instructions per AMI (create) | rust | share |", "|---|---|---|"]
    total = rust["total"]
    for name, _ in GROUPS + ((OTHER, None),):
        lines.append(f"| {name} | {rust[name]:,.0f} | {100 * rust[name] / total:.0f} % |")
    lines.append(
        f"| of which SHA-256 in software (valgrind) | {rust['sha256']:,.0f} | {100 * rust['sha256'] / total:.0f} % |"
    )
    lines.append(f"| **total** | **{total:,.0f}** | |")
    if boto3 is not None:
        lines.append(
            f"\nboto3 baseline: {boto3['total']:,.0f} instructions per AMI "
            f"({boto3['total'] / total:.1f}x the Rust binary's)"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--amis", type=int, default=300, help="N: the runs create N and 2N reports")
    ap.add_argument("--no-boto3", action="store_true", help="count the Rust binary only (boto3 takes minutes)")
    args = ap.parse_args()
    binary = Path(os.environ.get("AUR_PROFILING_BINARY", PROFILING_BINARY))
    if not binary.exists():
        sys.exit(f"{binary} is missing: build it with cargo build --profile profiling")
    emu = Emulator().start()
    try:
        with tempfile.TemporaryDirectory(prefix="aur-callgrind-") as tmp:
            rust = measure(emu, [str(binary), "create"], args.amis, Path(tmp), "rust")
            boto3 = None if args.no_boto3 else measure(emu, bench.CREATE_CMDS[1][1], args.amis, Path(tmp), "boto3")
    finally:
        emu.stop()
    print(table(rust, boto3))


if __name__ == "__main__":
    main()
