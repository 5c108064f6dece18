"""The weekly digest end to end: 21 emulated days of create + collect with two teams' AMI
families (ROUTE_TAG=Team, GROUP_TAG=Family), the digest every Monday, a few Reserved
Instances in the emulator's Cost Explorer. Proves: three weekly digests are archived and
published; each team's SQS queue (filter policy on `team`) receives only its team's news
(collect's alerts and its weekly digest; every message reaches exactly its team's queue);
the digest's numbers equal a DuckDB query over the downloaded archive; the RI figures
equal what the emulator was seeded with; Cost Explorer is called within the budget; a
re-run the same day publishes nothing; and without Cost Explorer access the digest still
succeeds with a "no access" line."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
from archive import drain
from digest_world import (
    CE_PAGE_SIZE,
    MEMBER,
    TEAMS,
    World,
    build,
    change_fleet,
    error_images,
    expected_ri,
    periods,
    seed_reservations,
)
from fleet import PAST_REPORT_LAGS, archive_and_alerting
from harness import OWNER, REGION, ROOT, base_env, run_binary
from support.duckdb_archive import open_archive, run_query
from support.glue_schema import check_rows, glue_columns

PREFIX = "ami-usage"
DAY = 86400
DAYS = 21
READY_AFTER = 600
PRICE = 0.05
CE_CALL_CAP = 10


def clock(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def digest_env(emu, w: World, **extra: str) -> dict:
    return base_env(
        emu,
        ARCHIVE_BUCKET=w.bucket,
        ARCHIVE_PREFIX=PREFIX,
        ALERT_TOPIC_ARN=w.topic_arn,
        AMI_TAG_FILTERS="Golden=true",
        GROUP_TAG="Family",
        ROUTE_TAG="Team",
        UNUSED_MIN_DAYS="3",
        MIN_REPORTS="2",
        MIN_AGE_DAYS="0",
        SNAPSHOT_GB_MONTH_USD=str(PRICE),
        DIGEST_RESERVATIONS="on",
        **extra,
    )


def ce_calls(emu) -> int:
    counters = emu.control("reservations")["counters"]
    return counters.get("GetReservationUtilization", {}).get("calls", 0)


def drive(emu, w: World, env: dict) -> list[dict]:
    """21 days from a Tuesday, until the third Monday; after each Monday's collect, the
    digest. Returns the digest runs; the clock stays on the third Monday. The story's
    days (the first candidates by day 6, the report problem on days 9-10, the AMI used
    again on day 15) fall in the first, second and third digest's weeks whatever the
    weekday the test starts on: the clock first moves on to the next Tuesday. pay0's
    launch template is older than EC2's 7-day report lag by then (day 0)."""
    change_fleet(w, 0)
    emu.advance(PAST_REPORT_LAGS)
    emu.advance((1 - clock(emu.now()).weekday()) % 7 * DAY)
    start = clock(emu.now())
    first_monday = start.date() + dt.timedelta(days=6)
    seed_reservations(w, first_monday)
    emu.control("config", {"report_ready_after_seconds": READY_AFTER})
    digests = []
    for day in range(1, DAYS + 1):
        change_fleet(w, day)
        emu.control("config", {"error_images": error_images(w, day)})
        created = run_binary(emu, ["create", "--now", emu.now()], env)
        assert created.code == 0, created.stderr
        emu.advance(READY_AFTER + 60)
        collected = run_binary(emu, ["collect", "--now", emu.now()], env)
        assert collected.code == 0, (day, collected.stderr)
        now = clock(emu.now())
        if now.weekday() == 0:
            calls_before, log_before = ce_calls(emu), len(emu.control("sns/published")["messages"])
            run = run_binary(emu, ["digest", "--now", emu.now()], env)
            assert run.code == 0, (day, run.stderr)
            published = emu.control("sns/published")["messages"][log_before:]
            digests.append(
                {
                    "day": day,
                    "now": now,
                    "summary": run.summary,
                    "calls": ce_calls(emu) - calls_before,
                    "sent": published,
                }
            )
            if len(digests) == 3:  # the third Monday: stop on its day (the re-run below)
                return digests
        emu.advance(DAY - READY_AFTER - 60)
    return digests


def download(s3, bucket: str, dest: Path) -> dict[str, list[dict]]:
    tables: dict[str, list[dict]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{PREFIX}/"):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            path = dest / o["Key"][len(PREFIX) + 1 :]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
            if o["Key"].endswith(".json.gz"):
                rows = [json.loads(line) for line in gzip.decompress(body).decode().splitlines() if line]
                tables.setdefault(o["Key"].split("/")[1], []).extend(rows)
    return tables


# The contract's AMI figures, as an archive query: the week is (week_start, week_end];
# standing = candidates of the week's newest verdicts object; new = not a candidate in
# the baseline (newest object at or before week_start); used again = in_use in the newest
# object and a candidate in the baseline or in any object of the week.
WEEK_SQL = """
with newest as (select max(evaluated_at) as t from verdicts where evaluated_at > $ws and evaluated_at <= $we),
baseline as (select max(evaluated_at) as t from verdicts where evaluated_at <= $ws),
standing as (select * from verdicts where evaluated_at = (select t from newest) and verdict = 'candidate'),
baseline_candidates as (
    select image_id from verdicts where evaluated_at = (select t from baseline) and verdict = 'candidate'),
week_candidates as (
    select image_id from verdicts where evaluated_at > $ws and evaluated_at <= $we and verdict = 'candidate')
select
    (select count(*) from standing) as candidates_standing,
    (select count(*) from standing where image_id not in (select image_id from baseline_candidates)) as candidates_new,
    (select list(image_id order by image_id) from standing) as candidate_ids,
    (select coalesce(round(sum(snapshot_size_gib_total) * $price, 2), 0) from standing) as snapshot_cost,
    (select list(image_id order by image_id) from verdicts
      where evaluated_at = (select t from newest) and verdict = 'in_use'
        and (image_id in (select image_id from baseline_candidates)
             or image_id in (select image_id from week_candidates))) as used_again_ids,
    (select count(*) from reports
      where state = 'error' and report_creation_time > $ws and report_creation_time <= $we) as report_problems
"""

# Families: every non-newest version (by creation date, then image id) of each group of
# the newest object, with the account count of its newest available report of the week.
FAMILY_SQL = """
with newest as (select max(evaluated_at) as t from verdicts where evaluated_at > $ws and evaluated_at <= $we),
members as (select image_id, group_value, image_creation_date from verdicts
            where evaluated_at = (select t from newest) and group_value is not null),
ranked as (select *, row_number() over (partition by group_value order by image_creation_date desc, image_id desc) as r
           from members),
latest_report as (select image_id, account_count,
                         row_number() over (partition by image_id order by report_creation_time desc, report_id desc) as r
                  from reports
                  where state = 'available' and report_creation_time > $ws and report_creation_time <= $we)
select m.group_value, m.image_id, l.account_count as accounts
from ranked m left join latest_report l on l.image_id = m.image_id and l.r = 1
where m.r > 1
order by m.group_value, m.image_id
"""


def naive(text: str) -> dt.datetime:
    return clock(text).astimezone(dt.UTC).replace(tzinfo=None)


def check_numbers(con, row: dict) -> None:
    params = {"ws": naive(row["week_start"]), "we": naive(row["week_end"]), "price": PRICE}
    names = ["candidates_standing", "candidates_new", "candidate_ids", "snapshot_cost", "used_again_ids", "problems"]
    got = dict(zip(names, con.execute(WEEK_SQL, params).fetchone(), strict=True))
    assert row["candidates_standing"] == got["candidates_standing"]
    assert row["candidates_new"] == got["candidates_new"]
    assert sorted(c["image_id"] for c in row["candidates"]) == (got["candidate_ids"] or [])
    assert row["snapshot_cost_usd_upper_bound"] == pytest.approx(float(got["snapshot_cost"]))
    assert sorted(u["image_id"] for u in row["used_again_amis"]) == (got["used_again_ids"] or [])
    assert row["used_again"] == len(got["used_again_ids"] or [])
    assert row["report_problems"] == got["problems"] == len(row["problems"])
    families = con.execute(FAMILY_SQL, {k: params[k] for k in ("ws", "we")}).fetchall()
    assert sorted((f["group_value"], f["image_id"], f["accounts"]) for f in row["families"]) == families
    assert row["versions_still_used"] == sum(1 for _, _, accounts in families if accounts)


def check_reservations(w: World, digest: dict, ri_rows: list[dict]) -> None:
    now = digest["now"]
    rows = [r for r in ri_rows if r["digest_date"] == now.date().isoformat()]
    expected = {}
    for period, (start, end) in periods(now).items():
        for seed in w.reservations:
            figures = expected_ri(seed, start, end)
            if figures is not None:
                expected[(period, seed["subscription_id"])] = (start, end, figures)
    assert {(r["period"], r["subscription_id"]) for r in rows} == set(expected)
    for r in rows:
        start, end, figures = expected[(r["period"], r["subscription_id"])]
        assert (r["period_start"], r["period_end"]) == (start.isoformat(), end.isoformat())
        for key in (
            "purchased_hours",
            "total_actual_hours",
            "unused_hours",
            "utilization_percentage",
            "net_ri_savings",
        ):
            assert r[key] == pytest.approx(figures[key], rel=1e-6, abs=1e-6), (r["subscription_id"], key)
        assert (r["instance_type"], r["reservation_region"], r["account_id"]) == (
            figures["instance_type"],
            figures["reservation_region"],
            figures["account_id"],
        )
        assert r["number_of_instances"] == figures["number_of_instances"]
        assert clock(r["end_date_time"]) == figures["end_date_time"]
        assert r["account_name"] == ("payments-prod" if r["account_id"] == MEMBER else None)
    by_sub: dict[str, dict] = {}
    for (_period, sub), (_, _, f) in sorted(expected.items(), key=lambda kv: kv[0][0] != "last_7_days"):
        by_sub.setdefault(sub, f)  # the last 7 days' figures first, else the month to date's
    summary = digest["summary"]
    assert summary["reservations_status"] == "ok"
    assert summary["reservations"] == len(by_sub)
    assert summary["reservations_under_threshold"] == sum(
        1 for f in by_sub.values() if f["utilization_percentage"] < 80
    )
    soon = now + dt.timedelta(days=30)
    assert summary["reservations_ending_soon"] == sum(1 for f in by_sub.values() if now <= f["end_date_time"] <= soon)
    # The budget: both periods, every page (MaxResults unset: the emulator's page size).
    pages = sum(max(1, math.ceil(sum(1 for p, _ in expected if p == period) / CE_PAGE_SIZE)) for period in periods(now))
    assert digest["calls"] == pages <= CE_CALL_CAP


def check_named_queries(con, rows: dict[str, dict], ri_rows: list[dict]) -> None:
    """queries/weekly_digests.sql and ri_under_threshold.sql over the real archive."""
    weekly = run_query(con, (ROOT / "queries" / "weekly_digests.sql").read_text())
    assert [r["report_date"] for r in weekly] == sorted(rows, reverse=True)
    for r in weekly:
        for key in ("candidates_new", "candidates_standing", "used_again", "reservations", "reservations_status"):
            assert r[key] == rows[r["report_date"]][key]
    under = run_query(con, (ROOT / "queries" / "ri_under_threshold.sql").read_text())
    expected = {
        (r["digest_date"], r["subscription_id"])
        for r in ri_rows
        if r["period"] == "last_7_days" and r["utilization_percentage"] < 80
    }
    assert {(r["report_date"], r["subscription_id"]) for r in under} == expected
    assert {r["subscription_id"] for r in under} == {"ri-under-used"}


def ids_in(text: str, w: World) -> set[str]:
    return {image_id for image_id in w.team_of if image_id in text}


def team_of_message(m: dict) -> str:
    return m["MessageAttributes"].get("team", {}).get("StringValue", "untagged")


def is_digest(m: dict) -> bool:
    return json.loads(m["MessageAttributes"]["kind"]["StringValue"]) == ["digest"]


def check_delivery(emu, w: World) -> None:
    """Every message carries account and kind, and reached exactly the queue of its team."""
    sent = emu.control("sns/published")["messages"]
    by_team: dict[str, list[str]] = {}
    for m in sent:
        attributes = m["MessageAttributes"]
        assert attributes["account"] == {"DataType": "String", "StringValue": OWNER}
        assert attributes["kind"]["DataType"] == "String.Array" and json.loads(attributes["kind"]["StringValue"])
        by_team.setdefault(team_of_message(m), []).append(m["MessageId"])
    assert set(by_team) >= set(TEAMS)
    for team, url in w.queues.items():
        received = drain(emu.client("sqs"), url)
        assert sorted(r["MessageId"] for r in received) == sorted(by_team.get(team, [])), team
        assert {r["MessageAttributes"].get("team", {}).get("Value", "untagged") for r in received} <= {team}


def check_contents(messages: list[dict], w: World) -> None:
    """A team's message mentions only that team's AMIs; the untagged one only untagged AMIs."""
    for m in messages:
        team = team_of_message(m)
        for image_id in ids_in(m["Message"], w):
            assert (w.team_of[image_id] or "untagged") == team, (team, image_id, m["Subject"])


@dataclass
class Run:
    """The 21 days, driven once for the module's slow tests."""

    w: World
    env: dict
    digests: list[dict]
    tables: dict[str, list[dict]]
    con: object
    rows: dict[str, dict]  # digest_date -> the archived digest row


@pytest.fixture(scope="module")
def run(emulator_server, binary, tmp_path_factory) -> Run:
    emu = emulator_server
    emu.control("reset", {})
    w = build(emu)
    env = digest_env(emu, w, DIGEST_LIST_LIMIT="50")
    digests = drive(emu, w, env)
    assert len(digests) == 3
    archive = tmp_path_factory.mktemp("digest-archive")
    tables = download(emu.client("s3"), w.bucket, archive)
    rows = {r["digest_date"]: r for r in tables.get("digests", [])}
    return Run(w, env, digests, tables, open_archive(archive), rows)


@pytest.mark.slow
def test_three_weekly_digests_match_the_archive_and_the_seed(run):
    columns = glue_columns(ROOT / "template.yaml")
    assert len(run.tables["digests"]) == 3
    assert check_rows(columns["digests"], run.tables["digests"]) == []
    assert check_rows(columns["ri_utilization"], run.tables["ri_utilization"]) == []
    for d in run.digests:
        summary, date = d["summary"], d["now"].date().isoformat()
        assert summary["phase"] == "digest" and summary["digest_date"] == date and summary["published"] is True
        assert summary["object"] == f"{PREFIX}/digests/region={REGION}/report_date={date}/digest.json.gz"
        row = run.rows[date]
        for key in ("candidates_new", "candidates_standing", "used_again", "report_problems", "reservations_status"):
            assert summary[key] == row[key], key
        check_numbers(run.con, row)
        check_reservations(run.w, d, run.tables["ri_utilization"])
        kinds = [json.loads(m["MessageAttributes"]["kind"]["StringValue"]) for m in d["sent"]]
        assert kinds and all(k == ["digest"] for k in kinds)
    # The story: search1 and base-old stand all along, pay1 is a candidate until day 15
    # and used again in the third week; tools' reports failed in the second.
    first, second, third = (run.rows[d["now"].date().isoformat()] for d in run.digests)
    ids = run.w.ids
    assert {c["image_id"] for c in first["candidates"]} == {ids["pay1"], ids["search1"], ids["base-old"]}
    assert first["candidates_new"] == 3 and second["candidates_new"] == 0
    assert second["report_problems"] >= 1 and {p["image_id"] for p in second["problems"]} == {ids["tools"]}
    assert [u["image_id"] for u in third["used_again_amis"]] == [ids["pay1"]]
    assert {(f["image_id"], f["accounts"]) for f in first["families"] if f["image_id"] == ids["pay0"]} == {
        (ids["pay0"], 1)
    }
    check_named_queries(run.con, run.rows, run.tables["ri_utilization"])


@pytest.mark.slow
def test_each_team_queue_receives_only_its_team_news(run, emulator_server):
    sent = emulator_server.control("sns/published")["messages"]
    alerts = [m for m in sent if not is_digest(m)]
    assert {team_of_message(m) for m in alerts} == {*TEAMS, "untagged"}  # collect's news, per team
    digests = [m for m in sent if is_digest(m)]
    assert len(digests) == 3 * (len(TEAMS) + 1)  # each Monday: a digest per team, then the account's
    check_contents(sent, run.w)  # the digests too: a team's lists only its own AMIs
    check_delivery(emulator_server, run.w)


@pytest.mark.slow
def test_a_digest_rerun_the_same_day_publishes_nothing(run, emulator_server):
    emu = emulator_server
    before = len(emu.control("sns/published")["messages"])
    key = run.digests[-1]["summary"]["object"]
    etag = emu.client("s3").head_object(Bucket=run.w.bucket, Key=key)["ETag"]
    again = run_binary(emu, ["digest", "--now", emu.advance(30)], run.env)
    assert again.code == 0, again.stderr
    assert again.summary["published"] is False and again.summary["message_id"] is None
    assert len(emu.control("sns/published")["messages"]) == before
    assert emu.client("s3").head_object(Bucket=run.w.bucket, Key=key)["ETag"] == etag


def test_digest_without_cost_explorer_access_still_succeeds(emu):
    alerting = archive_and_alerting(emu)
    emu.control("cost_explorer", {"accounts": {OWNER: {"access": "not_enabled"}}})
    env = base_env(
        emu,
        ARCHIVE_BUCKET=alerting.bucket,
        ARCHIVE_PREFIX=PREFIX,
        ALERT_TOPIC_ARN=alerting.topic_arn,
        DIGEST_RESERVATIONS="on",
    )
    run = run_binary(emu, ["digest", "--now", emu.now()], env)
    assert run.code == 0, run.stderr
    status = run.summary["reservations_status"]
    assert status.startswith("no_access: ") and "AccessDeniedException" in status, status
    assert run.summary["published"] is True
    [message] = emu.control("sns/published")["messages"]
    email = json.loads(message["Message"])["email"]
    assert "Cost Explorer" in email and "AccessDeniedException" in email, email
    counters = emu.control("reservations")["counters"]["GetReservationUtilization"]
    assert counters["calls"] == 1 and counters["errors"] == {"AccessDeniedException": 1}
