"""The archive's table schema, read from template.yaml, and a checker for archive rows.

``glue_columns(template_path)`` returns the Glue columns of every raw (JSON) table of
the template (partition keys excluded), e.g. ``{"entries": {"report_id": "string", ...}}``.

``check_rows(table_columns, rows)`` checks rows (parsed JSON objects, one per JSON Lines
line) against the columns of one table and returns the problems found, as readable
strings (empty list = the rows match):

* a column missing from a row, or a key of a row that is no column (``region`` is
  ignored: it is written in every row but declared as partition key only);
* a JSON value whose type cannot be read as the column's Hive type, recursively through
  ``struct<...>`` (missing/extra fields too), ``array<...>`` and ``map<...>``;
* ``timestamp`` values that are not the contract format ``YYYY-MM-DDTHH:MM:SS.mmmZ``.

JSON ``null`` is accepted for every type (Hive columns are nullable; which fields may be
null is the writer's contract, not the table's).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "load_template",
    "glue_tables",
    "glue_columns",
    "glue_partition_keys",
    "parse_hive_type",
    "check_rows",
    "check_value",
    "TIMESTAMP_RE",
]

# The archive contract's timestamp format: ISO 8601 UTC, always millis, always Z.
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_INT_RANGES = {
    "tinyint": (-(2**7), 2**7 - 1),
    "smallint": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}


# --------------------------------------------------------------------------- template


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short-form tags into their long form."""


def _cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(template_path: str | Path) -> dict[str, Any]:
    """Load a CloudFormation/SAM YAML template, tolerating !Ref, !Sub, !GetAtt, !If..."""
    with open(template_path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def glue_tables(template_path: str | Path) -> dict[str, dict[str, Any]]:
    """TableInput of every AWS::Glue::Table, keyed by the table name."""
    tables: dict[str, dict[str, Any]] = {}
    for logical_id, resource in (load_template(template_path).get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Glue::Table":
            continue
        table_input = resource["Properties"]["TableInput"]
        name = table_input.get("Name")
        tables[name if isinstance(name, str) else logical_id] = table_input
    return tables


def _raw_tables(template_path: str | Path) -> dict[str, dict[str, Any]]:
    """The JSON tables of the raw archive, keyed by dataset (``entries_raw`` -> ``entries``).

    The compacted Parquet tables and the views are derived from them
    (tests/support/sync_compaction_views.py); a table without the ``_raw`` suffix (the
    organisation's ``references``) is a raw dataset that is not compacted.
    """
    return {
        name.removesuffix("_raw"): ti
        for name, ti in glue_tables(template_path).items()
        if ti.get("TableType") == "EXTERNAL_TABLE"
        and ti["StorageDescriptor"]["SerdeInfo"].get("SerializationLibrary") == "org.openx.data.jsonserde.JsonSerDe"
    }


def glue_columns(template_path: str | Path) -> dict[str, dict[str, str]]:
    """{dataset: {column: hive_type}}: the rows the binary writes, as the raw tables declare them."""
    return {
        table: {c["Name"]: "".join(str(c["Type"]).split()) for c in table_input["StorageDescriptor"]["Columns"]}
        for table, table_input in _raw_tables(template_path).items()
    }


def glue_partition_keys(template_path: str | Path) -> dict[str, dict[str, str]]:
    """{dataset: {partition_key: hive_type}} of the raw tables."""
    return {
        table: {k["Name"]: str(k["Type"]) for k in table_input.get("PartitionKeys", [])}
        for table, table_input in _raw_tables(template_path).items()
    }


# --------------------------------------------------------------------------- hive types

# Parsed type: ("primitive", name) | ("decimal",) | ("array", elem)
#            | ("map", key, value) | ("struct", ((field, type), ...))
HiveType = tuple


def parse_hive_type(text: str) -> HiveType:
    """Parse a Hive type string such as ``array<struct<a:string,b:map<string,int>>>``."""
    src = "".join(text.split())
    parsed, pos = _parse_type(src, 0)
    if pos != len(src):
        raise ValueError(f"unexpected {src[pos:]!r} after a complete type in {text!r}")
    return parsed


def _parse_ident(src: str, pos: int) -> tuple[str, int]:
    m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(src, pos)
    if not m:
        raise ValueError(f"expected a name at {pos} in {src!r}")
    return m.group(0), m.end()


def _expect(src: str, pos: int, char: str) -> int:
    if pos >= len(src) or src[pos] != char:
        raise ValueError(f"expected {char!r} at {pos} in {src!r}")
    return pos + 1


def _parse_type(src: str, pos: int) -> tuple[HiveType, int]:
    name, pos = _parse_ident(src, pos)
    lname = name.lower()
    if lname == "array":
        pos = _expect(src, pos, "<")
        elem, pos = _parse_type(src, pos)
        return ("array", elem), _expect(src, pos, ">")
    if lname == "map":
        pos = _expect(src, pos, "<")
        key, pos = _parse_type(src, pos)
        pos = _expect(src, pos, ",")
        value, pos = _parse_type(src, pos)
        return ("map", key, value), _expect(src, pos, ">")
    if lname == "struct":
        pos = _expect(src, pos, "<")
        fields = []
        while True:
            field, pos = _parse_ident(src, pos)
            pos = _expect(src, pos, ":")
            ftype, pos = _parse_type(src, pos)
            fields.append((field, ftype))
            if pos < len(src) and src[pos] == ",":
                pos += 1
                continue
            break
        return ("struct", tuple(fields)), _expect(src, pos, ">")
    if lname in ("decimal", "varchar", "char"):
        if pos < len(src) and src[pos] == "(":
            end = src.index(")", pos)
            pos = end + 1
        return (("decimal",) if lname == "decimal" else ("primitive", "string")), pos
    if lname in _INT_RANGES or lname in (
        "string",
        "boolean",
        "double",
        "float",
        "timestamp",
        "date",
        "binary",
    ):
        return ("primitive", lname), pos
    raise ValueError(f"unknown Hive type {name!r} in {src!r}")


def _type_name(t: HiveType) -> str:
    kind = t[0]
    if kind == "primitive":
        return t[1]
    if kind == "decimal":
        return "decimal"
    if kind == "array":
        return f"array<{_type_name(t[1])}>"
    if kind == "map":
        return f"map<{_type_name(t[1])},{_type_name(t[2])}>"
    return "struct<" + ",".join(f"{n}:{_type_name(ft)}" for n, ft in t[1]) + ">"


# --------------------------------------------------------------------------- checking


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def check_value(hive_type: HiveType | str, value: Any, path: str) -> list[str]:
    """Problems of one JSON value read as ``hive_type`` (path names it in messages)."""
    t = parse_hive_type(hive_type) if isinstance(hive_type, str) else hive_type
    if value is None:
        return []
    kind = t[0]
    got = f"got JSON {_json_kind(value)} {_show(value)}"
    if kind == "primitive":
        name = t[1]
        if name == "string":
            return [] if isinstance(value, str) else [f"{path}: expected string, {got}"]
        if name in _INT_RANGES:
            if isinstance(value, bool) or not isinstance(value, int):
                return [f"{path}: expected {name} (JSON integer), {got}"]
            lo, hi = _INT_RANGES[name]
            return [] if lo <= value <= hi else [f"{path}: {value} is out of range for {name}"]
        if name in ("double", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return [f"{path}: expected {name} (JSON number), {got}"]
            return []
        if name == "boolean":
            return [] if isinstance(value, bool) else [f"{path}: expected boolean, {got}"]
        if name == "timestamp":
            if not isinstance(value, str) or not TIMESTAMP_RE.match(value):
                return [f"{path}: expected timestamp string YYYY-MM-DDTHH:MM:SS.mmmZ, {got}"]
            try:
                _dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")
            except ValueError:
                return [f"{path}: {value!r} is not a valid date/time"]
            return []
        if name == "date":
            if not isinstance(value, str) or not _DATE_RE.match(value):
                return [f"{path}: expected date string YYYY-MM-DD, {got}"]
            try:
                _dt.date.fromisoformat(value)
            except ValueError:
                return [f"{path}: {value!r} is not a valid date"]
            return []
        if name == "binary":
            return [] if isinstance(value, str) else [f"{path}: expected base64 string, {got}"]
        return [f"{path}: unsupported Hive type {name}"]
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{path}: expected decimal (JSON number), {got}"]
        return []
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected {_type_name(t)} (JSON array), {got}"]
        problems: list[str] = []
        for i, elem in enumerate(value):
            problems += check_value(t[1], elem, f"{path}[{i}]")
        return problems
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected {_type_name(t)} (JSON object), {got}"]
        problems = []
        key_type = t[1]
        for k, v in value.items():
            if key_type != ("primitive", "string"):
                problems += _check_map_key(key_type, k, f"{path}[{k!r}] key")
            problems += check_value(t[2], v, f"{path}[{k!r}]")
        return problems
    # struct
    if not isinstance(value, dict):
        return [f"{path}: expected struct (JSON object), {got}"]
    return _check_fields(dict(t[1]), value, path, ignore=())


def _check_map_key(key_type: HiveType, key: str, path: str) -> list[str]:
    # JSON object keys are always strings; numeric/boolean map keys are parsed from them.
    if key_type[0] == "primitive" and key_type[1] in _INT_RANGES:
        return [] if re.fullmatch(r"-?\d+", key) else [f"{path}: {key!r} is not an integer"]
    if key_type[0] == "primitive" and key_type[1] == "boolean":
        return [] if key in ("true", "false") else [f"{path}: {key!r} is not a boolean"]
    return []


def _check_fields(
    fields: Mapping[str, HiveType], obj: Mapping[str, Any], path: str, ignore: Iterable[str]
) -> list[str]:
    prefix = f"{path}." if path else ""
    ignored = set(ignore)
    problems = [
        f"{prefix}{name}: missing (declared as {_type_name(ftype)})"
        for name, ftype in fields.items()
        if name not in obj
    ]
    problems += [
        f"{prefix}{key}: not a declared column/field (value {_show(obj[key])})"
        for key in obj
        if key not in fields and key not in ignored
    ]
    for name, ftype in fields.items():
        if name in obj:
            problems += check_value(ftype, obj[name], f"{prefix}{name}")
    return problems


def check_rows(
    table_columns: Mapping[str, str],
    rows: Iterable[Any],
    ignore: Iterable[str] = ("region",),
) -> list[str]:
    """Problems of ``rows`` against one table's ``{column: hive_type}`` (see module doc).

    ``ignore`` lists row keys that are not columns on purpose (default: the ``region``
    partition key). Each problem starts with ``row <index>:``.
    """
    parsed = {name: parse_hive_type(t) for name, t in table_columns.items()}
    ignore = tuple(ignore)
    problems: list[str] = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.append(f"row {i}: expected a JSON object, got JSON {_json_kind(row)}")
            continue
        problems += [f"row {i}: {p}" for p in _check_fields(parsed, row, "", ignore)]
    return problems
