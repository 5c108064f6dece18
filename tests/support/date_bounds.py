"""Find the reads of a date-partitioned table that partition projection cannot prune.

Every table of the archive is partitioned by ``report_date`` with partition projection:
Athena opens only the days a query's predicate on ``report_date`` leaves, and only
when that predicate is a constant of the query (literals, ``current_date``,
``current_timestamp``), evaluated at planning time. A read without one opens every
day since ``ProjectionStartDate``: its cost grows with the history, not with the
question.

``unbounded_reads(sql, tables)`` returns every such read in ``sql``: a reference to one
of ``tables`` (names, lower case; common table expressions of the same name are not
tables) whose own SELECT does not carry, as a top-level conjunct of its WHERE or of an
inner join's ON, a lower bound on that table's ``report_date`` by a constant:
``report_date >= c``, ``> c``, ``= c``, ``between c1 and c2``, ``in (c, ...)`` (or the
same comparison written the other way round). An upper bound alone does not count
(history grows backwards from it), nor a bound under OR, nor a comparison with another
column (``e.report_date = r.report_date``: projection does not prune by a join), nor a
predicate applied to a common table expression's output instead of the scan.

``pass_through=True`` (the views of the templates) also accepts a read that only passes
the table through (``SELECT columns FROM t``: no WHERE, join, grouping, window,
aggregate, DISTINCT or LIMIT): the predicate of the query that reads the view reaches
that scan (Trino pushes it through projections and UNION ALL), so the view is bounded
by the query that uses it, which this check holds to the rule above.

``date_partitioned(template_paths)`` is the set of tables and views to hold to it: every
Glue table with a ``report_date`` partition key and every view with a ``report_date``
column, in the given templates. Standard library, sqlglot and PyYAML.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import sqlglot
from sqlglot import exp

from .glue_schema import glue_tables

__all__ = ["PARTITION", "date_partitioned", "unbounded_reads"]

PARTITION = "report_date"


def date_partitioned(template_paths: Iterable[str | Path]) -> set[str]:
    names: set[str] = set()
    for path in template_paths:
        for name, ti in glue_tables(path).items():
            keys = {k["Name"] for k in ti.get("PartitionKeys") or []}
            columns = {c["Name"] for c in (ti.get("StorageDescriptor") or {}).get("Columns") or []}
            if PARTITION in keys or (ti.get("TableType") == "VIRTUAL_VIEW" and PARTITION in columns):
                names.add(name.lower())
    return names


def _unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    if node is None:
        return []
    node = _unparen(node)
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


def _sources(select: exp.Select) -> list[exp.Expression]:
    from_ = select.args.get("from_")
    return ([from_.this] if from_ else []) + [j.this for j in select.args.get("joins") or []]


def _constant(node: exp.Expression | None) -> bool:
    return node is not None and not any(isinstance(n, (exp.Column, exp.Select, exp.Subquery)) for n in node.walk())


def _is_partition_of(node: exp.Expression, table: exp.Table, select: exp.Select) -> bool:
    node = _unparen(node)
    if not isinstance(node, exp.Column) or node.name.lower() != PARTITION:
        return False
    if node.table:
        return node.table.lower() == table.alias_or_name.lower()
    # unqualified: this table's, if no other relation of the SELECT could have the column
    # (an UNNEST names its own columns)
    return [s for s in _sources(select) if not isinstance(s, exp.Unnest)] == [table]


def _bounds(cond: exp.Expression, table: exp.Table, select: exp.Select) -> bool:
    cond = _unparen(cond)
    if isinstance(cond, (exp.GTE, exp.GT, exp.EQ)) and _is_partition_of(cond.this, table, select):
        return _constant(cond.expression)
    if isinstance(cond, (exp.LTE, exp.LT, exp.EQ)) and _is_partition_of(cond.expression, table, select):
        return _constant(cond.this)
    if isinstance(cond, exp.Between) and _is_partition_of(cond.this, table, select):
        return _constant(cond.args.get("low")) and _constant(cond.args.get("high"))
    if isinstance(cond, exp.In) and _is_partition_of(cond.this, table, select):
        values = cond.expressions
        return bool(values) and not cond.args.get("query") and all(_constant(v) for v in values)
    return False


def _passes_through(select: exp.Select, table: exp.Table) -> bool:
    if _sources(select) != [table]:
        return False
    if any(select.args.get(k) for k in ("where", "group", "having", "qualify", "distinct", "limit", "joins")):
        return False
    return not any(isinstance(n, (exp.Window, exp.AggFunc)) for e in select.expressions for n in e.walk())


def unbounded_reads(sql: str, tables: set[str], *, pass_through: bool = False) -> list[str]:
    """Each read of one of ``tables`` in ``sql`` that no constant report_date bound prunes."""
    tree = sqlglot.parse_one(sql, read="athena")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    problems = []
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        if name in ctes or name not in tables:
            continue
        select = table.find_ancestor(exp.Select)
        if select is None:
            problems.append(f"{table.sql(dialect='athena')} outside any SELECT")
            continue
        inner_ons = [
            j.args.get("on")
            for j in select.args.get("joins") or []
            if not j.side and (j.kind or "").upper() in ("", "INNER")
        ]
        where = select.args.get("where")
        conds = _conjuncts(where and where.this) + [c for on in inner_ons for c in _conjuncts(on)]
        if any(_bounds(c, table, select) for c in conds):
            continue
        if pass_through and _passes_through(select, table):
            continue
        problems.append(
            f"{table.sql(dialect='athena')} read without a constant lower bound on {PARTITION}: "
            + " ".join(select.sql(dialect="athena").split())[:200]
        )
    return problems
