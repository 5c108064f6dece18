"""The compacted layout in the templates: generated tables and views in sync, Parquet
tables that read what the binary writes (crates/core/src/compaction/plan.rs holds the same typed
columns as the raw tables), views whose SQL prunes both sides by date."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import sqlglot
from support import sync_compaction_views as gen
from support.duckdb_archive import view_definition
from support.glue_schema import glue_columns, glue_partition_keys, glue_tables, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
CENTRAL = ROOT / "deploy" / "org" / "central-archive.yaml"
DATASETS = ("entries", "reports", "verdicts")


def test_generated_tables_and_views_are_in_sync():
    for mode in (gen.SINGLE, gen.CENTRAL):
        assert not gen.sync(mode)[1], f"run python3 tests/support/sync_compaction_views.py ({mode.path.name})"


def rust_columns() -> dict[str, dict[str, str]]:
    """The `DatasetSpec` columns of crates/core/src/compaction/plan.rs, as the binary types its parts."""
    src = (ROOT / "crates" / "core" / "src" / "compaction" / "plan.rs").read_text(encoding="utf-8")
    image = re.search(r'const IMAGE_TYPE: &str = "([^"]+)";', src).group(1)
    out = {}
    for name, body in re.findall(r'name: "(\w+)",\s*closing: Closing::\w+,\s*columns: &\[(.*?)\n    \],', src, re.S):
        pairs = re.findall(r'\(\s*"(\w+)",\s*("[^"]+"|IMAGE_TYPE),?\s*\)', body)
        out[name] = {c: image if t == "IMAGE_TYPE" else t.strip('"') for c, t in pairs}
    return out


def test_the_binary_types_each_part_as_the_raw_table_declares_it():
    columns = glue_columns(TEMPLATE)
    assert rust_columns() == {d: columns[d] for d in DATASETS}


@pytest.mark.parametrize("path", [TEMPLATE, CENTRAL])
@pytest.mark.parametrize("dataset", DATASETS)
def test_compacted_tables_are_parquet_with_projection(path, dataset):
    ti = glue_tables(path)[f"{dataset}_compacted"]
    raw = glue_tables(path)[f"{dataset}_raw"]
    sd = ti["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert sd["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    cols = {c["Name"]: "".join(str(c["Type"]).split()) for c in sd["Columns"]}
    assert cols == {**glue_columns(path)[dataset], "source_object": "string"}
    assert ti["PartitionKeys"] == [{"Name": k, "Type": t} for k, t in glue_partition_keys(path)[dataset].items()]
    p = ti["Parameters"]
    for key in ("projection.enabled", "projection.region.values", "projection.report_date.range"):
        assert p[key] == raw["Parameters"][key]
    location = p["storage.location.template"]["Fn::Sub"]
    assert location == raw["Parameters"]["storage.location.template"]["Fn::Sub"].replace(
        f"/{dataset}/region=", f"/compacted/{dataset}/region="
    )


def _presto_view(ti: dict) -> dict:
    parts = ti["ViewOriginalText"]["Fn::Join"][1]
    assert parts[0] == "/* Presto View: " and parts[2] == " */"
    sub = parts[1]["Fn::Base64"]["Fn::Sub"]
    base64.b64encode(sub.encode())  # what Fn::Base64 does: plain text in
    return json.loads(re.sub(r"\$\{[A-Za-z]+\}", "1", sub))


@pytest.mark.parametrize("path", [TEMPLATE, CENTRAL])
@pytest.mark.parametrize("dataset", DATASETS)
def test_the_view_keeps_the_table_name_and_columns_and_bounds_the_raw_side(path, dataset):
    ti = glue_tables(path)[dataset]
    assert ti["TableType"] == "VIRTUAL_VIEW"
    assert ti["Parameters"] == {"presto_view": "true", "comment": "Presto View"}
    keys = glue_partition_keys(path)[dataset]
    expected = {**glue_columns(path)[dataset], **keys}
    assert {c["Name"]: "".join(str(c["Type"]).split()) for c in ti["StorageDescriptor"]["Columns"]} == expected
    view = _presto_view(ti)
    assert [c["name"] for c in view["columns"]] == list(expected)
    assert view["columns"][list(expected).index("report_date")]["type"] == "varchar"
    sql = view_definition(ti, 3)
    assert sql == gen.view_sql(dataset, list(glue_columns(path)[dataset]), list(keys), "3")
    # The raw side is bounded by current_timestamp (a constant of the query: projection
    # prunes it), on both of its reads.
    bound = "report_date >= cast(cast(current_timestamp - interval '3' hour as date) as varchar)"
    assert sql.count(f"r.{bound}") == 1 and sql.count(f"c.{bound}") == 1
    assert all(f"c.{k} = r.{k}" in sql for k in keys)


@pytest.mark.parametrize("path", [TEMPLATE, CENTRAL])
@pytest.mark.parametrize("dataset", DATASETS)
def test_the_view_sql_parses_as_athena_sql(path, dataset):
    """Athena stores the view's SQL and parses it at each query: one UNION of the two
    sides, the raw side's object name read from the `"$path"` pseudo-column."""
    sql = _presto_view(glue_tables(path)[dataset])["originalSql"]
    statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
    assert len(statements) == 1 and statements[0].key == "union"
    paths = [c for c in statements[0].find_all(sqlglot.exp.Column) if c.name == "$path"]
    assert len(paths) == 1 and paths[0].this.quoted


def test_raw_query_hours_is_a_bounded_parameter_of_both_stacks():
    for path in (TEMPLATE, CENTRAL):
        p = load_template(path)["Parameters"]["RawQueryHours"]
        assert (p["Type"], p["Default"], p["MinValue"]) == ("Number", 6, 1)
