"""Reads that stay bounded as history grows: every named query and every view of the
templates prunes each date-partitioned table it reads by a constant report_date bound
(tests/support/date_bounds.py says exactly what counts), so partition projection opens
the days the question asks for, never the whole history. A query that must read every
day says so, and why, in a header line ``-- Unbounded by date: <why>``.

The static check is Athena's rule (partition projection prunes by constant predicates
on the partition column only); the DuckDB test below shows the same on an engine: an
archive whose every table holds an unreadable object on a day older than any window
answers every query, through the views, as if that day did not exist."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from pathlib import Path

import duckdb
import pytest
from support.date_bounds import date_partitioned, unbounded_reads
from support.duckdb_archive import duckdb_type, open_archive, run_query, view_definition
from support.glue_schema import glue_tables

ROOT = Path(__file__).resolve().parents[2]
QUERIES = sorted((ROOT / "queries").glob("*.sql"))
TEMPLATE = ROOT / "template.yaml"
CENTRAL = ROOT / "deploy" / "org" / "central-archive.yaml"
TABLES = date_partitioned([TEMPLATE, CENTRAL])
EXEMPT = re.compile(r"^-- Unbounded by date: (.*\S)", re.MULTILINE)

# queries/family_adoption.sql before it was bounded: its image_info read every day of
# `reports` (a year of 1,000 AMIs: 457,000 raw objects, or 2,455 parts).
FAMILY_ADOPTION_UNBOUNDED = """
with image_info as (
    select region, image_id, max_by(image, report_creation_time) as image
    from reports
    where image is not null
    group by region, image_id
),
daily as (
    select region, image_id, report_date, total_usage
    from reports
    where state = 'available'
      and report_date >= cast(cast(current_date - interval '90' day as date) as varchar)
)
select d.*, i.image.name from daily d join image_info i on i.region = d.region and i.image_id = d.image_id
"""
BOUND = "cast(cast(current_date - interval '30' day as date) as varchar)"


def test_the_tables_held_to_the_rule():
    assert {"entries", "reports", "verdicts", "actions", "digests", "ri_utilization", "references"} <= TABLES
    assert {f"{d}_{side}" for d in ("entries", "reports", "verdicts") for side in ("raw", "compacted")} <= TABLES


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_every_named_query_bounds_every_read_by_date(path):
    text = path.read_text()
    problems = unbounded_reads(text, TABLES)
    if EXEMPT.search(text):
        assert problems, f"{path.name} says it is unbounded by date but every read is bounded: drop the line"
        return
    assert not problems, f"{path.name}: " + "; ".join(problems)
    assert any(t in text for t in TABLES), f"{path.name} reads no archive table: nothing checked"


@pytest.mark.parametrize("path", [TEMPLATE, CENTRAL], ids=lambda p: p.name)
def test_every_view_bounds_what_it_filters_and_passes_the_rest_through(path):
    views = {n: ti for n, ti in glue_tables(path).items() if ti.get("TableType") == "VIRTUAL_VIEW"}
    assert views
    for name, ti in views.items():
        sql = view_definition(ti, 6)
        assert not unbounded_reads(sql, TABLES, pass_through=True), name
        # its compacted side is the pass-through: bounded by the query, as the
        # description tells whoever reads the catalogue
        assert unbounded_reads(sql, TABLES) == [unbounded_reads(sql, TABLES)[0]]
        assert "report_date" in ti["Description"], name


def test_the_check_finds_todays_unbounded_family_adoption():
    (problem,) = unbounded_reads(FAMILY_ADOPTION_UNBOUNDED, TABLES)
    assert "MAX_BY(image, report_creation_time)" in problem and "GROUP BY region, image_id" in problem


@pytest.mark.parametrize(
    "sql",
    [
        "select * from reports",
        "select * from entries e where e.account_id = '1'",
        "select * from reports where report_date <= '2025-01-01'",  # an upper bound only
        f"select * from reports where state = 'error' or report_date >= {BOUND}",
        f"select * from reports r join entries e on e.report_id = r.report_id where r.report_date >= {BOUND}",
        f"select * from reports r join entries e on e.report_date = r.report_date where r.report_date >= {BOUND}",
        f"select * from reports r left join entries e on e.report_date >= {BOUND} where r.report_date >= {BOUND}",
        f"select * from (select * from reports) x where x.report_date >= {BOUND}",
        f"with x as (select * from verdicts) select * from x where report_date >= {BOUND}",
        "select * from actions where report_date >= (select max(report_date) from actions)",
        "select * from digests where report_date >= week_start",
        "select * from ri_utilization where report_date in (select report_date from digests)",
        "select * from reports r, entries e where report_date = '2025-01-01'",  # whose report_date?
        "select * from entries_raw union all select * from entries_compacted where report_date = '2025-01-01'",
    ],
)
def test_unbounded_reads_are_found(sql):
    assert unbounded_reads(sql, TABLES)


@pytest.mark.parametrize(
    "sql",
    [
        f"select * from reports where report_date >= {BOUND}",
        f"select * from reports where {BOUND} <= report_date and state = 'error'",
        f"select * from reports r where (r.report_date > {BOUND})",
        "select * from reports where report_date = '2025-01-01'",
        "select * from reports where report_date between '2025-01-01' and '2025-01-31'",
        "select * from reports where report_date in ('2025-01-01', '2025-01-02')",
        f"select * from reports r join entries e on e.report_date >= {BOUND} and e.report_id = r.report_id "
        f"where r.report_date >= {BOUND}",
        "with reports as (select 1 as x) select * from reports",  # a CTE, not the table
        "select * from reports where report_date >= cast(cast(date_trunc('month', current_date) as date) as varchar)",
        # the shape of the digest's and the alert's Athena hints (src/core/digest_render.rs)
        "SELECT item.* FROM ami_usage.digests CROSS JOIN UNNEST(candidates) AS t(item) "
        "WHERE report_date = '2026-11-30' AND region = 'eu-west-1' AND item.team = 'team-a'",
    ],
)
def test_bounded_reads_pass(sql):
    assert unbounded_reads(sql, TABLES) == []


def test_pass_through_is_only_a_plain_projection():
    assert unbounded_reads("select a, report_date from entries_compacted", TABLES, pass_through=True) == []
    for sql in (
        "select count(*) from entries_compacted",
        "select a from entries_compacted where a = 1",
        "select distinct a from entries_compacted",
        "select a, row_number() over (partition by a) from entries_compacted",
        "select a from entries_compacted c join entries_raw r on c.a = r.a",
    ):
        assert unbounded_reads(sql, TABLES, pass_through=True), sql


# --------------------------------------------------------------------------- on DuckDB

TODAY = dt.datetime.now(dt.UTC).date()
OLD = (TODAY - dt.timedelta(days=800)).isoformat()  # older than every window


def _row(dataset: str, day: str) -> dict:
    """One row of `dataset` (the columns the queries read) on `day`."""
    at = f"{day}T01:00:00.000Z"
    image = {"name": "app-v1", "creation_date": at, "tags": {"Family": "app"}, "billing_products": ["x"]}
    report = {"report_id": "amiur-1", "image_id": "ami-1", "report_creation_time": at, "collected_at": at}
    rows = {
        "entries": {**report, "account_id": "222233334444", "resource_type": "ec2:Instance", "usage_count": 1},
        "reports": {**report, "state": "available", "image": {**image, "snapshot_size_gib_total": 8}},
        "verdicts": {"evaluated_at": at, "image_id": "ami-1", "verdict": "candidate", "reasons": ["x"]},
        "actions": {"action_time": at, "image_id": "ami-1", "action": "deprecate", "mode": "would"},
        "digests": {"week_start": day, "week_end": day, "candidates_new": 1},
        "ri_utilization": {"period": "last_7_days", "utilization_percentage": 10.0, "digest_date": day},
    }
    return {"schema_version": 1, "owner_account_id": "111122223333", "region": "us-east-1", **rows[dataset]}


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory):
    """The views over an archive whose every dataset holds a readable object of today
    and an unreadable one of OLD (not gzip, not Parquet): a query that opens a day
    outside its window fails."""
    root = tmp_path_factory.mktemp("poisoned") / "ami-usage"
    datasets = ("entries", "reports", "verdicts", "actions", "digests", "ri_utilization")
    for dataset in datasets:
        for day, body in ((TODAY.isoformat(), None), (OLD, b"not gzip\n")):
            d = root / dataset / "region=us-east-1" / f"report_date={day}"
            d.mkdir(parents=True)
            data = body or gzip.compress((json.dumps(_row(dataset, day)) + "\n").encode())
            (d / "amiur-1.json.gz").write_bytes(data)
    tables = glue_tables(TEMPLATE)
    for dataset in ("entries", "reports", "verdicts"):
        d = root / "compacted" / dataset / "region=us-east-1" / f"report_date={OLD}"
        d.mkdir(parents=True)
        (d / "part-0000.parquet").write_bytes(b"not parquet")
        # DuckDB takes a Parquet glob's schema from its first file: an empty, valid part
        # (of a Region that sorts first) gives it one
        columns = tables[f"{dataset}_compacted"]["StorageDescriptor"]["Columns"]
        typed = ", ".join(
            f'CAST(NULL AS {duckdb_type("".join(str(c["Type"]).split()))}) AS "{c["Name"]}"' for c in columns
        )
        d = root / "compacted" / dataset / "region=af-south-1" / f"report_date={TODAY.isoformat()}"
        d.mkdir(parents=True)
        duckdb.execute(f"COPY (SELECT {typed} WHERE false) TO '{d / 'part-0000.parquet'}' (FORMAT parquet)")
    return open_archive(root, now=f"{TODAY.isoformat()}T12:00:00")


def test_the_poisoned_day_is_read_by_an_unbounded_query(poisoned):
    with pytest.raises(Exception, match=f"report_date={OLD}"):
        run_query(poisoned, FAMILY_ADOPTION_UNBOUNDED)


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_every_named_query_skips_a_day_outside_its_window_on_duckdb(poisoned, path):
    run_query(poisoned, path.read_text())  # raises if it opened an object of OLD
