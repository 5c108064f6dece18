"""Compaction benchmark: a 90-day question over raw objects versus compacted days.

    target/debug/examples/compact_dir must exist: cargo build --example compact_dir
    (or $CARGO_TARGET_DIR/debug/examples/compact_dir, or --writer PATH)
    $(scripts/python-env)/python bench/compaction.py --amis 1000 --dir /tmp/bench-1k
    $(scripts/python-env)/python bench/compaction.py --amis 10000 --raw-days 9 --dir /tmp/bench-10k
    $(scripts/python-env)/python bench/compaction.py --amis 1000 --days 364 --compare-days 90 --dir /tmp/bench-year

Writes a synthetic history straight into files laid out like the bucket (no creates):
for every day of the window ending today (real UTC date, since the named queries count
from current_date), one entries and one reports gzip JSON object per AMI (two consumer
accounts x two resource types; a family tag, a billing product on some AMIs, a report
in error now and then) and one verdicts object per day. Every closed day (all but today
is compacted with the binary's own Parquet writer (`examples/compact_dir.rs`), and the
views are read at 12:00 UTC today: with RawQueryHours=6 (the default) their raw side
reads today's objects only, as at any hour of the day after 06:00.

`--days N` is the history: N days before today (default 90, the longest window of a
named query). `--compare-days M` (M < N) then measures the views a second time with
the history cut to M days before today (the older days moved out of the tree): a query
whose every read is bounded by its window opens the same objects over both histories,
one that reads a table without a report_date bound opens more over the longer one.
`--raw-days N` (for 10,000 AMIs) writes raw
objects for N days spread over the window only (today among them) and
copies a compacted day's part to the other days: the raw side is measured on those N
days only (printed as measured; BENCHMARKS.md scales the 90-day queries to the window).
`--queries DIR` runs the .sql files of DIR instead of queries/ (e.g. an older version).

Every named query then runs through the views (compacted + open days) and over the raw
objects alone (``open_archive(..., compacted=False)``), in DuckDB with profiling on:
objects read is the sum of ``Total Files Read`` of its scans, time the best of
``--repeat`` runs. Without --raw-days both answers are compared (they must be equal).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from support.duckdb_archive import open_archive, rewrite_for_duckdb  # noqa: E402

REGION = "us-east-1"
OWNER = "111122223333"
CONSUMERS = ("222233334444", "333344445555")
WRITER = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "examples" / "compact_dir"
RAW_ONLY = 87_600


def ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def write_gz(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode(), compresslevel=6))


def image(i: int) -> dict:
    return {
        "name": f"golden-{i % 100}-v{i // 100}",
        "description": None,
        "creation_date": "2025-01-01T00:00:00.000Z",
        "state": "available",
        "architecture": "x86_64",
        "platform_details": "Linux/UNIX",
        "usage_operation": "RunInstances:0010" if i % 20 == 0 else "RunInstances",
        "tags": {"Golden": "true", "Family": f"family-{i % 100}"},
        "billing_products": ["RunInstances:0010"] if i % 20 == 0 else [],
        "product_codes": [],
        "block_devices": [{"device_name": "/dev/xvda", "snapshot_id": f"snap-{i:08x}", "volume_size_gib": 8}],
        "snapshot_size_gib_total": 8,
    }


def day_objects(root: Path, day: dt.date, amis: int) -> None:
    created = dt.datetime.combine(day, dt.time(1, 0), dt.UTC)
    collected = ts(created + dt.timedelta(hours=2))
    part = f"region={REGION}/report_date={day.isoformat()}"
    verdicts = []
    for i in range(amis):
        rid = f"amiur-{day:%Y%m%d}{i:06d}"
        error = (i + day.toordinal()) % 97 == 0
        entries = [
            {
                "schema_version": 1,
                "report_id": rid,
                "image_id": f"ami-{i:08x}",
                "account_id": acct,
                "resource_type": rtype,
                "usage_count": 0 if i % 10 == 0 else (i + day.day) % 7 + 1,
                "report_creation_time": ts(created),
                "owner_account_id": OWNER,
                "region": REGION,
                "collected_at": collected,
            }
            for acct in CONSUMERS
            for rtype in ("ec2:Instance", "ec2:LaunchTemplate")
        ]
        if not error:
            write_gz(root / "entries" / part / f"{rid}.json.gz", entries)
        total = 0 if error else sum(e["usage_count"] for e in entries)
        write_gz(
            root / "reports" / part / f"{rid}.json.gz",
            [
                {
                    "schema_version": 1,
                    "report_id": rid,
                    "image_id": f"ami-{i:08x}",
                    "owner_account_id": OWNER,
                    "region": REGION,
                    "state": "error" if error else "available",
                    "state_reason": "Internal error" if error else None,
                    "resource_types": [{"resource_type": "ec2:Instance", "options": []}],
                    "account_ids": [],
                    "report_creation_time": ts(created),
                    "report_expiration_time": ts(created + dt.timedelta(days=30)),
                    "tags": {"ami-usage-reporter:period": day.isoformat()},
                    "image": image(i),
                    "entry_count": 0 if error else len(entries),
                    "account_count": 0 if error else 2,
                    "total_usage": total,
                    "instance_usage": total,
                    "launch_template_usage": 0,
                    "collected_at": collected,
                }
            ],
        )
        verdicts.append(
            {
                "schema_version": 1,
                "evaluated_at": collected,
                "owner_account_id": OWNER,
                "region": REGION,
                "image_id": f"ami-{i:08x}",
                "name": image(i)["name"],
                "verdict": "candidate" if i % 10 == 0 else "in_use",
                "reasons": ["unused_for_window"] if i % 10 == 0 else ["used_in_other_accounts"],
                "reports_in_window": 30,
                "zero_usage_reports": 30 if i % 10 == 0 else 0,
                "snapshot_size_gib_total": 8,
                "estimated_snapshot_usd_month": 0.4,
                "has_billing_codes": i % 20 == 0,
                "unused_min_days": 30,
                "min_reports": 3,
                "checked": ["report:ec2:Instance"],
                "not_checked": [],
            }
        )
    write_gz(root / "verdicts" / part / f"run-{collected}.json.gz", verdicts)


def compact(root: Path, day: dt.date, writer: Path) -> None:
    part = f"region={REGION}/report_date={day.isoformat()}"
    for dataset in ("entries", "reports", "verdicts"):
        out = root / "compacted" / dataset / part
        subprocess.run([str(writer), dataset, str(root / dataset / part), str(out)], check=True)


def copy_part(root: Path, source: dt.date, day: dt.date) -> None:
    for dataset in ("entries", "reports", "verdicts"):
        src = root / "compacted" / dataset / f"region={REGION}/report_date={source.isoformat()}"
        dst = root / "compacted" / dataset / f"region={REGION}/report_date={day.isoformat()}"
        shutil.copytree(src, dst)


def measure(con, sql: str, repeat: int, profile: Path) -> tuple[float, int, list]:
    """Best engine time of `repeat` runs, objects read, and the result's rows. The time is
    DuckDB materialising the result in a table (as Athena writes its result to S3), not
    Python turning it into tuples: for `usage_by_account`'s 180,000 rows that conversion
    alone takes about 0.8 s, more than the compacted query itself, on both sides alike."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TEMP TABLE bench_result AS {rewrite_for_duckdb(sql)}")
        best = min(best, time.perf_counter() - start)
    rows = con.execute("SELECT * FROM bench_result").fetchall()
    con.execute("PRAGMA enable_profiling='json'")
    con.execute(f"PRAGMA profiling_output='{profile}'")
    con.execute(rewrite_for_duckdb(sql)).fetchall()
    con.execute("PRAGMA disable_profiling")
    files = sum(int(n) for n in re.findall(r'"Total Files Read": "(\d+)"', profile.read_text()))
    return best, files, rows


def move_out(root: Path, outside: Path, keep) -> None:
    """Move the raw day directories `keep(path)` rejects out of the tree (into `outside`)."""
    for path in sorted(root.glob("*/region=*/report_date=*")):  # compacted/ is a level deeper
        if keep(path):
            continue
        target = outside / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)


def day_of(path: Path) -> str:
    return path.name.removeprefix("report_date=")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--amis", type=int, default=1000)
    ap.add_argument("--days", type=int, default=90, help="days of history before today")
    ap.add_argument("--compare-days", type=int, default=0, help="measure the views again over this many days")
    ap.add_argument("--raw-days", type=int, default=0, help="raw objects on this many days only (0 = all)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--queries", type=Path, default=ROOT / "queries")
    ap.add_argument("--writer", type=Path, default=WRITER)
    ap.add_argument("--dir", type=Path, required=True)
    args = ap.parse_args()
    assert not args.compare_days or args.compare_days < args.days, "--compare-days must be under --days"
    today = dt.datetime.now(dt.UTC).date()
    window = [today - dt.timedelta(days=n) for n in range(args.days, -1, -1)]
    open_days = window[-1:]
    raw_days = set(window) if not args.raw_days else set(window[:: max(1, len(window) // args.raw_days)] + open_days)
    root = args.dir / "ami-usage"
    if args.dir.exists():
        shutil.rmtree(args.dir)
    t0 = time.perf_counter()
    for day in sorted(raw_days):
        day_objects(root, day, args.amis)
    t1 = time.perf_counter()
    closed = [d for d in sorted(raw_days) if d not in open_days]
    for day in closed:
        compact(root, day, args.writer)
    for day in window[:-1]:
        if day not in raw_days:
            copy_part(root, closed[0], day)
    t2 = time.perf_counter()
    raw_objects = sum(1 for _ in root.glob("*/region=*/report_date=*/*.json.gz"))
    parts = list(root.glob("compacted/*/region=*/report_date=*/*.parquet"))
    print(
        f"{args.amis} AMIs, {len(window)} days ({len(raw_days)} with raw objects): {raw_objects} raw objects "
        f"written in {t1 - t0:.0f} s; {len(parts)} parts ({sum(p.stat().st_size for p in parts) / 2**20:.1f} MiB) "
        f"in {t2 - t1:.0f} s",
        flush=True,
    )
    scale = len(window) / len(raw_days)
    queries = {p.stem: p.read_text() for p in sorted(args.queries.glob("*.sql"))}
    profile = args.dir / "profile.json"
    raw = open_archive(root, raw_query_hours=RAW_ONLY, compacted=False)
    raw_results = {name: measure(raw, sql, args.repeat, profile) for name, sql in queries.items()}
    raw.close()
    # Partition projection computes the prefixes of the days a query asks for; DuckDB
    # globs the whole local tree first. Move the raw days the views never read out of
    # the tree, so the views' time is not DuckDB listing objects Athena never lists.
    outside = args.dir / "raw-outside-the-window"
    move_out(root, outside, lambda path: day_of(path) == today.isoformat())
    views = open_archive(root, now=f"{today.isoformat()}T12:00:00")
    view_results = {name: measure(views, sql, args.repeat, profile) for name, sql in queries.items()}
    views.close()
    short_results = {}
    if args.compare_days:
        first = (today - dt.timedelta(days=args.compare_days)).isoformat()
        for path in root.glob("compacted/*/region=*/report_date=*"):
            if day_of(path) < first:
                target = args.dir / "compacted-before-the-comparison" / path.relative_to(root)
                target.parent.mkdir(parents=True, exist_ok=True)
                path.rename(target)
        views = open_archive(root, now=f"{today.isoformat()}T12:00:00")
        short_results = {name: measure(views, sql, args.repeat, profile) for name, sql in queries.items()}
        views.close()
    short = f"{args.compare_days + 1} days" if args.compare_days else ""
    whole = f"{len(window)} days"
    print(
        f"| query | raw ({whole}): objects read | raw: DuckDB s | compacted ({whole}): objects read "
        "| compacted: DuckDB s | fewer objects | faster |"
        + (f" compacted ({short} of history): objects read | compacted ({short}): DuckDB s |" if short else "")
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |" + (" ---: | ---: |" if short else ""))
    for name in queries:
        raw_s, raw_files, raw_rows = raw_results[name]
        view_s, view_files, view_rows = view_results[name]
        if not args.raw_days:
            assert sorted(map(repr, raw_rows)) == sorted(map(repr, view_rows)), name
        line = (
            f"| `{name}` | {raw_files:,} | {raw_s:.2f} | {view_files:,} | {view_s:.3f} | "
            f"{raw_files / max(view_files, 1):.0f}x | {raw_s / view_s:.0f}x |"
        )
        if short:
            short_s, short_files, short_rows = short_results[name]
            assert sorted(map(repr, short_rows)) == sorted(map(repr, view_rows)), name
            line += f" {short_files:,} | {short_s:.3f} |"
        print(line, flush=True)
    if args.raw_days:
        print(
            f"(raw side: only {len(raw_days)} of the {len(window)} days have raw objects; x{scale:.1f} for the window)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
