"""Client-side pacing keeps create inside EC2's token buckets: the emulator enforces the
buckets, and a run that outpaced them would see RequestLimitExceeded answers."""

from __future__ import annotations

import pytest
from harness import run_binary
from scale import synthetic_fleet

AMIS = 70
CAPACITY, REFILL = 50, 5.0  # EC2's mutating bucket, at AWS's defaults


@pytest.mark.slow
def test_create_stays_inside_the_mutating_bucket_without_being_throttled(emu):
    # At AWS's rates on purpose: while a call is on its way, EC2's bucket, if full, gains
    # nothing, while the client's own bucket refills; the client runs ahead by rate x latency.
    # At 5/s that is a fraction of a token; at the emulator's speed and much faster
    # scaled rates it can be one whole token at the start of a run.
    fleet = synthetic_fleet(
        emu,
        amis=AMIS,
        entries=1,
        errors=0,
        CREATE_CONCURRENCY="8",
        EC2_MUTATING_BURST=str(CAPACITY),
        EC2_MUTATING_RATE=str(REFILL),
        # The emulator refuses the recipe types, as EC2's API reference does; the default
        # four would add up to CREATE_CONCURRENCY refused calls before create falls back.
        REPORT_RESOURCE_TYPES="ec2:Instance,ec2:LaunchTemplate",
    )
    emu.control("faults", {"ec2_token_buckets": {"mutating": {"capacity": CAPACITY, "refill_per_second": REFILL}}})

    result = run_binary(emu, ["create", "--now", emu.now()], fleet.env)
    assert result.code == 0, result.stderr
    assert result.summary["created"] == AMIS

    creates = emu.control("faults")["counters"]["ec2"]["by_action"]["CreateImageUsageReport"]
    assert creates["throttled"] == 0, creates
    assert creates["calls"] == AMIS
    # Not by going slower than it must: the bucket allows (70 - 50) / 5 = 4 s; pacing
    # runs at 95 % of the refill rate.
    assert result.summary["creating_seconds"] >= (AMIS - CAPACITY) / REFILL * 0.9
