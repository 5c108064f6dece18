"""Query a downloaded archive with DuckDB, as Athena queries it in S3.

``open_archive(local_dir)`` takes a directory laid out like the bucket under the archive
prefix (``entries/region=<r>/report_date=<d>/<report_id>.json.gz``,
``reports/region=<r>/report_date=<d>/<report_id>.json.gz``,
``verdicts/region=<r>/report_date=<d>/run-<time>.json.gz`` and the compacted parts
``compacted/<dataset>/region=<r>/report_date=<d>/part-NNNN.parquet``; anything else,
such as ``state/``, is ignored) and returns a DuckDB connection with one view per Glue
table of template.yaml (``entries_raw``, ``entries_compacted``, and the view
``entries`` as the template defines it, the same for ``reports`` and ``verdicts``)
whose columns have the same names and types as the table (read from it: one source of
truth) plus the partition columns
``region`` and ``report_date`` (varchar, taken from the path as Athena does; the
``region`` key inside the rows is not read, exactly like the OpenX SerDe which ignores
undeclared keys). A declared column whose key a row lacks reads NULL, as with the SerDe
(verdict rows written before a column was added).

``run_query(con, sql_text)`` runs one query of queries/*.sql after the mechanical
rewrites documented in queries/README.md (two function renames) and returns the rows
as dicts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb

from .glue_schema import glue_columns, glue_partition_keys, glue_tables, load_template, parse_hive_type

__all__ = ["open_archive", "run_query", "rewrite_for_duckdb", "duckdb_type", "DEFAULT_TEMPLATE"]

DEFAULT_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

_PRIMITIVES = {
    "string": "VARCHAR",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "boolean": "BOOLEAN",
    "double": "DOUBLE",
    "float": "FLOAT",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "binary": "BLOB",
}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _duck(t: tuple) -> str:
    kind = t[0]
    if kind == "primitive":
        return _PRIMITIVES[t[1]]
    if kind == "decimal":
        return "DOUBLE"
    if kind == "array":
        return f"{_duck(t[1])}[]"
    if kind == "map":
        return f"MAP({_duck(t[1])}, {_duck(t[2])})"
    return "STRUCT(" + ", ".join(f"{_quote(n)} {_duck(ft)}" for n, ft in t[1]) + ")"


def duckdb_type(hive_type: str) -> str:
    """DuckDB type of a Hive type string (struct field names are quoted)."""
    return _duck(parse_hive_type(hive_type))


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _struct_literal(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in mapping.items()) + "}"


def _typed_empty(duck_cols: dict[str, str]) -> str:
    typed = [f"CAST(NULL AS {t}) AS {_quote(n)}" for n, t in duck_cols.items()]
    return f"SELECT {', '.join(typed)} WHERE false"


def _raw_select(root: Path, dataset: str, duck_cols: dict[str, str], part_keys: dict[str, str]) -> str:
    """The raw JSON objects, with Athena's ``"$path"`` (the object's key)."""
    depth = "/".join(f"{k}=*" for k in part_keys)
    pattern = (root / dataset).as_posix() + (f"/{depth}" if depth else "") + "/*.json.gz"
    if not any((root / dataset).glob("/".join(["*"] * len(part_keys) + ["*.json.gz"]))):
        keys = {k: duckdb_type(t) for k, t in part_keys.items()}
        return _typed_empty({**duck_cols, **keys, "$path": "VARCHAR"})
    return (
        'SELECT * EXCLUDE (filename), filename AS "$path" FROM read_json('
        f"{_sql_str(pattern)}, format = 'newline_delimited', compression = 'gzip', "
        f"columns = {_struct_literal(duck_cols)}, filename = true, "
        f"hive_partitioning = true, hive_types = "
        f"{_struct_literal({k: duckdb_type(v) for k, v in part_keys.items()})})"
    )


def _compacted_select(root: Path, table: dict, dataset: str, part_keys: dict[str, str], read: bool) -> str:
    """The Parquet parts under ``compacted/<dataset>/``, cast to the table's types."""
    cols = {c["Name"]: duckdb_type("".join(str(c["Type"]).split())) for c in table["StorageDescriptor"]["Columns"]}
    keys = {k: duckdb_type(t) for k, t in part_keys.items()}
    base = root / "compacted" / dataset
    depth = "/".join(f"{k}=*" for k in part_keys)
    if not read or not any(base.glob("/".join(["*"] * len(part_keys) + ["*.parquet"]))):
        return _typed_empty({**cols, **keys})
    casts = ", ".join(f"CAST({_quote(n)} AS {t}) AS {_quote(n)}" for n, t in {**cols, **keys}.items())
    pattern = f"{base.as_posix()}/{depth}/*.parquet"
    return (
        f"SELECT {casts} FROM read_parquet({_sql_str(pattern)}, hive_partitioning = true, "
        f"hive_types = {_struct_literal(keys)})"
    )


def view_definition(table_input: dict, raw_query_hours: int) -> str:
    """The SQL of a generated view of the template (its Presto view JSON, decoded)."""
    parts = table_input["ViewOriginalText"]["Fn::Join"][1]
    text = next(p["Fn::Base64"]["Fn::Sub"] for p in parts if isinstance(p, dict))
    text = text.replace("${RawQueryHours}", str(raw_query_hours))
    text = re.sub(r"\$\{[A-Za-z]+\}", "db", text)
    return json.loads(text)["originalSql"]


def open_archive(
    local_dir: str | Path,
    template_path: str | Path = DEFAULT_TEMPLATE,
    *,
    now: str | None = None,
    raw_query_hours: int | None = None,
    compacted: bool = True,
):
    """DuckDB connection over ``local_dir`` (the archive prefix) with the template's tables.

    ``<d>_raw`` (the JSON objects), ``<d>_compacted`` (the Parquet parts; none read when
    ``compacted`` is false: the raw objects alone) and the view ``<d>`` exactly as the
    template defines it. ``raw_query_hours`` is the template parameter ``RawQueryHours``
    (default: its default); ``now`` (an ISO timestamp) replaces ``current_timestamp`` in
    the views, for archives written on an emulated clock.
    """
    root = Path(local_dir)
    con = duckdb.connect()
    # Athena evaluates current_date in UTC; so must DuckDB (needs the bundled ICU).
    con.execute("SET TimeZone = 'UTC'")
    tables = glue_tables(template_path)
    partitions = glue_partition_keys(template_path)
    hours = raw_query_hours or load_template(template_path)["Parameters"]["RawQueryHours"]["Default"]
    for dataset, cols in glue_columns(template_path).items():
        duck_cols = {name: duckdb_type(t) for name, t in cols.items()}
        part_keys = partitions.get(dataset, {})
        raw_name = f"{dataset}_raw" if f"{dataset}_raw" in tables else dataset
        con.execute(f"CREATE OR REPLACE VIEW {_quote(raw_name)} AS {_raw_select(root, dataset, duck_cols, part_keys)}")
        if raw_name == dataset:
            continue
        select = _compacted_select(root, tables[f"{dataset}_compacted"], dataset, part_keys, compacted)
        con.execute(f"CREATE OR REPLACE VIEW {_quote(dataset + '_compacted')} AS {select}")
        sql = view_definition(tables[dataset], hours)
        if now is not None:
            literal = f"TIMESTAMP {_sql_str(now.replace('T', ' ').removesuffix('Z'))}"
            sql = re.sub(r"\bcurrent_timestamp\b", literal, sql)
        con.execute(f"CREATE OR REPLACE VIEW {_quote(dataset)} AS {sql}")
    return con


# The two mechanical Athena -> DuckDB rewrites (documented in queries/README.md); both
# rename a function token, nothing else:
# 1. element_at(map, key): NULL for a missing key in Athena (map[key] FAILS there), but
#    a list in DuckDB, whose NULL-on-missing equivalent is map_extract_value(map, key).
#    queries/ use element_at on maps only.
# 2. cardinality(array): DuckDB 1.5's cardinality accepts maps only; len(list) is the
#    same count. queries/ use cardinality on arrays only.
_REWRITES = (
    (re.compile(r"\belement_at\s*\(", re.IGNORECASE), "map_extract_value("),
    (re.compile(r"\bcardinality\s*\(", re.IGNORECASE), "len("),
)


def rewrite_for_duckdb(sql_text: str) -> str:
    """Apply the documented rewrites: element_at( -> map_extract_value(, cardinality( -> len(."""
    for pattern, replacement in _REWRITES:
        sql_text = pattern.sub(replacement, sql_text)
    return sql_text


def run_query(con, sql_text: str) -> list[dict[str, Any]]:
    """Run one Athena query (queries/*.sql) on the archive; rows as dicts, in order."""
    cur = con.execute(rewrite_for_duckdb(sql_text))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
