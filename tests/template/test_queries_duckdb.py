"""Run queries/*.sql with DuckDB on a synthetic archive and check every result.

The archive is generated here (gzip JSON Lines, Hive partitions, the contract's schema)
over several AMIs, Regions and report dates relative to today (UTC), because the queries
use current_date. Expected results are computed in Python from the generated data with
the semantics documented in each query's header, plus hand-written spot checks of the
cases each query exists for.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
from support.duckdb_archive import duckdb_type, open_archive, rewrite_for_duckdb, run_query
from support.glue_schema import check_rows, glue_columns

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "queries"
OWNER = "123456789012"
OWNER2, OWNER3 = "210987654321", "310987654321"
R1, R2 = "us-east-1", "eu-west-1"
TODAY = dt.datetime.now(dt.UTC).date()
A, B, C, D, E = "111111111111", "222222222222", "333333333333", "444444444444", "555555555555"
INST, LT = "ec2:Instance", "ec2:LaunchTemplate"
CANDIDATE = ["unused_for_window", "no_owner_account_use", "older_than_min_age"]
# Verdict columns added by issue 11: rows of a binary that predates them lack the keys.
NEW_VERDICT_COLUMNS = (
    "checked",
    "not_checked",
    "newest_zero_usage_report",
    "max_evidence_age_hours",
    "owner_last_used",
    "deregistration_protection",
    "deprecation_time",
    "image_allowed",
    "source_image_id",
    "member_references",
    "member_references_in_window",
    "member_last_used",
)


def ts(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def image(
    name, created, *, tags=None, billing=(), codes=(), sizes=(8,), usage_operation="RunInstances", platform="Linux/UNIX"
):
    return {
        "name": name,
        "description": f"{name} image",
        "creation_date": f"{created}T08:00:00.000Z",
        "state": "available",
        "architecture": "arm64",
        "platform_details": platform,
        "usage_operation": usage_operation,
        "tags": dict(tags or {}),
        "billing_products": list(billing),
        "product_codes": [{"product_code_id": c, "product_code_type": t} for c, t in codes],
        "block_devices": [
            {"device_name": f"/dev/sd{chr(97 + i)}", "snapshot_id": f"snap-{i:017x}", "volume_size_gib": size}
            for i, size in enumerate(sizes)
        ],
        "snapshot_size_gib_total": sum(sizes),
    }


def verdict(image_id, kind, reasons=None, *, gib=8, days_unused=40, new_columns=True, **extra):
    """One verdict row as crates/core/src/verdict/row.rs writes it (its run fills in the rest)."""
    row = {
        "image_id": image_id,
        "name": f"{image_id[4:]}-image",
        "verdict": kind,
        "reasons": list(reasons if reasons is not None else CANDIDATE),
        "image_creation_date": "2024-01-02T03:04:05.000Z",
        "age_days": 400,
        "unused_since": None if kind == "in_use" else "2024-10-01T10:05:07.123Z",
        "days_unused": None if kind == "in_use" else days_unused,
        "reports_in_window": 30,
        "zero_usage_reports": 30 if kind != "in_use" else 29,
        "latest_report_id": f"amiur-{image_id[4:]}",
        "latest_total_usage": 0,
        "owner_references": [],
        "last_launched_time": None,
        "group_value": None,
        "snapshot_size_gib_total": gib,
        "estimated_snapshot_usd_month": round(gib * 0.05, 2),
        "has_billing_codes": False,
        "unused_min_days": 30,
        "min_reports": 3,
    }
    if new_columns:
        row.update(
            {
                "checked": ["report:ec2:Instance", "report:ec2:LaunchTemplate", "owner:ec2:Instance"],
                "not_checked": [],
                "newest_zero_usage_report": "2024-10-30T10:05:07.123Z",
                "max_evidence_age_hours": 48,
                "owner_last_used": None,
                "deregistration_protection": "disabled",
                "deprecation_time": None,
                "image_allowed": True,
                "source_image_id": None,
                "member_references": [],
                "member_references_in_window": [],
                "member_last_used": None,
            }
        )
    row.update(extra)
    return row


class SyntheticArchive:
    def __init__(self):
        self.reports: list[dict] = []
        self.entries: list[dict] = []
        self.verdicts: list[dict] = []
        self._n = 0

    def verdict_run(self, region, days_ago, hour, rows, *, owner=OWNER, minute=5):
        """One collect run's verdicts object: every selected AMI's verdict at that clock."""
        at = dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(hour, minute, 7, 456000))
        for row in rows:
            self.verdicts.append(
                {
                    "schema_version": 1,
                    "evaluated_at": ts(at),
                    "owner_account_id": owner,
                    "region": region,
                    **row,
                    "_run": at,
                }
            )

    def report(self, region, image_id, days_ago, img, usage=(), *, state="available", hour=10, state_reason=None):
        self._n += 1
        created = dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(hour, 5, 7, 123000))
        report_id = f"amiur-{self._n:017x}"
        collected = ts(created + dt.timedelta(hours=2))
        entries = [
            {
                "schema_version": 1,
                "report_id": report_id,
                "image_id": image_id,
                "account_id": account,
                "resource_type": rtype,
                "usage_count": count,
                "report_creation_time": ts(created),
                "owner_account_id": OWNER,
                "region": region,
                "collected_at": collected,
            }
            for account, rtype, count in (usage if state == "available" else ())
        ]
        self.entries += entries
        self.reports.append(
            {
                "schema_version": 1,
                "report_id": report_id,
                "image_id": image_id,
                "owner_account_id": OWNER,
                "region": region,
                "state": state,
                "state_reason": state_reason,
                "resource_types": [
                    {"resource_type": INST, "options": []},
                    {"resource_type": LT, "options": [{"name": "version-depth", "values": ["20"]}]},
                ],
                "account_ids": [],
                "report_creation_time": ts(created),
                "report_expiration_time": ts(created + dt.timedelta(days=30)),
                "tags": {"CreatedBy": "ami-usage-reporter"},
                "image": img,
                "entry_count": len(entries),
                "account_count": len({e["account_id"] for e in entries}),
                "total_usage": sum(e["usage_count"] for e in entries),
                "instance_usage": sum(e["usage_count"] for e in entries if e["resource_type"] == INST),
                "launch_template_usage": sum(e["usage_count"] for e in entries if e["resource_type"] == LT),
                "collected_at": collected,
                # test-only bookkeeping, stripped before writing
                "_date": created.date().isoformat(),
                "_created": created,
            }
        )
        return report_id

    def public_reports(self):
        return [{k: v for k, v in r.items() if not k.startswith("_")} for r in self.reports]

    def public_verdicts(self):
        return [{k: v for k, v in r.items() if not k.startswith("_")} for r in self.verdicts]

    def write(self, root: Path):
        by_run = defaultdict(list)
        for row in self.public_verdicts():
            by_run[(row["region"], row["owner_account_id"], row["evaluated_at"])].append(row)
        for (region, owner, at), rows in by_run.items():
            # owner in the path only to keep runs of two accounts apart in this one archive
            d = root / "verdicts" / f"region={region}" / f"report_date={at[:10]}"
            d.mkdir(parents=True, exist_ok=True)
            name = f"run-{at.replace('-', '').replace(':', '')}-{owner}.json.gz"
            with gzip.open(d / name, "wt", encoding="utf-8") as f:
                for row in rows:
                    f.write(json.dumps(row, separators=(",", ":")) + "\n")
        for table, rows in (("reports", self.public_reports()), ("entries", self.entries)):
            by_object = defaultdict(list)
            for row in rows:
                date = row["report_creation_time"][:10]
                by_object[(row["region"], date, row["report_id"])].append(row)
            for (region, date, report_id), object_rows in by_object.items():
                d = root / table / f"region={region}" / f"report_date={date}"
                d.mkdir(parents=True, exist_ok=True)
                with gzip.open(d / f"{report_id}.json.gz", "wt", encoding="utf-8") as f:
                    for row in object_rows:
                        f.write(json.dumps(row, separators=(",", ":")) + "\n")


def build() -> SyntheticArchive:
    a = SyntheticArchive()
    # --- unused AMI candidates and counter-examples
    old = image("base-2023.01.01", "2023-01-01", sizes=(8, 100))
    for n in (1, 8, 20):
        a.report(R1, "ami-unused-old", n, old)
    a.report(R1, "ami-unused-old", 40, old, [(A, INST, 5)])  # outside the 30-day window
    a.report(R2, "ami-unused-eu", 2, image("eu-base-2024.06.01", "2024-06-01", sizes=(30,)))
    mix = image("mix-1", "2024-03-01", sizes=(20,))
    a.report(R1, "ami-unused-errmix", 3, mix)
    a.report(R1, "ami-unused-errmix", 4, mix, state="error", state_reason="Internal error")
    busy = image("busy-3", "2024-01-01", sizes=(60,))
    a.report(R1, "ami-busy", 1, busy)
    a.report(R1, "ami-busy", 5, busy, [(B, LT, 1)])
    err = image("err-1", "2024-02-01", sizes=(70,))
    a.report(R1, "ami-error-only", 2, err, state="error", state_reason="Report timed out")
    a.report(R1, "ami-error-only", 6, err, state="error", state_reason="Report timed out")
    a.report(R1, "ami-error-only", 35, err, state="error", state_reason="too old to list")
    gone = image("gone-1", "2024-04-01", sizes=(80,))
    a.report(R1, "ami-gone", 9, gone)
    a.report(R1, "ami-gone", 2, None)  # deregistered since
    a.report(R1, "ami-stale", 45, image("stale-1", "2022-01-01", sizes=(90,)))
    edge = image("edge-1", "2024-07-01", sizes=(50,))
    a.report(R1, "ami-edge", 30, edge)  # first day of the window
    a.report(R1, "ami-edge", 31, edge, [(A, INST, 9)])  # day before it
    a.report(R1, "ami-edge-out", 31, image("edge-out-1", "2024-07-02", sizes=(40,)))
    # --- a family named by version suffix, with a superseded same-day report
    app0 = image("app-2024.12.01", "2024-12-01")
    app1 = image("app-2025.01.01", "2025-01-01")
    app2 = image("app-2025.02.01", "2025-02-01")
    a.report(R1, "ami-app0", 10, app0, [(E, INST, 2)])
    a.report(R1, "ami-app0", 1, None, [(E, INST, 1)])  # deregistered, still used
    a.report(R1, "ami-app1", 91, app1, [(C, INST, 5)])  # day before the 90-day window
    a.report(R1, "ami-app2", 90, app2, [(C, LT, 2)])  # first day of the window
    a.report(R1, "ami-app1", 3, app1, [(A, INST, 6), (A, LT, 1), (B, INST, 3)])
    a.report(R1, "ami-app1", 2, app1, [(A, INST, 100)], hour=6)  # superseded same day
    a.report(R1, "ami-app1", 2, app1, [(A, INST, 4), (B, INST, 2)], hour=12)
    a.report(R1, "ami-app1", 1, app1, [(B, INST, 2)])
    a.report(R1, "ami-app2", 3, app2)
    a.report(R1, "ami-app2", 2, app2, [(A, INST, 4)])
    a.report(R1, "ami-app2", 1, app2, [(A, INST, 7), (A, LT, 1)])
    a.report(R1, "ami-app3", 1, image("app-2025.03.01", "2025-03-01"), state="error", state_reason="Internal error")
    # described only before the 90-day window, deregistered before its report on the
    # window's first day was collected: no description in the window, left out
    a.report(R1, "ami-app-old", 92, image("app-2024.11.01", "2024-11-01"), [(C, INST, 1)])
    a.report(R1, "ami-app-old", 89, None, [(C, INST, 3)])
    # --- a family named by tag
    a.report(R1, "ami-web1", 1, image("nginx-custom", "2024-05-01", tags={"Family": "web"}), [(D, INST, 1)])
    a.report(R1, "ami-web2", 1, image("web-server-7", "2024-09-01", tags={"Family": "web"}), [(D, INST, 3)])
    # --- billing products / product codes
    a.report(
        R1,
        "ami-market",
        2,
        image("market-1", "2024-08-01", billing=["bp-6fa54006"], codes=[("abc123xyz", "marketplace")]),
    )
    a.report(
        R1,
        "ami-win",
        2,
        image("win-2022", "2024-08-02", usage_operation="RunInstances:0002", platform="Windows"),
        [(A, INST, 1)],
    )
    a.report(R2, "ami-code-only", 4, image("fpga-1", "2024-08-03", codes=[("devpay1", "devpay")]))
    a.report(R1, "ami-market-old", 40, image("market-old", "2023-08-01", billing=["bp-63a5400a"]))
    a.report(R1, "ami-billing-gone", 5, image("bill-gone", "2024-08-04", billing=["bp-6fa54006"]))
    a.report(R1, "ami-billing-gone", 1, None)
    a.report(
        R1, "ami-bill-edge", 30, image("bill-edge", "2024-08-05", billing=["bp-6fa54006"]), [(A, INST, 1)]
    )  # first day of the window
    a.report(R1, "ami-bill-edge-out", 31, image("bill-edge-out", "2024-08-06", billing=["bp-6fa54006"]))
    # --- error reports on both sides of the 30-day window
    a.report(R2, "ami-err-edge", 30, image("err-edge", "2024-09-02"), state="error", state_reason="Edge of the window")
    a.report(
        R2,
        "ami-err-edge-out",
        31,
        image("err-edge-out", "2024-09-03"),
        state="error",
        state_reason="Outside the window",
    )
    # --- verdicts: runs of the owner in two Regions, and of a second owner account.
    # Yesterday every AMI of us-east-1 was a candidate (it stays in the archive).
    a.verdict_run(
        R1,
        1,
        10,
        [
            verdict("ami-v-cand", "candidate", gib=100),
            verdict("ami-v-owner", "candidate", gib=200),
            verdict("ami-v-error", "candidate", gib=300),
            verdict("ami-v-keep", "candidate", gib=400),
            verdict("ami-v-gone", "candidate", gib=500),
            verdict("ami-v-flip", "candidate", gib=600),
            verdict("ami-v-small", "candidate", gib=8, days_unused=35),
        ],
    )
    # Today's first run: the owner check found use, a report ended in error, a tag was set,
    # one AMI was deregistered (no longer selected: no row at all).
    first_today = [
        verdict("ami-v-cand", "candidate", gib=100, not_checked=["member:444444444444"]),
        verdict(
            "ami-v-owner",
            "in_use",
            ["used_in_owner_account"],
            gib=200,
            owner_references=["arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"],
        ),
        verdict("ami-v-error", "unknown", ["report_error"], gib=300),
        verdict("ami-v-keep", "excluded", ["excluded_by_tag"], gib=400),
        verdict("ami-v-flip", "candidate", gib=600),
        verdict("ami-v-small", "candidate", gib=8, days_unused=35, deregistration_protection="enabled"),
    ]
    a.verdict_run(R1, 0, 0, first_today)
    # A later run today: a consumer started using ami-v-flip.
    a.verdict_run(
        R1,
        0,
        0,
        [
            r if r["image_id"] != "ami-v-flip" else verdict("ami-v-flip", "in_use", ["used_in_other_accounts"], gib=600)
            for r in first_today
        ],
        minute=35,
    )
    # eu-west-1 collects too (by a binary from before issue 11: no new keys); its latest
    # object is yesterday's, which must still count (collect writes at least once a day).
    a.verdict_run(
        R2,
        2,
        23,
        [
            verdict("ami-v-eu", "candidate", gib=30, new_columns=False),
            verdict("ami-v-eu-used", "candidate", gib=900, new_columns=False),
        ],
    )
    a.verdict_run(
        R2,
        1,
        9,
        [
            verdict("ami-v-eu", "candidate", gib=30, days_unused=41, new_columns=False),
            verdict("ami-v-eu-used", "in_use", ["used_in_other_accounts"], gib=900, new_columns=False),
        ],
    )
    # Another owner account in us-east-1 (organisation tables) whose collect stopped three
    # days ago: outside the window, its last candidates are no current verdict.
    a.verdict_run(R1, 3, 12, [verdict("ami-v-stale", "candidate", gib=1000)], owner=OWNER2)
    # A third account whose latest object is on the first day of the window (2 days ago).
    a.verdict_run(R1, 2, 0, [verdict("ami-v-edge", "candidate", gib=20)], owner=OWNER3, minute=0)
    # The second account's eu-west-1 run today is later than the first account's there:
    # the latest object is per account and Region, not per Region.
    a.verdict_run(R2, 0, 0, [verdict("ami-v-org", "candidate", gib=30, days_unused=50)], owner=OWNER2, minute=50)
    return a


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    data = build()
    root = tmp_path_factory.mktemp("archive") / "ami-usage"
    data.write(root)
    (root / "state").mkdir()
    (root / "state" / "collector.json").write_text("{}")  # not a table: must be ignored
    # Raw objects only (nothing compacted): the views read them as a stack whose
    # RawQueryHours covers the whole history does.
    return data, open_archive(root, raw_query_hours=RAW_ONLY)


RAW_ONLY = 87_600


def q(con, name):
    return run_query(con, (QUERIES / f"{name}.sql").read_text())


def since(days: int) -> str:
    return (TODAY - dt.timedelta(days=days)).isoformat()


def latest_per(rows, key):
    best = {}
    for r in rows:
        k = key(r)
        if k not in best or (r["_created"], r["report_id"]) > (best[k]["_created"], best[k]["report_id"]):
            best[k] = r
    return best


# --------------------------------------------------------------------------- plumbing


def test_synthetic_rows_follow_the_glue_schema(archive):
    data, _ = archive
    cols = glue_columns(ROOT / "template.yaml")
    assert check_rows(cols["reports"], data.public_reports()) == []
    assert check_rows(cols["entries"], data.entries) == []
    current = [r for r in data.public_verdicts() if "checked" in r]
    older = [r for r in data.public_verdicts() if "checked" not in r]
    assert current and older
    assert check_rows(cols["verdicts"], current) == []
    before = {c: t for c, t in cols["verdicts"].items() if c not in NEW_VERDICT_COLUMNS}
    assert check_rows(before, older) == []


def test_views_have_the_glue_column_types(archive):
    data, con = archive
    cols = glue_columns(ROOT / "template.yaml")
    for table in ("entries", "reports", "verdicts"):
        described = {name: typ for name, typ, *_ in con.execute(f'DESCRIBE "{table}"').fetchall()}
        canonical = lambda t: con.execute(f"select typeof(cast(null as {t}))").fetchone()[0]  # noqa: E731
        expected = {c: canonical(duckdb_type(t)) for c, t in cols[table].items()}
        expected.update(region="VARCHAR", report_date="VARCHAR")
        assert described == expected
    assert con.execute("select count(*) from reports").fetchone()[0] == len(data.reports)
    assert con.execute("select count(*) from entries").fetchone()[0] == len(data.entries)
    assert con.execute("select count(*) from verdicts").fetchone()[0] == len(data.verdicts)
    # region/report_date come from the path; timestamps are parsed, not strings.
    row = con.execute(
        "select region, report_date, report_creation_time from reports where image_id = 'ami-unused-eu'"
    ).fetchone()
    assert row[0] == R2 and row[1] == since(2)
    assert isinstance(row[2], dt.datetime) and row[2].microsecond == 123000
    # A verdict row written before the issue-11 columns reads them as NULL (JSON SerDe too).
    row = con.execute(
        "select region, report_date, evaluated_at, not_checked, deregistration_protection, reasons"
        " from verdicts where image_id = 'ami-v-eu' order by evaluated_at desc limit 1"
    ).fetchone()
    assert row == (
        R2,
        since(1),
        dt.datetime.combine(TODAY - dt.timedelta(days=1), dt.time(9, 5, 7, 456000)),
        None,
        None,
        CANDIDATE,
    )


def test_empty_archive_gives_empty_typed_views(tmp_path):
    con = open_archive(tmp_path, raw_query_hours=RAW_ONLY)
    for name in (
        "unused_amis",
        "zero_usage_in_reports",
        "usage_by_account",
        "family_adoption",
        "report_problems",
        "billing_products",
    ):
        assert q(con, name) == []


def test_rewrite_rule():
    assert (
        rewrite_for_duckdb("coalesce(element_at(image.tags, 'Family'), x)")
        == "coalesce(map_extract_value(image.tags, 'Family'), x)"
    )
    assert rewrite_for_duckdb("ELEMENT_AT (m, 'k')") == "map_extract_value(m, 'k')"
    assert rewrite_for_duckdb("select my_element_at(1)") == "select my_element_at(1)"
    assert rewrite_for_duckdb("cardinality(image.product_codes) > 0") == "len(image.product_codes) > 0"
    sql = (QUERIES / "billing_products.sql").read_text()
    assert rewrite_for_duckdb(sql).count("len(") == sql.count("cardinality(") == 4


# --------------------------------------------------------------------------- unused_amis

VERDICT_COLUMNS = (
    "owner_account_id",
    "region",
    "image_id",
    "name",
    "evaluated_at",
    "age_days",
    "unused_since",
    "days_unused",
    "reports_in_window",
    "zero_usage_reports",
    "snapshot_size_gib_total",
    "estimated_snapshot_usd_month",
    "has_billing_codes",
    "deregistration_protection",
    "not_checked",
    "reasons",
)
TIMESTAMPS = ("evaluated_at", "unused_since")


def expected_candidates(data):
    """The candidates of the latest verdicts object of each owner account and Region that
    wrote one in the last 2 days (report_date, UTC), as the product decided them."""
    recent = [r for r in data.verdicts if r["_run"].date().isoformat() >= since(2)]
    latest = {}
    for r in recent:
        key = (r["owner_account_id"], r["region"])
        latest[key] = max(latest.get(key, r["_run"]), r["_run"])
    out = []
    for r in recent:
        if r["_run"] != latest[(r["owner_account_id"], r["region"])] or r["verdict"] != "candidate":
            continue
        row = {c: r.get(c) for c in VERDICT_COLUMNS}
        for c in TIMESTAMPS:
            row[c] = row[c] and dt.datetime.fromisoformat(row[c][:-1])
        out.append(row)
    out.sort(key=lambda r: (r["owner_account_id"], r["region"], r["image_id"]))
    out.sort(key=lambda r: (-r["estimated_snapshot_usd_month"], -r["days_unused"]))
    return out


def test_unused_amis_are_the_latest_candidate_verdicts(archive):
    data, con = archive
    got = q(con, "unused_amis")
    assert got == expected_candidates(data)
    assert [(r["owner_account_id"], r["region"], r["image_id"]) for r in got] == [
        (OWNER, R1, "ami-v-cand"),  # 5.00 USD
        (OWNER2, R2, "ami-v-org"),  # 1.50 USD, 50 days unused
        (OWNER, R2, "ami-v-eu"),  # 1.50 USD, 41 days unused (yesterday's object is its latest)
        (OWNER3, R1, "ami-v-edge"),  # 1.00 USD, its object of 2 days ago at 00:00
        (OWNER, R1, "ami-v-small"),  # 0.40 USD
    ]
    # Candidates in an older run, now in_use (owner account, or a consumer in a later run
    # the same day), unknown (report in error), excluded (tag), or no longer selected
    # (deregistered); a candidate of an account whose last object is 3 days old.
    listed = {r["image_id"] for r in got}
    assert not listed & {
        "ami-v-owner",
        "ami-v-flip",
        "ami-v-error",
        "ami-v-keep",
        "ami-v-gone",
        "ami-v-eu-used",
        "ami-v-stale",
    }
    cand = got[0]
    assert cand["evaluated_at"] == dt.datetime.combine(TODAY, dt.time(0, 35, 7, 456000))
    assert cand["not_checked"] == ["member:444444444444"] and cand["reasons"] == CANDIDATE
    assert cand["deregistration_protection"] == "disabled"
    assert got[4]["deregistration_protection"] == "enabled"
    eu = got[2]  # written before the issue-11 columns: NULL, not an error
    assert eu["not_checked"] is None and eu["deregistration_protection"] is None
    assert eu["days_unused"] == 41 and eu["snapshot_size_gib_total"] == 30


# --------------------------------------------------------------------------- zero_usage_in_reports


def expected_zero_usage(data):
    window = [r for r in data.reports if r["state"] == "available" and r["_date"] >= since(30)]
    groups = defaultdict(list)
    for r in window:
        groups[(r["region"], r["image_id"])].append(r)
    out = []
    for (region, image_id), reps in groups.items():
        latest = max(reps, key=lambda r: (r["_created"], r["report_id"]))
        if max(r["total_usage"] for r in reps) != 0 or latest["image"] is None:
            continue
        created = dt.date.fromisoformat(latest["image"]["creation_date"][:10])
        size = latest["image"]["snapshot_size_gib_total"]
        out.append(
            {
                "region": region,
                "image_id": image_id,
                "image_name": latest["image"]["name"],
                "age_days": (TODAY - created).days,
                "snapshot_size_gib": size,
                "snapshot_usd_per_month": round(size * 0.05, 2),
                "report_count": len(reps),
                "first_report_date": min(r["_date"] for r in reps),
                "last_report_date": max(r["_date"] for r in reps),
            }
        )
    out.sort(key=lambda r: (-r["snapshot_size_gib"], -r["age_days"], r["region"], r["image_id"]))
    return out


def test_zero_usage_in_reports(archive):
    data, con = archive
    got = q(con, "zero_usage_in_reports")
    for row in got:
        row["snapshot_usd_per_month"] = float(row["snapshot_usd_per_month"])
    assert got == expected_zero_usage(data)
    assert [r["image_id"] for r in got] == [
        "ami-unused-old",
        "ami-edge",
        "ami-unused-eu",
        "ami-unused-errmix",
        "ami-market",
        "ami-code-only",
    ]  # 8 GiB each; the older one first
    old = got[0]
    assert (old["report_count"], old["first_report_date"], old["last_report_date"]) == (3, since(20), since(1))
    assert old["snapshot_size_gib"] == 108 and old["snapshot_usd_per_month"] == 5.4
    assert old["age_days"] == (TODAY - dt.date(2023, 1, 1)).days
    assert got[3]["report_count"] == 1  # its error report does not count
    ids = {r["image_id"] for r in got}
    # used in the window / only errors / deregistered / outside the window
    assert not ids & {"ami-busy", "ami-error-only", "ami-gone", "ami-stale", "ami-edge-out", "ami-app1", "ami-win"}


# --------------------------------------------------------------------------- usage_by_account


def expected_usage_by_account(data):
    window = [r for r in data.reports if r["state"] == "available" and r["_date"] >= since(90)]
    latest = latest_per(window, lambda r: (r["region"], r["image_id"], r["_date"]))
    chosen = {r["report_id"]: r for r in latest.values()}
    sums = defaultdict(lambda: [0, 0])
    for e in data.entries:
        rep = chosen.get(e["report_id"])
        if rep is None:
            continue
        key = (
            rep["_date"],
            rep["region"],
            rep["image_id"],
            rep["image"]["name"] if rep["image"] else None,
            e["account_id"],
        )
        sums[key][0 if e["resource_type"] == INST else 1] += e["usage_count"]
    rows = [
        {
            "report_date": k[0],
            "region": k[1],
            "image_id": k[2],
            "image_name": k[3],
            "account_id": k[4],
            "instance_usage": v[0],
            "launch_template_usage": v[1],
            "total_usage": v[0] + v[1],
        }
        for k, v in sums.items()
    ]
    rows.sort(key=lambda r: (r["region"], r["image_id"], r["account_id"], r["report_date"]))
    return rows


def test_usage_by_account(archive):
    data, con = archive
    got = q(con, "usage_by_account")
    assert got == expected_usage_by_account(data)
    app1 = [
        (r["report_date"], r["account_id"], r["instance_usage"], r["launch_template_usage"])
        for r in got
        if r["image_id"] == "ami-app1"
    ]
    assert app1 == [
        (since(3), A, 6, 1),
        (since(2), A, 4, 0),  # 4, not the superseded 100
        (since(3), B, 3, 0),
        (since(2), B, 2, 0),
        (since(1), B, 2, 0),
    ]  # account C (91 days ago) is outside the window
    app2_c = [
        (r["report_date"], r["launch_template_usage"])
        for r in got
        if r["image_id"] == "ami-app2" and r["account_id"] == C
    ]
    assert app2_c == [(since(90), 2)]
    app0 = [r for r in got if r["image_id"] == "ami-app0"]
    assert [(r["report_date"], r["image_name"], r["total_usage"]) for r in app0] == [
        (since(10), "app-2024.12.01", 2),
        (since(1), None, 1),
    ]


# --------------------------------------------------------------------------- family_adoption


def family_of(img) -> str:
    return img["tags"].get("Family") or re.sub(r"[-_. ]*v?[0-9][-0-9._:TZ]*$", "", img["name"])


def expected_family_adoption(data):
    # Name and tags: the latest description of the window (its every read is bounded).
    in_window = [r for r in data.reports if r["_date"] >= since(90)]
    described = latest_per([r for r in in_window if r["image"] is not None], lambda r: (r["region"], r["image_id"]))
    window = [r for r in in_window if r["state"] == "available"]
    daily = latest_per(window, lambda r: (r["region"], r["image_id"], r["_date"])).values()
    rows = []
    for r in daily:
        if (r["region"], r["image_id"]) not in described:
            continue
        img = described[(r["region"], r["image_id"])]["image"]
        rows.append(
            {
                "report_date": r["_date"],
                "region": r["region"],
                "family": family_of(img),
                "image_id": r["image_id"],
                "image_name": img["name"],
                "image_creation_date": dt.datetime.fromisoformat(img["creation_date"][:-1]),
                "total_usage": r["total_usage"],
                "account_count": r["account_count"],
            }
        )
    by_family = defaultdict(list)
    for row in rows:
        by_family[(row["region"], row["family"])].append(row)
    for members in by_family.values():
        order = sorted({(m["image_creation_date"], m["image_id"]) for m in members})
        for m in members:
            m["generation"] = order.index((m["image_creation_date"], m["image_id"])) + 1
        day_totals = defaultdict(int)
        for m in members:
            day_totals[m["report_date"]] += m["total_usage"]
        for m in members:
            total = day_totals[m["report_date"]]
            m["family_usage"] = total
            m["usage_share"] = round(m["total_usage"] / total, 4) if total else None
    rows.sort(key=lambda r: (r["region"], r["family"], r["report_date"], r["generation"]))
    keys = [
        "report_date",
        "region",
        "family",
        "image_id",
        "image_name",
        "image_creation_date",
        "generation",
        "total_usage",
        "account_count",
        "family_usage",
        "usage_share",
    ]
    return [{k: r[k] for k in keys} for r in rows]


def test_family_adoption(archive):
    data, con = archive
    got = q(con, "family_adoption")
    for row in got:  # DuckDB and Python may differ in the last binary digit
        if row["usage_share"] is not None:
            row["usage_share"] = round(row["usage_share"], 4)
    assert got == expected_family_adoption(data)
    app = [
        (r["report_date"], r["image_id"], r["generation"], r["total_usage"], r["usage_share"])
        for r in got
        if (r["region"], r["family"]) == (R1, "app")
    ]
    assert app == [
        (since(90), "ami-app2", 3, 2, 1.0),
        (since(10), "ami-app0", 1, 2, 1.0),
        (since(3), "ami-app1", 2, 10, 1.0),
        (since(3), "ami-app2", 3, 0, 0.0),
        (since(2), "ami-app1", 2, 6, 0.6),  # the 12:05 report, not the 06:05 one
        (since(2), "ami-app2", 3, 4, 0.4),
        (since(1), "ami-app0", 1, 1, round(1 / 11, 4)),  # deregistered, family kept
        (since(1), "ami-app1", 2, 2, round(2 / 11, 4)),
        (since(1), "ami-app2", 3, 8, round(8 / 11, 4)),
    ]
    assert "ami-app-old" not in {r["image_id"] for r in got}  # described before the window only
    web = [(r["image_id"], r["image_name"], r["usage_share"]) for r in got if r["family"] == "web"]
    assert web == [("ami-web1", "nginx-custom", 0.25), ("ami-web2", "web-server-7", 0.75)]
    base = [(r["report_date"], r["family"], r["usage_share"]) for r in got if r["image_id"] == "ami-unused-old"]
    assert base == [
        (since(40), "base", 1.0),
        (since(20), "base", None),  # no usage: no share
        (since(8), "base", None),
        (since(1), "base", None),
    ]


# --------------------------------------------------------------------------- report_problems


def test_report_problems(archive):
    data, con = archive
    got = q(con, "report_problems")
    errors = [r for r in data.reports if r["state"] == "error" and r["_date"] >= since(30)]
    per_image = defaultdict(int)
    for r in errors:
        per_image[(r["region"], r["image_id"])] += 1
    expected = sorted(errors, key=lambda r: r["report_id"])
    expected = sorted(expected, key=lambda r: (r["region"], r["image_id"]))
    expected = sorted(expected, key=lambda r: r["_date"], reverse=True)
    assert got == [
        {
            "report_date": r["_date"],
            "region": r["region"],
            "report_id": r["report_id"],
            "image_id": r["image_id"],
            "image_name": r["image"]["name"] if r["image"] else None,
            "state_reason": r["state_reason"],
            "report_creation_time": r["_created"],
            "collected_at": dt.datetime.fromisoformat(r["collected_at"][:-1]),
            "errors_for_image": per_image[(r["region"], r["image_id"])],
        }
        for r in expected
    ]
    assert [(r["image_id"], r["errors_for_image"], r["state_reason"]) for r in got] == [
        ("ami-app3", 1, "Internal error"),
        ("ami-error-only", 2, "Report timed out"),
        ("ami-unused-errmix", 1, "Internal error"),
        ("ami-error-only", 2, "Report timed out"),
        ("ami-err-edge", 1, "Edge of the window"),
    ]


# --------------------------------------------------------------------------- billing_products


def test_billing_products(archive):
    data, con = archive
    got = q(con, "billing_products")
    latest = latest_per([r for r in data.reports if r["_date"] >= since(30)], lambda r: (r["region"], r["image_id"]))
    expected = []
    for r in sorted(latest.values(), key=lambda r: (r["region"], r["image_id"])):
        img = r["image"]
        if img is None or not (img["billing_products"] or img["product_codes"]):
            continue
        expected.append(
            {
                "region": r["region"],
                "image_id": r["image_id"],
                "image_name": img["name"],
                "platform_details": img["platform_details"],
                "usage_operation": img["usage_operation"],
                "billing_products": img["billing_products"],
                "product_codes": img["product_codes"],
                "billing_product_count": len(img["billing_products"]),
                "product_code_count": len(img["product_codes"]),
                "latest_report_date": r["_date"],
                "latest_report_state": r["state"],
                "latest_total_usage": r["total_usage"],
            }
        )
    assert got == expected
    assert [(r["region"], r["image_id"]) for r in got] == [
        (R2, "ami-code-only"),
        (R1, "ami-bill-edge"),
        (R1, "ami-market"),
    ]
    market = got[2]
    assert market["billing_products"] == ["bp-6fa54006"]
    assert market["product_codes"] == [{"product_code_id": "abc123xyz", "product_code_type": "marketplace"}]
