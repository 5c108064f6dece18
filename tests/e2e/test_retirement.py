"""Issue 14's proof on the real binary: the labelled fleet of retire_fleet.py over 120
emulated days, in `enforce` and in `dry-run`.

Every 3rd day: fleet events, create, +1 h, collect. Stages: deprecate at once
(RETIRE_DEPRECATE_AFTER_DAYS=0, notice 14 days), disable 9 days later, deregister 9
days after that. The circuit breaker trips on days 30-33 (MAX_CANDIDATE_PERCENT=10,
the day the unused AMIs first become candidates: nothing starts) and on days 60-63
(records exist: they are held, `verdict_unknown`). Events: day 42 a consumer launches
`used_deprecated` and `team_earlier` (first seen on day 45: the day-42 report misses an
instance younger than 24 h and lastLaunchedTime shows a launch 24 h later; still before
their disable, due that day), the reports first show a consumer's launch template
naming `team_later` (made on day 33: EC2's reports lag launch templates by 7 days), and
the operator tags `operator_excludes` with the exclusion tag; day 48 an owner launch
template names `used_disabled`, and `unselected` loses its selection tag.

Issue 22's promises on the same timeline: an undo after disable restores the launch
permissions (account and organisation) and the consumer launches again; a team's own
deprecation, later or earlier than the pipeline's, is as the team set it after the undo;
an AMI that left the selection while disabled is undone and announced; a 1-day Recycle
Bin rule holds the deregistration (`recycle_bin_retention_too_short`).

Both modes must make the same decisions on the same days (`done` in enforce, `would`
in dry-run); dry-run changes nothing (DescribeImages identical around every collect,
no retirement call at all)."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta

import pytest
from fleet import CONSUMER_1
from harness import ROOT, run_binary
from retire_fleet import (
    CALL_OF,
    CASES,
    DAY,
    EXCLUDE_TAG,
    ORG_ARN,
    STAGE_TAG,
    TEAM_DEPRECATION_DAYS,
    action_rows,
    alert_lines,
    at,
    consumer_launches,
    environment,
    image,
    long_rule,
    owned_images,
    permissions_of,
    retire_calls,
    run_undo,
    seed,
    successful_calls,
    undo_for,
)
from support.glue_schema import check_rows, glue_columns

DAYS = range(0, 121, 3)
BREAKER_DAYS = {30, 33, 60, 63}
# (day, action) of each case's steps that change something (or would).
STEPS = {
    "walker": [(36, "deprecate"), (45, "disable"), (54, "deregister")],
    # Launched on day 42 just before create: that report misses it (instances 24 h) and
    # lastLaunchedTime shows a launch 24 h later, so the day-45 collect is the first to
    # see it, before the disable due that day.
    "used_deprecated": [(36, "deprecate"), (45, "cancel_deprecation")],
    "used_disabled": [(36, "deprecate"), (45, "disable"), (48, "enable")],
    "protected": [(36, "deprecate"), (45, "disable")],
    "no_rule": [(36, "deprecate"), (45, "disable")],
    "operator_excludes": [(36, "deprecate"), (42, "cancel_deprecation")],
    "in_use": [],
    "team_later": [(36, "deprecate"), (42, "cancel_deprecation")],
    "team_earlier": [(36, "deprecate"), (45, "cancel_deprecation")],  # launched day 42, as used_deprecated
    "unselected": [(36, "deprecate"), (45, "disable"), (48, "enable")],
    "short_rule": [(36, "deprecate"), (45, "disable")],
}
WAITS = {
    "protected": "deregistration_protected",
    "no_rule": "no_recycle_bin_rule",
    "short_rule": "recycle_bin_retention_too_short",
}
SHARED = [{"UserId": CONSUMER_1}]


def _events(emu, day: int, ids: dict[str, str]) -> None:
    owner = emu.client("ec2")
    consumer = emu.client("ec2", CONSUMER_1)
    if day == 33:
        # EC2's reports show a launch template 7 days after it names the AMI: the one
        # the day-42 report is the first to show was made on day 33, before the deprecation.
        consumer.create_launch_template(
            LaunchTemplateName="rolls-back", LaunchTemplateData={"ImageId": ids["team_later"]}
        )
    if day == 42:
        # Seen from day 45 on: reports count an instance 24 h after its launch, and a
        # launch shows in lastLaunchedTime 24 h later.
        for case in ("used_deprecated", "team_earlier"):
            consumer.run_instances(ImageId=ids[case], MinCount=1, MaxCount=1, InstanceType="t3.micro")
        owner.create_tags(Resources=[ids["operator_excludes"]], Tags=[{"Key": EXCLUDE_TAG, "Value": "true"}])
    if day == 48:
        owner.delete_tags(Resources=[ids["unselected"]], Tags=[{"Key": "Golden"}])


def run_timeline(emu, mode: str) -> tuple[dict[str, str], dict[int, dict], int]:
    """Seeds the fleet and runs the 120 days; returns the ids, each day's `retire`
    summary and where the emulator's call log stood after the seed."""
    ids = seed(emu)
    seeded = len(emu.control("calls")["calls"])
    env = environment(emu, mode)
    summaries: dict[int, dict] = {}
    for day in DAYS:
        if day:
            emu.advance(3 * DAY - 3600)
        _events(emu, day, ids)
        created = run_binary(emu, ["create", "--now", emu.now(), "--allow-any-now"], env)
        assert created.code == 0, (day, created.stderr)
        if day == 48:
            emu.client("ec2").create_launch_template(
                LaunchTemplateName="keeps-it", LaunchTemplateData={"ImageId": ids["used_disabled"]}
            )
        now = emu.advance(3600)
        mark = len(emu.control("calls")["calls"])
        before = owned_images(emu)
        day_env = {**env, "MAX_CANDIDATE_PERCENT": "10"} if day in BREAKER_DAYS else env
        collected = run_binary(emu, ["collect", "--now", now, "--allow-any-now"], day_env)
        assert collected.code == 0, (day, collected.stderr)
        summaries[day] = collected.summary["retire"]
        assert summaries[day]["mode"] == mode
        made = retire_calls(emu, mark)
        if mode == "dry-run":
            assert made == [], (day, made)
            assert owned_images(emu) == before, day
        if day in BREAKER_DAYS:
            assert made == [], (day, "the circuit breaker stops every action", made)
    return ids, summaries, seeded


def check_decisions(ids: dict[str, str], summaries: dict[int, dict], outcome: str) -> None:
    """The same decisions on the same days in both modes (`outcome` done or would)."""
    case_of = {v: k for k, v in ids.items()}
    steps: dict[str, list] = {case: [] for case in CASES}
    holds: dict[str, list] = {case: [] for case in CASES}
    for day, summary in sorted(summaries.items()):
        for a in summary["actions"]:
            case = case_of[a["image_id"]]
            if a["outcome"] == "held":
                holds[case].append((day, a["reason"]))
            else:
                assert a["outcome"] == outcome, (day, case, a)
                steps[case].append((day, a["action"]))
        assert summary["failed"] == 0, (day, summary)
    # An AMI restored from `disabled` may also get its deprecation cancelled, that same run.
    for case in ("used_disabled", "unselected"):
        steps[case] = [s for s in steps[case] if s != (48, "cancel_deprecation")]
    assert steps == STEPS, (steps, holds)
    # Both wait at deregister, held as `verdict_unknown` while the breaker holds.
    for case, reason in WAITS.items():
        expected = [(d, "verdict_unknown" if d in BREAKER_DAYS else reason) for d in DAYS if d >= 54]
        assert holds[case] == expected, case
    assert {c: h for c, h in holds.items() if c not in WAITS} == {c: [] for c in CASES if c not in WAITS}


def _announces(line: str, row: dict) -> bool:
    """The alert line of this row: its undo command, or for an undo the action named."""
    if row["undo_command"]:
        return row["undo_command"] in line
    if row["action"] == "cancel_deprecation":
        return "stage tag removed" in line or "would cancel deprecation" in line
    if row["action"] == "deprecate":
        return "(its owners', kept)" in line
    return re.search(r"\benabled?\b(?!-image)", line) is not None


def check_dataset(emu, ids: dict[str, str], summaries: dict[int, dict], mode: str) -> list[dict]:
    """Every decision of every summary is in the actions dataset exactly once, with the
    contract's fields, and announced exactly once in the alerts."""
    rows = action_rows(emu)
    assert check_rows(glue_columns(ROOT / "template.yaml")["actions"], rows) == []
    from_summaries = Counter(
        (a["image_id"], a["action"], a["outcome"], a["reason"]) for s in summaries.values() for a in s["actions"]
    )
    assert Counter((r["image_id"], r["action"], r["outcome"], r["reason"]) for r in rows) == from_summaries
    rule = long_rule(emu)
    for r in rows:
        assert r["mode"] == mode and r["region"] == "us-east-1" and r["owner_account_id"] == "123456789012"
        acted = r["outcome"] in ("done", "would")
        assert r["undo_command"] == undo_for(r), r
        if r["action"] == "deprecate" and acted and not r["team_deprecation_at"]:
            when = datetime.fromisoformat(r["action_time"].replace("Z", "+00:00")) + timedelta(days=14)
            minute = when.replace(second=0, microsecond=0)
            rounded_up = minute if minute == when else minute + timedelta(minutes=1)  # AWS keeps minutes
            assert r["deprecate_at"] == rounded_up.strftime("%Y-%m-%dT%H:%M:%S.000Z"), r
        if r["action"] == "deregister":
            assert (r["image_id"], r["recycle_bin_rule"], r["delete_snapshots"]) == (ids["walker"], rule, False)
            assert r["recycle_bin_retention_days"] == 90 and r["restorable_until"], r
        if acted:
            announced = [line for line in alert_lines(emu, r["image_id"]) if _announces(line, r)]
            assert len(announced) == 1, (r, announced)
    waits = [line for line in alert_lines(emu, ids["protected"]) if "deregistration_protected" in line]
    assert waits, "the alert says the protected AMI waits"
    return rows


@pytest.mark.slow
def test_enforce_walks_the_stages_undoes_on_use_and_never_deregisters_what_it_must_not(emu):
    ids, summaries, seeded = run_timeline(emu, "enforce")
    check_decisions(ids, summaries, "done")
    rows = check_dataset(emu, ids, summaries, "enforce")

    # Each action is one successful EC2 call, never repeated.
    expected_calls = Counter((r["image_id"], _call(r)) for r in rows if r["outcome"] == "done" and _call(r))
    made = successful_calls(emu, seeded)
    assert {k: v for k, v in made.items() if k[1] in CALL_OF.values()} == dict(expected_calls)
    check_issue_22(emu, ids, rows)

    ec2 = emu.client("ec2")
    assert image(emu, ids["walker"]) is None
    assert [i["ImageId"] for i in ec2.list_images_in_recycle_bin()["Images"]] == [ids["walker"]]
    undo = {(r["image_id"], r["action"]): r["undo_command"] for r in rows if r["outcome"] == "done"}
    run_undo(emu, undo[(ids["walker"], "deregister")])  # verbatim, with the AWS CLI
    restored = image(emu, ids["walker"])
    tags = {t["Key"]: t["Value"] for t in restored["Tags"]}
    assert restored["State"] == "available" and tags["Golden"] == "true"
    assert tags[STAGE_TAG].split(" ")[0] == "deregistered", "restored: never retired again"

    for case in ("used_deprecated", "used_disabled", "operator_excludes", "in_use", "unselected"):
        ami = image(emu, ids[case])
        assert ami["State"] == "available", case
        assert "DeprecationTime" not in ami, case
        assert STAGE_TAG not in {t["Key"] for t in ami.get("Tags", [])}, case
    for case in ("protected", "no_rule", "short_rule"):
        ami = image(emu, ids[case])
        assert ami["State"] == "disabled" and "DeprecationTime" in ami, case
        assert {t["Key"]: t["Value"] for t in ami["Tags"]}[STAGE_TAG].split(" ")[0] == "disabled", case
    for action in ("disable", "deprecate"):  # an operator undoing the waiting one by hand
        run_undo(emu, undo[(ids["no_rule"], action)])
    ami = image(emu, ids["no_rule"])
    assert ami["State"] == "available" and "DeprecationTime" not in ami
    assert permissions_of(emu, ids["no_rule"]) == SHARED, "the disable's undo command shares it again"


def _call(row: dict) -> str | None:
    """The EC2 call a done row made (its tag aside): a deprecation kept as its team set
    it makes none, and an undo that puts the team's time back re-enables deprecation."""
    if row["action"] == "deprecate" and row["team_deprecation_at"] == row["deprecate_at"]:
        return None
    if row["action"] == "cancel_deprecation" and row["team_deprecation_at"]:
        return "EnableImageDeprecation"
    if row["action"] == "cancel_deprecation" and not row["deprecate_at"]:
        return None
    return CALL_OF.get(row["action"])


def _deprecation(ami: dict) -> datetime:
    return datetime.fromisoformat(ami["DeprecationTime"].replace("Z", "+00:00"))


def check_issue_22(emu, ids: dict[str, str], rows: list[dict]) -> None:
    """Undo gives the launch permissions back and the consumer launches again; the
    teams' deprecations are as they set them; the AMI out of the selection is undone and
    announced; the 1-day rule holds the deregistration."""
    first = min(datetime.fromisoformat(r["action_time"].replace("Z", "+00:00")) for r in rows)
    seeded = first - timedelta(days=36, hours=1)  # the first decisions come on day 36, 1 h after create
    seeded -= timedelta(minutes=5)  # the emulator's clock also runs with the wall clock: a few minutes
    both = sorted([*SHARED, {"OrganizationArn": ORG_ARN}], key=json.dumps)
    for case in ("used_disabled", "unselected"):
        assert permissions_of(emu, ids[case]) == both, case
        [enable] = [r for r in rows if r["image_id"] == ids[case] and r["action"] == "enable"]
        assert enable["launch_permissions"]["accounts"] == [CONSUMER_1], enable
        assert enable["launch_permissions"]["organizations"] == [ORG_ARN], enable
        [line] = [x for x in alert_lines(emu, ids[case]) if "launch permissions restored" in x]
        assert CONSUMER_1 in line and ORG_ARN in line, line
        consumer_launches(emu, ids[case])
    consumer_launches(emu, ids["used_deprecated"])
    [left] = [r for r in rows if r["image_id"] == ids["unselected"] and r["action"] == "enable"]
    assert (left["reason"], left["detail"].split(":")[0]) == ("excluded", "left_selection"), left
    found = {}
    for case, days in TEAM_DEPRECATION_DAYS.items():
        # The deprecate step recorded the time it found: the one the team set.
        [step] = [r for r in rows if r["image_id"] == ids[case] and r["action"] == "deprecate"]
        found[case] = step["team_deprecation_at"]
        theirs = _deprecation({"DeprecationTime": found[case]})
        assert timedelta(0) <= theirs - at(seeded.isoformat(), days) <= timedelta(minutes=10), (case, step)
        ami = image(emu, ids[case])
        assert _deprecation(ami) == theirs, (case, ami["DeprecationTime"], "as the team set it")
        assert STAGE_TAG not in {t["Key"] for t in ami.get("Tags", [])}, case
    [back] = [r for r in rows if r["image_id"] == ids["team_later"] and r["action"] == "cancel_deprecation"]
    assert back["team_deprecation_at"] == found["team_later"], back
    [kept] = [r for r in rows if r["image_id"] == ids["team_earlier"] and r["action"] == "cancel_deprecation"]
    assert (kept["team_deprecation_at"], kept["deprecate_at"]) == (None, None), kept
    held = [r for r in rows if r["image_id"] == ids["short_rule"] and r["reason"] == "recycle_bin_retention_too_short"]
    assert held and all("1 days" in r["detail"] for r in held), held


@pytest.mark.slow
def test_dry_run_decides_the_same_and_changes_nothing(emu):
    ids, summaries, seeded = run_timeline(emu, "dry-run")
    check_decisions(ids, summaries, "would")
    check_dataset(emu, ids, summaries, "dry-run")
    # The operator's exclusion tag (day 42) and the selection tag removed (day 48).
    own = {("CreateTags", ids["operator_excludes"]), ("DeleteTags", ids["unselected"])}
    assert [c for c in retire_calls(emu, seeded) if (c["action"], c["resources"][0]) not in own] == []
    assert emu.client("ec2").list_images_in_recycle_bin()["Images"] == []
    for case in CASES:
        ami = image(emu, ids[case])
        assert ami["State"] == "available", case
        assert ("DeprecationTime" in ami) == (case in TEAM_DEPRECATION_DAYS), case
        assert STAGE_TAG not in {t["Key"] for t in ami.get("Tags", [])}, case
