"""Issue 14's budget and fault matrix on the real binary, with a short verdict window
(UNUSED_MIN_DAYS=3, MIN_REPORTS=2, MIN_AGE_DAYS=0) and one-day stages, over a few
unused AMIs that a Region-level Recycle Bin rule covers:

- RETIRE_MAX_ACTIONS_PER_RUN holds for forward actions, never for undos;
- throttling and 5xx on every mutating call (and on rbin:ListRules);
- a SIGKILL at every state write of a run (so between each action and the state write
  that records it) and at the mutating calls themselves (after the intent was saved).

After the re-runs: every AMI went deprecate -> disable -> deregister, each step one
successful EC2 call in stage order (the emulator's call log), none skipped, none
repeated, all of them in the Recycle Bin, and each step one `done` row of the actions
dataset (a run killed after acting loses no row). Issue 22: a kill right after
DeregisterImage leaves a complete row and announcement, with the restore command."""

from __future__ import annotations

import subprocess
import time
from collections import Counter

import pytest
from fleet import CONSUMER_1
from harness import BINARY
from retire_fleet import (
    CALL_OF,
    FORWARD,
    action_rows,
    alert_lines,
    collect,
    next_day,
    retire_calls,
    run_undo,
    short_fleet,
    successful_calls,
)

MUTATING = ["EnableImageDeprecation", "DisableImage", "DeregisterImage", "CreateTags"]


def done_steps(emu) -> dict[str, list[str]]:
    steps: dict[str, list[str]] = {}
    for r in action_rows(emu):
        if r["outcome"] == "done":
            steps.setdefault(r["image_id"], []).append(r["action"])
    return steps


def assert_each_call_once(emu, ids: list[str]) -> None:
    """On AWS's side: each step one successful call, in stage order, and every AMI in
    the Recycle Bin."""
    made = successful_calls(emu)
    for image_id in ids:
        for action in FORWARD:
            assert made[(image_id, CALL_OF[action])] == 1, (image_id, action)
        order = [
            c["action"]
            for c in retire_calls(emu)
            if c["status"] == 200 and c["resources"] == [image_id] and c["action"] in CALL_OF.values()
        ]
        assert order == [CALL_OF[a] for a in FORWARD], (image_id, order)
    binned = {i["ImageId"] for i in emu.client("ec2").list_images_in_recycle_bin()["Images"]}
    assert binned == set(ids)


def assert_each_step_once(emu, ids: list[str]) -> None:
    """And in the archive: each step one `done` row of the actions dataset."""
    assert_each_call_once(emu, ids)
    assert done_steps(emu) == {i: list(FORWARD) for i in ids}


@pytest.mark.slow
def test_the_action_budget_holds_forward_actions_and_never_undos(emu):
    ids, env = short_fleet(emu, 5, RETIRE_MAX_ACTIONS_PER_RUN="2", RETIRE_DISABLE_AFTER_DAYS="30")
    per_run: list[Counter] = []
    for _ in range(10):
        summary = collect(emu, env, next_day(emu, env))["retire"]
        per_run.append(Counter((a["action"], a["outcome"], a["reason"]) for a in summary["actions"]))
        if len(done_steps(emu)) == 5:
            break
    deprecations = [c[("deprecate", "done", "candidate_for_days")] for c in per_run if c]
    assert deprecations == [2, 2, 1], per_run
    held = [c[("hold", "held", "action_budget_reached")] for c in per_run if c]
    assert held == [3, 1, 0], per_run

    consumer = emu.client("ec2", CONSUMER_1)
    for image_id in ids[:3]:
        consumer.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t3.micro")
    summary = collect(emu, env, next_day(emu, env))["retire"]
    undone = sorted(a["image_id"] for a in summary["actions"] if a["action"] == "cancel_deprecation")
    assert undone == sorted(ids[:3]) and summary["undone"] == 3, summary


@pytest.mark.slow
def test_throttling_and_server_errors_on_every_mutating_call_skip_and_repeat_nothing(emu):
    ids, env = short_fleet(emu, 3)
    statuses = [(503, "RequestLimitExceeded"), (500, "InternalError"), (503, "Unavailable")]
    faults = {
        action: {"probability": 0.6, "status": statuses[n % 3][0], "code": statuses[n % 3][1]}
        for n, action in enumerate([*MUTATING, "ListRules"])
    }
    # Past the SDK's retries: the first deregistrations fail and are retried by later runs.
    faults["DeregisterImage"]["fail_next"] = 12
    emu.control("faults", {"calls": faults, "seed": 7})
    failed_runs = 0
    for _ in range(20):
        summary = collect(emu, env, next_day(emu, env), codes=(0, 3))
        failed_runs += bool(summary["retire"]["failed"])
        if len(emu.client("ec2").list_images_in_recycle_bin()["Images"]) == len(ids):
            break
    counters = emu.control("faults")["counters"]["calls"]
    assert all(counters[a]["failed"] > 0 for a in faults), counters  # every call was hit
    assert failed_runs > 0, "some actions failed and were retried by a later run"
    emu.control("faults", {})
    collect(emu, env, next_day(emu, env))
    assert_each_step_once(emu, ids)


def run_killed(emu, env: dict, now: str, faults: dict) -> str | None:
    """Runs collect with `faults` (whose answers hang) and SIGKILLs it as soon as one
    fired: "state" (a state write) or the EC2 action; None when the run finished first."""
    emu.control("faults", faults)
    proc = subprocess.Popen(
        [str(BINARY), "collect", "--now", now], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    fired = None
    while proc.poll() is None and fired is None:
        counters = emu.control("faults")["counters"]
        hit = [a for a, c in counters["calls"].items() if c["failed"]]
        fired = "state" if counters["s3_put_object"]["failed"] else (hit[0] if hit else None)
        time.sleep(0.05)
    if fired:
        proc.kill()
    proc.communicate(timeout=60)
    emu.control("faults", {})
    return fired


def kill_points(skip: Counter) -> dict:
    """Faults that hang the next state write and the next call of each mutating action
    not reached yet in this day's retries (`skip`: how many of each were killed)."""
    hang = {"fail_next": 1, "hang_seconds": 60}
    return {
        "s3_put_object": {"key_contains": "/state/", "after": skip["state"], **hang},
        "calls": {a: {"after": skip[a], **hang} for a in MUTATING},
    }


def killed_walk(emu) -> list[str]:
    """Three AMIs walk the stages while each day's collect is SIGKILLed at its first
    state write or mutating call, the retry one write or call later, and so on until a
    retry finishes: a kill lands between each action and the state write that records
    it, and between each intent saved and its call."""
    ids, env = short_fleet(emu, 3)
    fired: Counter = Counter()
    for _ in range(12):
        now = next_day(emu, env)
        skip: Counter = Counter()
        while (hit := run_killed(emu, env, now, kill_points(skip))) is not None:
            skip[hit] += 1
            now = emu.advance(60)  # the retried run
        fired += skip
        if len(emu.client("ec2").list_images_in_recycle_bin()["Images"]) == len(ids):
            break
    assert all(fired[a] for a in ["EnableImageDeprecation", "DisableImage", "DeregisterImage", "CreateTags"]), fired
    assert fired["state"] >= len(ids) * len(FORWARD), fired  # at least one per step
    collect(emu, env, next_day(emu, env))
    return ids


@pytest.mark.slow
def test_a_kill_at_every_state_write_and_at_every_mutating_call_skips_and_repeats_nothing(emu):
    assert_each_step_once(emu, killed_walk(emu))


@pytest.mark.slow
def test_a_kill_right_after_deregister_image_leaves_a_complete_row_and_announcement(emu):
    """Issue 22: the run is SIGKILLed at the first call after DeregisterImage took effect
    (ListImagesInRecycleBin, hanging), before the state records it. The next run makes
    no second DeregisterImage and records and announces it complete, from the intent
    saved before the call: the AMI's name, the Recycle Bin rule, the retention, the
    restore command and the date the Recycle Bin lets go."""
    ids, env = short_fleet(emu, 1)
    fired = None
    for _ in range(10):
        now = next_day(emu, env)
        hang = {"fail_next": 1, "hang_seconds": 60}
        fired = run_killed(emu, env, now, {"calls": {"ListImagesInRecycleBin": hang}})
        if fired:
            break
    assert fired == "ListImagesInRecycleBin", fired
    assert emu.client("ec2").list_images_in_recycle_bin()["Images"][0]["ImageId"] == ids[0]
    assert [r for r in action_rows(emu) if r["action"] == "deregister"] == [], "killed before its record"
    collect(emu, env, emu.advance(60))
    assert successful_calls(emu)[(ids[0], "DeregisterImage")] == 1, "never repeated"
    [row] = [r for r in action_rows(emu) if r["action"] == "deregister"]
    rule = emu.client("rbin").list_rules(ResourceType="EC2_IMAGE")["Rules"][0]["Identifier"]
    assert (row["outcome"], row["image_name"], row["recycle_bin_rule"]) == ("done", "golden-0", rule), row
    assert row["recycle_bin_retention_days"] == 30 and row["restorable_until"], row
    assert row["undo_command"] == f"aws ec2 restore-image-from-recycle-bin --image-id {ids[0]} --region us-east-1"
    [line] = [x for x in alert_lines(emu, ids[0]) if "deregistered" in x]
    assert "golden-0" in line and row["undo_command"] in line and row["restorable_until"] in line, line
    run_undo(emu, row["undo_command"])
    assert emu.client("ec2").describe_images(ImageIds=ids, IncludeDisabled=True)["Images"][0]["ImageId"] == ids[0]
