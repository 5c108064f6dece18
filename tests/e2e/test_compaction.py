"""Compaction, end to end: the real binary runs create + collect over ten emulated days
of fleet changes (the five of test_history, then five quiet ones); collect compacts
every closed day into Parquet. Every query of queries/ must then return the same rows
through the views (compacted parts + the open days' raw objects) as over the raw
objects alone, and the next (idle) run lists no day. Then the compacted layout is thrown away (an upgrade of a deployment
with history) and collect is SIGKILLed after each successive S3 write of its
compaction, then run to the end: the same rows again, no duplicate."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from fleet import SHORT_WINDOW_RULES, archive_and_alerting
from harness import ROOT, base_env, collect_killed_after, run_binary
from support.duckdb_archive import open_archive, run_query
from test_history import DAY, FLAKY_REASON, READY_AFTER, History, change_fleet

PREFIX = "ami-usage"
DAYS = 10
RAW_ONLY = 87_600
QUERIES = {p.stem: p.read_text(encoding="utf-8") for p in sorted((ROOT / "queries").glob("*.sql"))}


def drive(emu, env) -> None:
    h = History(emu)
    ids: dict[str, list[str]] = {}
    emu.control("config", {"report_ready_after_seconds": READY_AFTER})
    for day in range(1, DAYS + 1):
        change_fleet(h, day, ids)
        errors = {h.id("flaky"): FLAKY_REASON} if day in (2, 4, 9) else {}
        emu.control("config", {"error_images": errors})
        assert run_binary(emu, ["create", "--now", emu.now()], env).code == 0
        emu.advance(READY_AFTER + 60)
        collected = run_binary(emu, ["collect", "--now", emu.now()], env)
        assert collected.code == 0, collected.stderr
        assert collected.summary["compaction"]["days_left"] == 0, collected.summary
        emu.advance(DAY - READY_AFTER - 60)


def download(s3, bucket: str, dest: Path) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{PREFIX}/"):
        for o in page.get("Contents", []):
            path = dest / o["Key"][len(PREFIX) + 1 :]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
            keys.append(o["Key"])
    return keys


def answers(con) -> dict[str, Counter]:
    """Each query's rows as a multiset (order-insensitive, duplicates counted)."""
    return {name: Counter(repr(sorted(r.items())) for r in run_query(con, sql)) for name, sql in QUERIES.items()}


def assert_views_equal_raw(emu, bucket: str, dest: Path) -> list[str]:
    keys = download(emu.client("s3"), bucket, dest)
    views = open_archive(dest, now=emu.now())
    raw = open_archive(dest, raw_query_hours=RAW_ONLY, compacted=False)
    for table in ("entries", "reports", "verdicts"):
        rows = lambda con, t=table: Counter(map(repr, con.execute(f"select * from {t}").fetchall()))  # noqa: E731
        assert rows(views) == rows(raw), table
    got, expected = answers(views), answers(raw)
    compacted = [name for name, sql in QUERIES.items() if re.search(r"\b(entries|reports|verdicts)\b", sql)]
    assert compacted and all(expected[name] for name in compacted), "every query over a compacted dataset has rows"
    assert got == expected
    return keys


def parts(keys: list[str]) -> list[str]:
    return [k for k in keys if k.endswith(".parquet")]


@pytest.mark.slow
def test_ten_days_compacted_answer_every_query_like_the_raw_objects_even_when_killed(emu, tmp_path):
    alerting = archive_and_alerting(emu)
    env = base_env(emu, ARCHIVE_BUCKET=alerting.bucket, ARCHIVE_PREFIX=PREFIX, **SHORT_WINDOW_RULES)
    drive(emu, env)
    # The hourly run of the moment the views are read (a day after the last creates).
    assert run_binary(emu, ["collect", "--now", emu.now()], env).code == 0
    keys = assert_views_equal_raw(emu, alerting.bucket, tmp_path / "first")
    compacted_days = {k.split("/")[4] for k in parts(keys) if "/compacted/entries/" in k}
    assert len(compacted_days) == DAYS, sorted(compacted_days)
    assert all(k.endswith("/part-0000.parquet") for k in parts(keys)), "one part per closed day"
    # The next hourly run has nothing new: it lists no day (each was found complete with
    # the report count its date still has), however long the history.
    emu.advance(3600)
    idle = run_binary(emu, ["collect", "--now", emu.now()], env)
    assert idle.code == 0, idle.stderr
    assert idle.summary["compaction"] == {**idle.summary["compaction"], "days_listed": 0, "parts_written": 0}

    # An upgrade of a deployment with history: nothing compacted yet.
    s3 = emu.client("s3")
    for key in parts(keys) + [f"{PREFIX}/state/region=us-east-1/compaction-state.json"]:
        s3.delete_object(Bucket=alerting.bucket, Key=key)
    kills = 0
    for puts in range(1, 8):
        kills += collect_killed_after(emu, env, emu.now(), puts)
    assert kills >= 5, "the runs finished before they could be killed: the test proves nothing"
    final = run_binary(emu, ["collect", "--now", emu.now()], env)
    assert final.code == 0, final.stderr
    again = assert_views_equal_raw(emu, alerting.bucket, tmp_path / "second")
    assert {k.split("/part-")[0] for k in parts(again)} == {k.split("/part-")[0] for k in parts(keys)}
