"""Generate the compacted tables and the one-way views of every compacted dataset.

    python3 tests/support/sync_compaction_views.py          # rewrite both templates
    python3 tests/support/sync_compaction_views.py --check  # exit 1 if anything differs

For each dataset (``entries``, ``reports``, ``verdicts``) the raw table ``<d>_raw`` (JSON,
written by hand in the template) is the source of the columns; this script writes,
between the markers ``# BEGIN generated compaction`` / ``# END generated compaction``:

* ``<d>_compacted``: the Parquet parts (``<prefix>/compacted/<d>/…``), the same columns
  plus ``source_object`` (the raw object each row came from), partition projection
  over every day;
* ``<d>``: an Athena (Presto) view, the one table users query: every compacted row, plus
  the raw rows of the days since ``RawQueryHours`` ago whose raw object is in no part of
  its day (ARCHITECTURE.md, "Compaction"). Both sides carry literal or
  ``current_timestamp`` bounds only (constant in a query), so partition projection
  prunes both by a query's date predicate. The compacted side passes every day through
  unfiltered (a view cannot know the question's window): the query's own
  ``report_date`` bound reaches it, and tests/template/test_query_bounds.py holds every
  named query to one (the view's description says so too).

``view_sql`` is also what tests/support/duckdb_archive.py runs (read back from the
template). Standard library plus PyYAML (through glue_schema).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from support.glue_schema import glue_tables, parse_hive_type  # type: ignore[no-redef]
else:
    from .glue_schema import glue_tables, parse_hive_type

ROOT = Path(__file__).resolve().parents[2]
DATASETS = ("entries", "reports", "verdicts")
SOURCE_COLUMN = "source_object"
BEGIN = "  # BEGIN generated compaction (tests/support/sync_compaction_views.py)\n"
END = "  # END generated compaction\n"

_PRESTO = {
    "string": "varchar",
    "int": "integer",
    "integer": "integer",
    "bigint": "bigint",
    "double": "double",
    "boolean": "boolean",
    "timestamp": "timestamp(3)",
}


def _presto(t: tuple) -> str:
    if t[0] == "primitive":
        return _PRESTO[t[1]]
    if t[0] == "array":
        return f"array({_presto(t[1])})"
    if t[0] == "map":
        return f"map({_presto(t[1])}, {_presto(t[2])})"
    return "row(" + ", ".join(f"{n} {_presto(ft)}" for n, ft in t[1]) + ")"


def presto_type(hive_type: str) -> str:
    return _presto(parse_hive_type(hive_type))


def raw_window(hours: str) -> str:
    """The first report_date the raw side reads: the day of `hours` ago."""
    return f"cast(cast(current_timestamp - interval '{hours}' hour as date) as varchar)"


def view_sql(dataset: str, columns: list[str], partition_keys: list[str], hours: str = "${RawQueryHours}") -> str:
    """The view: compacted rows, then raw rows of open days whose object is in no part."""
    cols = ", ".join(columns + partition_keys)
    same_day = " AND ".join(f"c.{k} = r.{k}" for k in partition_keys)
    return (
        f"SELECT {cols} FROM {dataset}_compacted "
        f"UNION ALL "
        f"SELECT {', '.join(f'r.{c}' for c in columns + partition_keys)} FROM {dataset}_raw r "
        f"WHERE r.report_date >= {raw_window(hours)} "
        f"AND NOT EXISTS (SELECT 1 FROM {dataset}_compacted c "
        f"WHERE c.report_date >= {raw_window(hours)} AND {same_day} "
        f"AND c.{SOURCE_COLUMN} = regexp_extract(r.\"$path\", '([^/]+)\\.json\\.gz$', 1))"
    )


def _columns_yaml(columns: dict[str, str], indent: str) -> str:
    return "".join(f"{indent}- {{ Name: {n}, Type: {json.dumps(t) if ',' in t else t} }}\n" for n, t in columns.items())


class Mode:
    """What differs between the account stack and the organisation's central stack."""

    def __init__(self, path: Path, logical_prefix: str, condition: str, bucket: str, base: str, regions: str):
        self.path, self.logical_prefix, self.condition = path, logical_prefix, condition
        self.bucket, self.base, self.regions = bucket, base, regions


SINGLE = Mode(
    ROOT / "template.yaml",
    "",
    "    Condition: UseLocalArchive\n",
    "ArchiveBucket",
    "${ArchivePrefix}",
    "!If [HasProjectionRegions, !Ref ProjectionRegions, !Ref AWS::Region]",
)
CENTRAL = Mode(
    ROOT / "deploy" / "org" / "central-archive.yaml",
    "Org",
    "",
    "OrgArchiveBucket",
    "${ArchivePrefix}/account=${!account}",
    "!Ref ProjectionRegions",
)


def _compacted_table(mode: Mode, dataset: str, columns: dict[str, str], keys: dict[str, str]) -> str:
    logical = f"{mode.logical_prefix}{dataset.capitalize()}CompactedTable"
    location = f"s3://${{{mode.bucket}}}/{mode.base}/compacted/{dataset}/"
    template = location + "/".join(f"{k}=${{!{k}}}" for k in keys if k != "account") + "/"
    account = (
        '          projection.account.type: enum\n          projection.account.values: !Join [",", !Ref MemberAccountIds]\n'
        if "account" in keys
        else ""
    )
    root = f"s3://${{{mode.bucket}}}/{mode.base.split('/account=')[0]}/" + (
        "" if "account" in keys else f"compacted/{dataset}/"
    )
    return (
        f"  {logical}:\n{mode.condition}    Type: AWS::Glue::Table\n    Properties:\n"
        "      CatalogId: !Ref AWS::AccountId\n"
        f"      DatabaseName: !Ref {'OrgDatabase' if mode.logical_prefix else 'AthenaDatabase'}\n"
        "      TableInput:\n"
        f"        Name: {dataset}_compacted\n"
        f"        Description: Closed days of {dataset}_raw as Parquet parts; query the view {dataset}.\n"
        "        TableType: EXTERNAL_TABLE\n        Parameters:\n"
        '          classification: parquet\n          EXTERNAL: "TRUE"\n          projection.enabled: "true"\n'
        f"{account}"
        f"          projection.region.type: enum\n          projection.region.values: {mode.regions}\n"
        "          projection.report_date.type: date\n          projection.report_date.format: yyyy-MM-dd\n"
        "          projection.report_date.range: !Sub ${ProjectionStartDate},NOW\n"
        '          projection.report_date.interval: "1"\n          projection.report_date.interval.unit: DAYS\n'
        f"          storage.location.template: !Sub {template}\n"
        "        PartitionKeys:\n"
        + "".join(f"          - {{ Name: {k}, Type: {t} }}\n" for k, t in keys.items())
        + "        StorageDescriptor:\n"
        f"          Location: !Sub {root}\n"
        "          InputFormat: org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat\n"
        "          OutputFormat: org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat\n"
        "          SerdeInfo:\n            SerializationLibrary: org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe\n"
        "          Columns:\n" + _columns_yaml({**columns, SOURCE_COLUMN: "string"}, "            ") + "\n"
    )


def _view(mode: Mode, dataset: str, columns: dict[str, str], keys: dict[str, str]) -> str:
    logical = f"{mode.logical_prefix}{dataset.capitalize()}View"
    database = "OrgDatabase" if mode.logical_prefix else "AthenaDatabase"
    all_columns = {**columns, **keys}
    definition = {
        "originalSql": view_sql(dataset, list(columns), list(keys)),
        "catalog": "awsdatacatalog",
        "schema": f"${{{database}}}",
        "columns": [{"name": n, "type": presto_type(t)} for n, t in all_columns.items()],
    }
    return (
        f"  {logical}:\n{mode.condition}    Type: AWS::Glue::Table\n    Properties:\n"
        "      CatalogId: !Ref AWS::AccountId\n"
        f"      DatabaseName: !Ref {database}\n"
        "      TableInput:\n"
        f"        Name: {dataset}\n"
        f"        Description: Every row of {dataset}, compacted or not (the one table to query). Bound report_date\n"
        "          in every query of it, its compacted side passes every day through (partition projection then\n"
        "          opens only the days asked for).\n"
        "        TableType: VIRTUAL_VIEW\n"
        '        Parameters:\n          presto_view: "true"\n          comment: Presto View\n'
        "        ViewExpandedText: /* Presto View */\n"
        '        ViewOriginalText: !Join\n          - ""\n'
        '          - - "/* Presto View: "\n'
        "            - Fn::Base64: !Sub |-\n"
        f"                {json.dumps(definition)}\n"
        '            - " */"\n'
        "        StorageDescriptor:\n          SerdeInfo: {}\n          Columns:\n"
        + _columns_yaml(all_columns, "            ")
        + "\n"
    )


def generate(mode: Mode) -> str:
    tables = glue_tables(mode.path)
    out = BEGIN
    for dataset in DATASETS:
        raw = tables[f"{dataset}_raw"]
        columns = {c["Name"]: "".join(str(c["Type"]).split()) for c in raw["StorageDescriptor"]["Columns"]}
        keys = {k["Name"]: str(k["Type"]) for k in raw["PartitionKeys"]}
        out += _compacted_table(mode, dataset, columns, keys) + _view(mode, dataset, columns, keys)
    return out.rstrip("\n") + "\n" + END


_REGION = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)


def sync(mode: Mode) -> tuple[str, bool]:
    text = mode.path.read_text(encoding="utf-8")
    new = _REGION.sub(lambda _: generate(mode), text, count=1)
    return new, new != text


def main(argv: list[str]) -> int:
    changed = []
    for mode in (SINGLE, CENTRAL):
        text, differs = sync(mode)
        if differs:
            changed.append(mode.path.name)
            if "--check" not in argv:
                mode.path.write_text(text, encoding="utf-8")
    if "--check" in argv:
        print("out of sync: " + ", ".join(changed) if changed else "in sync")
        return 1 if changed else 0
    print("updated: " + ", ".join(changed) if changed else "already in sync")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
