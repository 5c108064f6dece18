"""Issue 14's switches on the real binary (short verdict window, one-day stages):
RETIRE_REQUIRE_RECYCLE_BIN=false deregisters without a Recycle Bin rule (and says it
cannot be undone), RETIRE_DELETE_SNAPSHOTS=true deletes the AMI's snapshots but those
another AMI uses, and RETIRE_MODE=off touches nothing but reports what still carries
the stage tag."""

from __future__ import annotations

import pytest
from harness import run_binary
from retire_fleet import STAGE_TAG, action_rows, collect, image, next_day, retire_calls, short_fleet


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
