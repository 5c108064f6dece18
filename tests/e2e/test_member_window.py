"""Issue 22, "member evidence has no window": a member's finding keeps the verdict window,
with the real binary. A member (CONSUMER_1) keeps the owner's AMI in an SSM parameter
(data type `aws:ec2:image`) and runs its daily `probe`; the owner's collect
(`REQUIRE_MEMBER_PROBES`, a 30-day window) calls the AMI `in_use`
(`used_in_member_account`). The parameter is deleted: for the rest of the window the
AMI stays `in_use` (`used_in_member_account_in_window`), the verdict row naming the
parameter (`member_references_in_window`) and when the probe last saw it
(`member_last_used`); once the window has passed since then, it is a candidate like the
AMI nothing ever referenced.
"""

from __future__ import annotations

import pytest
from archive import objects
from fleet import CONSUMER_1, CONSUMER_2, register_golden
from harness import OWNER, run_binary
from support.glue_schema import check_rows, glue_columns
from test_member_probe import BUCKET, CENTRAL, ORG, member_env, owner_env, register

MEMBER = CONSUMER_1
HOUR, DAY = 3600, 86400
WINDOW_DAYS = 30


def day(emu, env: dict, member: dict) -> dict:
    """The member probes, the owner creates, an hour later collects: the run's verdict rows."""
    probed = run_binary(emu, ["probe", "--now", emu.now()], member)
    assert probed.code == 0, probed.stderr
    assert run_binary(emu, ["create", "--now", emu.now()], env).code == 0
    collected = run_binary(emu, ["collect", "--now", emu.advance(HOUR)], env)
    assert collected.code == 0, collected.stderr
    written = objects(emu.client("s3"), BUCKET, f"{ORG}/account={OWNER}/verdicts/")
    rows = {r["image_id"]: r for r in written[max(written)]["rows"]}
    emu.advance(DAY - HOUR)
    return {"rows": rows, "summary": collected.summary}


@pytest.mark.slow
def test_a_member_parameter_deleted_a_week_ago_keeps_the_ami_in_use_for_the_rest_of_the_window(emu):
    emu.client("s3").create_bucket(Bucket=BUCKET)
    owner = emu.client("ec2")
    used, free = register(owner, "golden-rolled-back-to"), register(owner, "golden-never-referenced")
    ssm = emu.client("ssm", MEMBER)
    ssm.put_parameter(Name="/golden/previous", Value=used, Type="String", DataType="aws:ec2:image")
    arn = f"arn:aws:ssm:us-east-1:{MEMBER}:parameter/golden/previous"
    env = owner_env(emu, UNUSED_MIN_DAYS=str(WINDOW_DAYS), MIN_REPORTS="3")
    member = member_env(emu)

    for _ in range(3):
        seen = day(emu, env, member)
    assert seen["rows"][used]["verdict"] == "in_use" and "used_in_member_account" in seen["rows"][used]["reasons"]
    facts = objects(emu.client("s3"), BUCKET, f"{ORG}/account={MEMBER}/references/")
    last_probe = max(r["probed_at"] for o in facts.values() for r in o["rows"] if r["references"])

    ssm.delete_parameter(Name="/golden/previous")
    week = [day(emu, env, member) for _ in range(7)]
    for d in week:
        row = d["rows"][used]
        assert row["verdict"] == "in_use", row["reasons"]
        assert "used_in_member_account_in_window" in row["reasons"] and "used_in_member_account" not in row["reasons"]
        assert (row["member_references"], row["member_references_in_window"]) == ([], [arn])
        assert row["member_last_used"] == last_probe
    assert check_rows(glue_columns(CENTRAL)["verdicts"], list(week[-1]["rows"].values())) == []

    # In use until the window has passed since the probe last saw the parameter (the
    # probe of the third day); then nothing holds it: a candidate, like the AMI nobody
    # referenced.
    rest = [day(emu, env, member) for _ in range(WINDOW_DAYS - 7)]
    verdicts = [(d["rows"][used]["verdict"], d["rows"][used]["reasons"]) for d in rest]
    assert [v for v, _ in verdicts] == ["in_use"] * (WINDOW_DAYS - 8) + ["candidate"], verdicts
    assert all("used_in_member_account_in_window" in r for _, r in verdicts[:-1]), verdicts
    assert rest[-1]["rows"][used]["member_references_in_window"] == []
    assert rest[-1]["rows"][used]["member_last_used"] is None
    assert rest[-1]["rows"][free]["verdict"] == "candidate", rest[-1]["rows"][free]["reasons"]


def test_a_missing_member_holds_back_only_the_amis_shared_with_it(emu):
    """Issue 22, "stale facts of one member hold back only its AMIs": of two required
    members, one never probes; only the AMI shared with it (or with everyone) stays
    unknown, the one shared with the other member alone is decided without it."""
    emu.client("s3").create_bucket(Bucket=BUCKET)
    owner = emu.client("ec2")
    mine = register_golden(owner, "golden-shared-with-the-prober", [MEMBER], gib=8)
    theirs = register_golden(owner, "golden-shared-with-the-silent-one", [CONSUMER_2], gib=8)
    env = owner_env(emu, REQUIRE_MEMBER_PROBES=f"{MEMBER},{CONSUMER_2}")
    d = day(emu, env, member_env(emu))
    assert (d["rows"][theirs]["verdict"], d["rows"][theirs]["reasons"]) == ("unknown", ["member_probe_missing"])
    assert d["rows"][mine]["verdict"] == "candidate", d["rows"][mine]["reasons"]
    assert f"member:{CONSUMER_2}" in d["rows"][mine]["not_checked"]
    assert d["summary"]["verdicts"]["member_probes"]["missing"] == [CONSUMER_2]
