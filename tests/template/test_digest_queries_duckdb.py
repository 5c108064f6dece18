"""queries/weekly_digests.sql and queries/ri_under_threshold.sql with DuckDB on a
synthetic archive of digests and ri_utilization rows (the contract's schema, checked
against the Glue tables), relative to today (UTC) because the queries use current_date.
Expected rows are computed in Python from the generated data with the semantics each
query's header documents, plus spot checks of the edges (window, threshold, 30 days)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest
from support.duckdb_archive import open_archive, run_query
from support.glue_schema import check_rows, glue_columns

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "queries"
TODAY = dt.datetime.now(dt.UTC).date()
OWNER, OWNER2 = "123456789012", "210987654321"
R1, R2 = "us-east-1", "eu-west-1"
DIGEST_KEYS = (
    "candidates_new",
    "candidates_standing",
    "snapshot_cost_usd_upper_bound",
    "used_again",
    "versions_still_used",
    "report_problems",
    "reservations",
    "reservations_under_threshold",
    "reservations_ending_soon",
    "reservations_status",
)


def ts(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def digest(region: str, days_ago: int, n: int, *, owner: str = OWNER, status: str = "ok") -> dict:
    day = TODAY - dt.timedelta(days=days_ago)
    run = dt.datetime.combine(day, dt.time(8, 0, 1, 250000))
    return {
        "schema_version": 1,
        "digest_date": day.isoformat(),
        "week_start": ts(run - dt.timedelta(days=7)),
        "week_end": ts(run),
        "owner_account_id": owner,
        "region": region,
        "generated_at": ts(run + dt.timedelta(seconds=3)),
        "verdicts_evaluated_at": ts(run - dt.timedelta(hours=1)),
        "candidates_new": n,
        "candidates_standing": n + 2,
        "used_again": n % 2,
        "report_problems": 1,
        "snapshot_cost_usd_upper_bound": round((n + 2) * 0.4, 2),
        "versions_still_used": 3,
        "reservations": 2 if status == "ok" else 0,
        "reservations_under_threshold": 1 if status == "ok" else 0,
        "reservations_ending_soon": 1 if status == "ok" else 0,
        "reservations_status": status,
        "candidates": [
            {
                "image_id": f"ami-{n:017x}",
                "name": "old-base",
                "new_this_week": True,
                "days_unused": 45,
                "snapshot_size_gib": 8,
                "snapshot_usd_month": 0.4,
                "group_value": "base",
                "has_billing_codes": False,
                "team": "payments",
            }
        ],
        "used_again_amis": [
            {"image_id": "ami-0a", "name": "back", "latest_total_usage": 3, "reasons": ["in_use"], "team": None}
        ],
        "families": [
            {
                "group_value": "base",
                "image_id": "ami-0b",
                "name": "base-1",
                "image_creation_date": "2025-01-02T03:04:05.000Z",
                "newest_image_id": "ami-0c",
                "accounts": 2,
                "total_usage": 5,
                "team": "payments",
            }
        ],
        "problems": [
            {
                "report_id": "amiur-0d",
                "image_id": "ami-0d",
                "name": None,
                "report_creation_time": ts(run - dt.timedelta(days=2)),
                "state_reason": "Internal error",
                "team": None,
            }
        ],
    }


def ri(
    region: str, days_ago: int, sub: str, pct: float, *, period: str = "last_7_days", ends_in_days: int = 300
) -> dict:
    day = TODAY - dt.timedelta(days=days_ago)
    purchased = 336.0
    return {
        "schema_version": 1,
        "digest_date": day.isoformat(),
        "period": period,
        "period_start": (day - dt.timedelta(days=7)).isoformat(),
        "period_end": day.isoformat(),
        "subscription_id": sub,
        "account_id": "111111111111",
        "account_name": "payments-prod",
        "instance_type": "m5.large",
        "reservation_region": "eu-west-1",
        "platform": "Linux/UNIX",
        "number_of_instances": 2,
        "end_date_time": ts(dt.datetime.combine(day, dt.time(0)) + dt.timedelta(days=ends_in_days)),
        "utilization_percentage": pct,
        "purchased_hours": purchased,
        "total_actual_hours": purchased * pct / 100,
        "unused_hours": purchased * (100 - pct) / 100,
        "net_ri_savings": round(purchased * pct / 100 * 0.1 - purchased * 0.06, 4),
        "owner_account_id": OWNER,
        "region": region,
    }


def write(root: Path, table: str, name: str, rows: list[dict]) -> None:
    by_partition: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        by_partition.setdefault((r["region"], r["digest_date"]), []).append(r)
    for (region, day), part in by_partition.items():
        folder = root / table / f"region={region}" / f"report_date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        with gzip.open(folder / name, "wt") as out:
            out.write("".join(json.dumps(r) + "\n" for r in part))


DIGESTS = [
    digest(R1, 1, 4),
    digest(R1, 8, 3),
    digest(
        R2, 8, 1, owner=OWNER2, status="no_access: AccessDeniedException: User not enabled for cost explorer access"
    ),
    digest(R1, 90, 2),  # the window's first day: still in
    digest(R1, 91, 9),  # one day older: out
]
RI_ROWS = [
    ri(R1, 1, "sub-low", 10.0, ends_in_days=20),
    ri(R1, 1, "sub-mid", 79.99),
    ri(R1, 1, "sub-ok", 80.0),  # at the threshold: not under it
    ri(R1, 1, "sub-low", 40.0, period="month_to_date"),  # month to date: not this query's period
    ri(R1, 1, "sub-edge", 50.0, ends_in_days=30),  # ends exactly 30 days on: not within
    ri(R2, 8, "sub-eu", 0.0, ends_in_days=29),
    ri(R1, 35, "sub-old-in", 5.0),
    ri(R1, 36, "sub-old-out", 5.0),
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    root = tmp_path_factory.mktemp("archive")
    write(root, "digests", "digest.json.gz", DIGESTS)
    write(root, "ri_utilization", "ri_utilization.json.gz", RI_ROWS)
    return open_archive(root)


def q(con, name: str) -> list[dict]:
    return run_query(con, (QUERIES / f"{name}.sql").read_text())


def test_synthetic_rows_follow_the_glue_schema():
    cols = glue_columns(ROOT / "template.yaml")
    assert check_rows(cols["digests"], DIGESTS) == []
    assert check_rows(cols["ri_utilization"], RI_ROWS) == []


def test_weekly_digests_lists_each_digest_of_the_window_newest_first(con):
    got = q(con, "weekly_digests")
    window = [d for d in DIGESTS if d["digest_date"] >= (TODAY - dt.timedelta(days=90)).isoformat()]
    window.sort(key=lambda d: (d["owner_account_id"], d["region"]))
    window.sort(key=lambda d: d["digest_date"], reverse=True)
    assert got == [
        {
            "report_date": d["digest_date"],
            "region": d["region"],
            "owner_account_id": d["owner_account_id"],
            "week_start": dt.datetime.fromisoformat(d["week_start"][:-1]),
            "week_end": dt.datetime.fromisoformat(d["week_end"][:-1]),
            **{k: d[k] for k in DIGEST_KEYS},
        }
        for d in window
    ]
    assert [r["candidates_new"] for r in got] == [4, 3, 1, 2]  # 91 days ago is out
    assert got[2]["reservations_status"].startswith("no_access: ")


def test_digest_lists_read_as_arrays_of_structs(con):
    (row,) = con.execute(
        "select candidates[1].snapshot_usd_month, families[1].accounts, problems[1].report_creation_time,"
        " used_again_amis[1].reasons from digests where report_date = ?",
        [(TODAY - dt.timedelta(days=1)).isoformat()],
    ).fetchall()
    day = TODAY - dt.timedelta(days=1)
    assert row == (0.4, 2, dt.datetime.combine(day - dt.timedelta(days=2), dt.time(8, 0, 1, 250000)), ["in_use"])


def test_ri_under_threshold_lists_the_last_7_days_under_80_percent_lowest_first(con):
    got = q(con, "ri_under_threshold")
    start = (TODAY - dt.timedelta(days=35)).isoformat()
    chosen = [
        r
        for r in RI_ROWS
        if r["period"] == "last_7_days" and r["utilization_percentage"] < 80 and r["digest_date"] >= start
    ]
    chosen.sort(key=lambda r: (r["region"], r["utilization_percentage"], r["subscription_id"]))
    chosen.sort(key=lambda r: r["digest_date"], reverse=True)

    def ending(r: dict) -> bool:
        end = dt.datetime.fromisoformat(r["end_date_time"][:-1])
        return end < dt.datetime.fromisoformat(r["digest_date"]) + dt.timedelta(days=30)

    assert got == [
        {
            "report_date": r["digest_date"],
            "region": r["region"],
            "owner_account_id": r["owner_account_id"],
            "subscription_id": r["subscription_id"],
            "account_id": r["account_id"],
            "account_name": r["account_name"],
            "instance_type": r["instance_type"],
            "reservation_region": r["reservation_region"],
            "platform": r["platform"],
            "number_of_instances": r["number_of_instances"],
            "utilization_percentage": r["utilization_percentage"],
            "purchased_hours": r["purchased_hours"],
            "unused_hours": r["unused_hours"],
            "net_ri_savings": r["net_ri_savings"],
            "end_date_time": dt.datetime.fromisoformat(r["end_date_time"][:-1]),
            "ending_within_30_days": ending(r),
        }
        for r in chosen
    ]
    assert [(r["subscription_id"], r["ending_within_30_days"]) for r in got] == [
        ("sub-low", True),
        ("sub-edge", False),
        ("sub-mid", False),
        ("sub-eu", True),
        ("sub-old-in", False),
    ]


def test_empty_archive_gives_no_rows(tmp_path):
    con = open_archive(tmp_path)
    assert q(con, "weekly_digests") == [] and q(con, "ri_under_threshold") == []
