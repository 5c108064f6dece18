"""The weekly digest split per team (ROUTE_TAG=Team) end to end, over one day of the
digest world (two teams' AMI families and an untagged one, SQS queues subscribed with
filter policies on `team`, the "untagged" queue on `team` absent). Proves: each team's
queue gets one digest, only its team's AMIs; the account queue gets the account digest,
listing no team's AMI; a same-day re-run publishes nothing; an SNS fault on the second
Publish fails the run, and the re-run publishes only the missing message, so each queue
ends with exactly one digest."""

from __future__ import annotations

import json

import pytest
from archive import drain
from digest_world import TEAMS, World, build
from harness import base_env, run_binary

PREFIX = "ami-usage"
READY_AFTER = 600


def env_of(emu, w: World) -> dict:
    return base_env(
        emu,
        ARCHIVE_BUCKET=w.bucket,
        ARCHIVE_PREFIX=PREFIX,
        ALERT_TOPIC_ARN=w.topic_arn,
        AMI_TAG_FILTERS="Golden=true",
        GROUP_TAG="Family",
        ROUTE_TAG="Team",
    )


def one_day(emu) -> tuple[World, dict]:
    """The world, one create and one collect: every AMI has a verdict and a report with its
    tags, so the digest's families (non-newest versions) have teams."""
    w = build(emu)
    env = env_of(emu, w)
    emu.control("config", {"report_ready_after_seconds": READY_AFTER})
    created = run_binary(emu, ["create", "--now", emu.now()], env)
    assert created.code == 0, created.stderr
    collected = run_binary(emu, ["collect", "--now", emu.advance(READY_AFTER + 60)], env)
    assert collected.code == 0, collected.stderr
    return w, env


def is_digest(m: dict) -> bool:
    kind = m["MessageAttributes"]["kind"]
    return json.loads(kind.get("StringValue") or kind.get("Value")) == ["digest"]


def queued_digests(emu, w: World) -> dict[str, list[dict]]:
    """The digest notifications each queue holds (drained)."""
    return {name: [m for m in drain(emu.client("sqs"), url) if is_digest(m)] for name, url in w.queues.items()}


def images_in(text: str, w: World) -> set[str]:
    return {image_id for image_id in w.team_of if image_id in text}


def digest(emu, env: dict, seconds: int = 0):
    return run_binary(emu, ["digest", "--now", emu.advance(seconds) if seconds else emu.now()], env)


def check_one_each(emu, w: World) -> None:
    """Each queue holds one digest; its e-mail page (the queue gets the Chatbot JSON: the
    page is read from the emulator's log of the same message) names only its team's AMIs."""
    got = queued_digests(emu, w)
    assert {name: len(ms) for name, ms in got.items()} == {**{t: 1 for t in TEAMS}, "untagged": 1}
    published = {m["MessageId"]: m for m in emu.control("sns/published")["messages"]}
    for name, [m] in got.items():
        team = None if name == "untagged" else name
        email = json.loads(published[m["MessageId"]]["Message"])["email"]
        mentioned = images_in(email, w)
        assert mentioned and {w.team_of[i] for i in mentioned} == {team}, (name, m["Subject"])
        if team:
            assert m["Subject"].startswith(f"AMI digest [{team}] "), m["Subject"]
            assert m["MessageAttributes"]["team"]["Value"] == team
        else:
            assert "team" not in m["MessageAttributes"]
            assert "TEAMS (each has its own digest)" in email and all(f"- {t}: " in email for t in TEAMS)


@pytest.mark.slow
def test_each_team_and_the_account_get_their_own_digest_once(emu):
    w, env = one_day(emu)
    run = digest(emu, env, 60)
    assert run.code == 0, run.stderr
    assert run.summary["teams_published"] == list(TEAMS) and run.summary["messages_published"] == 3
    check_one_each(emu, w)
    before = len(emu.control("sns/published")["messages"])
    again = digest(emu, env, 30)
    assert again.code == 0, again.stderr
    assert again.summary["already_digested"] is True
    assert len(emu.control("sns/published")["messages"]) == before


@pytest.mark.slow
def test_a_refused_second_publish_is_sent_by_the_rerun_alone(emu):
    w, env = one_day(emu)
    emu.control("faults", {"sns_publish": {"after": 1, "fail_next": 1, "status": 403, "code": "AuthorizationError"}})
    failed = digest(emu, env, 60)
    assert failed.code == 3, failed.stderr
    assert failed.summary["object"] is None
    assert [f["id"] for f in failed.summary["failed"]] == [f"digest:{TEAMS[1]}"]
    assert failed.summary["teams_published"] == [TEAMS[0]] and failed.summary["messages_published"] == 2
    emu.control("faults", {})
    rerun = digest(emu, env, 30)
    assert rerun.code == 0, rerun.stderr
    assert rerun.summary["teams_published"] == [TEAMS[1]] and rerun.summary["messages_published"] == 1
    assert rerun.summary["object"] is not None
    check_one_each(emu, w)
