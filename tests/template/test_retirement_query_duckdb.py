"""queries/retirement_actions.sql with DuckDB on a synthetic `actions` dataset: this
month's rows only (report_date from the first of the month, UTC), every column of the
header, newest first, and each AMI's count of rows this month."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

from support.duckdb_archive import open_archive, run_query
from support.glue_schema import check_rows, glue_columns

ROOT = Path(__file__).resolve().parents[2]
OWNER = "123456789012"
TODAY = dt.datetime.now(dt.UTC).date()
FIRST = TODAY.replace(day=1)
LAST_MONTH = FIRST - dt.timedelta(days=1)
UNDO = {
    "deprecate": "aws ec2 disable-image-deprecation --image-id {} --region {}",
    "disable": "aws ec2 enable-image --image-id {} --region {}",
    "deregister": "aws ec2 restore-image-from-recycle-bin --image-id {} --region {}",
}


def ts(day: dt.date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00.000Z"


def row(day, hour, region, image_id, action, outcome="done", mode="enforce", reason="candidate_for_days"):
    undo = UNDO.get(action)
    return {
        "action_time": ts(day, hour),
        "owner_account_id": OWNER,
        "region": region,
        "image_id": image_id,
        "image_name": f"{image_id}-name",
        "mode": mode,
        "action": action,
        "outcome": outcome,
        "stage_before": "candidate",
        "stage_after": {"deprecate": "deprecated", "disable": "disabled", "deregister": "deregistered"}.get(action),
        "reason": reason,
        "detail": "unused_for_window",
        "deprecate_at": ts(day + dt.timedelta(days=14), hour) if action == "deprecate" else None,
        "recycle_bin_rule": "a1b2c3d4e5f" if action == "deregister" else None,
        "delete_snapshots": False,
        "undo_command": undo.format(image_id, region) if undo and outcome == "done" else None,
        "team_deprecation_at": None,
        "launch_permissions": (
            {"accounts": ["111111111111"], "organizations": [], "organizational_units": [], "public": False}
            if action == "disable"
            else None
        ),
        "recycle_bin_retention_days": 90 if action == "deregister" else None,
        "restorable_until": ts(day + dt.timedelta(days=90), hour) if action == "deregister" else None,
        "snapshot_results": [{"snapshot_id": "snap-1", "return_code": "success"}] if action == "deregister" else [],
    }


def build() -> list[dict]:
    rows = [
        row(LAST_MONTH, 9, "us-east-1", "ami-old", "deprecate"),  # last month: left out
        row(FIRST, 8, "us-east-1", "ami-a", "deprecate"),
        row(FIRST, 8, "eu-west-1", "ami-b", "deprecate", outcome="would", mode="dry-run"),
        row(TODAY, 10, "us-east-1", "ami-a", "cancel_deprecation", reason="used_again"),
        row(TODAY, 10, "us-east-1", "ami-c", "hold", outcome="held", reason="deregistration_protected"),
        row(TODAY, 11, "us-east-1", "ami-d", "deregister"),
    ]
    return rows


def write(root: Path, rows: list[dict]) -> None:
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        key = (r["region"], r["action_time"][:10], r["action_time"][11:13])
        groups.setdefault(key, []).append(r)
    for (region, day, hour), items in groups.items():
        folder = root / "actions" / f"region={region}" / f"report_date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = day.replace("-", "") + f"T{hour}0000Z"
        lines = "".join(json.dumps(r) + "\n" for r in items)
        (folder / f"{stamp}-0123abcd.json.gz").write_bytes(gzip.compress(lines.encode()))


def test_rows_follow_the_glue_schema():
    assert check_rows(glue_columns(ROOT / "template.yaml")["actions"], build()) == []


def test_retirement_actions_lists_this_month_newest_first(tmp_path):
    rows = build()
    write(tmp_path, rows)
    got = run_query(open_archive(tmp_path), (ROOT / "queries" / "retirement_actions.sql").read_text())
    month = [r for r in rows if r["action_time"][:10] >= FIRST.isoformat()]
    per_image: dict[tuple[str, str], int] = {}
    for r in month:
        per_image[(r["region"], r["image_id"])] = per_image.get((r["region"], r["image_id"]), 0) + 1
    expected = sorted(month, key=lambda r: (r["region"], r["image_id"], r["action"]))
    expected = sorted(expected, key=lambda r: r["action_time"], reverse=True)
    assert [(g["image_id"], g["action"]) for g in got] == [(r["image_id"], r["action"]) for r in expected]
    for g, r in zip(got, expected, strict=True):
        assert g["action_time"] == dt.datetime.fromisoformat(r["action_time"][:-1])
        for column in ("region", "owner_account_id", "image_name", "mode", "outcome", "stage_before"):
            assert g[column] == r[column], column
        for column in ("stage_after", "reason", "detail", "recycle_bin_rule", "undo_command"):
            assert g[column] == r[column], column
        assert g["actions_for_image"] == per_image[(r["region"], r["image_id"])]
    assert "ami-old" not in {g["image_id"] for g in got}
    a = [g for g in got if g["image_id"] == "ami-a"]
    assert [g["action"] for g in a] == ["cancel_deprecation", "deprecate"] and a[0]["actions_for_image"] == 2
    assert {g["undo_command"] for g in got if g["image_id"] == "ami-d"} == {
        "aws ec2 restore-image-from-recycle-bin --image-id ami-d --region us-east-1"
    }


def test_empty_actions_dataset_gives_no_rows(tmp_path):
    assert run_query(open_archive(tmp_path), (ROOT / "queries" / "retirement_actions.sql").read_text()) == []
