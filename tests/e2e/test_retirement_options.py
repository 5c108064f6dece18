"""Issue 14's switches on the real binary (short verdict window, one-day stages):
RETIRE_REQUIRE_RECYCLE_BIN=false deregisters without a Recycle Bin rule (and says it
cannot be undone), RETIRE_DELETE_SNAPSHOTS=true deletes the AMI's snapshots but those
another AMI uses, and RETIRE_MODE=off touches nothing but reports what still carries
the stage tag. Issue 22's: with snapshot deletion, no deregistration without an
EBS_SNAPSHOT rule keeping the snapshots RETIRE_MIN_RECYCLE_BIN_DAYS, each snapshot's
result recorded, and the restore command bringing the snapshots back first."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from harness import run_binary
from retire_fleet import (
    STAGE_TAG,
    action_rows,
    alert_lines,
    collect,
    image,
    next_day,
    retire_calls,
    run_undo,
    short_fleet,
)


def _snapshot(emu, image_id: str) -> str:
    [ami] = emu.client("ec2").describe_images(ImageIds=[image_id], IncludeDisabled=True)["Images"]
    return ami["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]


@pytest.mark.slow
def test_without_the_recycle_bin_requirement_it_deregisters_and_deletes_unshared_snapshots(emu):
    ids, env = short_fleet(emu, 2, rule=False, RETIRE_REQUIRE_RECYCLE_BIN="false", RETIRE_DELETE_SNAPSHOTS="true")
    owner = emu.client("ec2")
    shared, alone = _snapshot(emu, ids[0]), _snapshot(emu, ids[1])
    # Not selected (no Golden tag), registered on the first AMI's snapshot: it keeps it.
    twin = owner.register_image(
        Name="twin",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": shared}}],
    )["ImageId"]
    for _ in range(10):
        collect(emu, env, next_day(emu, env))
        if all(image(emu, i) is None for i in ids):
            break
    deregistered = [r for r in action_rows(emu) if r["action"] == "deregister"]
    assert sorted(r["image_id"] for r in deregistered) == sorted(ids)
    for r in deregistered:
        assert (r["outcome"], r["delete_snapshots"], r["recycle_bin_rule"], r["undo_command"]) == (
            "done",
            True,
            None,
            None,
        ), r
    assert owner.list_images_in_recycle_bin()["Images"] == []
    left = {s["SnapshotId"] for s in owner.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert shared in left and alone not in left
    assert image(emu, twin) is not None


@pytest.mark.slow
def test_mode_off_touches_nothing_and_reports_the_ami_it_left_deprecated(emu):
    ids, env = short_fleet(emu, 1, RETIRE_DISABLE_AFTER_DAYS="30")
    for _ in range(8):
        collect(emu, env, next_day(emu, env))
        if action_rows(emu):
            break
    [deprecated] = action_rows(emu)
    assert (deprecated["action"], deprecated["outcome"]) == ("deprecate", "done")
    objects_before = len(action_rows(emu))
    off = {**env, "RETIRE_MODE": "off"}
    now = next_day(emu, off)
    mark = len(emu.control("calls")["calls"])
    # Targets that never fail, only to count the Recycle Bin reads.
    emu.control("faults", {"calls": {"ListRules": {"probability": 0}, "GetRule": {"probability": 0}}})
    result = run_binary(emu, ["collect", "--now", now], off)
    assert result.code == 0, result.stderr
    assert result.summary["retire"]["tagged_while_off"] == ids
    assert retire_calls(emu, mark) == [] and len(action_rows(emu)) == objects_before
    counted = emu.control("faults")["counters"]["calls"]
    assert counted.get("ListRules", {"calls": 0})["calls"] == counted.get("GetRule", {"calls": 0})["calls"] == 0
    ami = image(emu, ids[0])
    assert {t["Key"]: t["Value"] for t in ami["Tags"]}[STAGE_TAG].split(" ")[0] == "deprecated"


def _until_deregistered_or_held(emu, env, ids: list[str], reason: str, runs: int = 10) -> list[dict]:
    """Daily runs until every AMI is deregistered or held for `reason`; the holds."""
    held: list[dict] = []
    for _ in range(runs):
        summary = collect(emu, env, next_day(emu, env))["retire"]
        held += [a for a in summary["actions"] if a["reason"] == reason]
        if held or all(image(emu, i) is None for i in ids):
            break
    return held


@pytest.mark.slow
def test_deleting_snapshots_waits_for_a_snapshot_rule_then_records_each_snapshots_result(emu):
    """Issue 22: with RETIRE_DELETE_SNAPSHOTS=true an AMI is deregistered only when an
    EBS_SNAPSHOT rule keeps its snapshots as long as RETIRE_MIN_RECYCLE_BIN_DAYS (AWS
    restores an AMI only with its snapshots); then DeleteSnapshotResults are recorded and
    the restore command restores the snapshots first. Needs the emulator's snapshot tags
    (DescribeSnapshots, moto) and DeleteSnapshotResults (on main)."""
    ids, env = short_fleet(emu, 1, RETIRE_DELETE_SNAPSHOTS="true")
    snapshot = _snapshot(emu, ids[0])
    emu.client("ec2").create_tags(Resources=[snapshot], Tags=[{"Key": "keep", "Value": "yes"}])
    held = _until_deregistered_or_held(emu, env, ids, "no_snapshot_rule")
    assert held and image(emu, ids[0])["State"] == "disabled", "held, never deregistered without a snapshot rule"
    [row] = [r for r in action_rows(emu) if r["reason"] == "no_snapshot_rule"][:1]
    assert snapshot in row["detail"] and "RETIRE_DELETE_SNAPSHOTS" in row["detail"], row
    rbin = emu.client("rbin")
    short = rbin.create_rule(
        ResourceType="EBS_SNAPSHOT",
        RetentionPeriod={"RetentionPeriodValue": 7, "RetentionPeriodUnit": "DAYS"},
        ResourceTags=[{"ResourceTagKey": "keep", "ResourceTagValue": "yes"}],
    )["Identifier"]
    held = _until_deregistered_or_held(emu, env, ids, "recycle_bin_retention_too_short", runs=1)
    assert held and image(emu, ids[0]) is not None, "a 7-day snapshot rule is shorter than the 30 days asked"
    rbin.update_rule(Identifier=short, RetentionPeriod={"RetentionPeriodValue": 30, "RetentionPeriodUnit": "DAYS"})
    _until_deregistered_or_held(emu, env, ids, "no_such_reason", runs=3)
    assert image(emu, ids[0]) is None
    [gone] = [r for r in action_rows(emu) if r["action"] == "deregister" and r["outcome"] == "done"]
    assert gone["snapshot_results"] == [{"snapshot_id": snapshot, "return_code": "success"}], gone
    assert gone["undo_command"] == (
        f"aws ec2 restore-snapshot-from-recycle-bin --snapshot-id {snapshot} --region us-east-1 && "
        f"aws ec2 wait snapshot-completed --snapshot-ids {snapshot} --region us-east-1 && "
        f"aws ec2 restore-image-from-recycle-bin --image-id {ids[0]} --region us-east-1"
    )
    action_time = datetime.fromisoformat(gone["action_time"].replace("Z", "+00:00"))
    until = datetime.fromisoformat(gone["restorable_until"].replace("Z", "+00:00"))
    assert until == action_time + timedelta(days=30), "the snapshots' 30 days, not the AMI's"
    [line] = [x for x in alert_lines(emu, ids[0]) if "deregistered" in x]
    assert f"snapshots: {snapshot} success" in line and gone["undo_command"] in line, line
    assert gone["restorable_until"] in line, line


@pytest.mark.slow
def test_a_deregistered_ami_comes_back_with_its_snapshots_by_the_restore_command(emu):
    """The restore command run verbatim brings back the deleted snapshot, then the AMI.
    Needs the emulator to apply EBS_SNAPSHOT rules to DeleteAssociatedSnapshots and to
    serve RestoreSnapshotFromRecycleBin (branch emu-images); on main, deleted snapshots
    do not go to the Recycle Bin."""
    ids, env = short_fleet(emu, 1, RETIRE_DELETE_SNAPSHOTS="true")
    snapshot = _snapshot(emu, ids[0])
    emu.client("rbin").create_rule(
        ResourceType="EBS_SNAPSHOT", RetentionPeriod={"RetentionPeriodValue": 30, "RetentionPeriodUnit": "DAYS"}
    )
    _until_deregistered_or_held(emu, env, ids, "no_such_reason")
    [gone] = [r for r in action_rows(emu) if r["action"] == "deregister" and r["outcome"] == "done"]
    run_undo(emu, gone["undo_command"])
    restored = image(emu, ids[0])
    assert restored is not None and restored["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] == snapshot
