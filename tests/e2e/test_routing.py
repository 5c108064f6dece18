"""Collect's alerts carry the routing message attributes (kind, account, group, team):
with ROUTE_TAG one publish per team plus one for the untagged AMIs, each about its own
AMIs only; without it one publish and no team attribute. News: each AMI's report ends
in error on the first collect (a report problem is news at once)."""

from __future__ import annotations

import json

from fleet import CONSUMER_1, archive_and_alerting, register_golden
from harness import OWNER, base_env, run_binary

PREFIX = "ami-usage"


def seed(emu) -> dict[str, str]:
    owner = emu.client("ec2")
    ids = {
        "pay": register_golden(owner, "pay-1", [CONSUMER_1], {"Golden": "true", "Team": "payments", "Family": "pay"}),
        "search": register_golden(owner, "search-1", [CONSUMER_1], {"Golden": "true", "Team": "search", "Family": "s"}),
        "plain": register_golden(owner, "plain-1", [CONSUMER_1], {"Golden": "true"}),
    }
    emu.control("config", {"error_images": {i: "Internal error" for i in ids.values()}})
    return ids


def first_collect(emu, **extra: str) -> tuple[dict, list[dict]]:
    alerting = archive_and_alerting(emu)
    env = base_env(
        emu,
        ARCHIVE_BUCKET=alerting.bucket,
        ARCHIVE_PREFIX=PREFIX,
        ALERT_TOPIC_ARN=alerting.topic_arn,
        AMI_TAG_FILTERS="Golden=true",
        GROUP_TAG="Family",
        **extra,
    )
    created = run_binary(emu, ["create", "--now", emu.now()], env)
    assert created.code == 0, created.stderr
    collected = run_binary(emu, ["collect", "--now", emu.advance(3600)], env)
    assert collected.code == 0, collected.stderr
    return collected.summary, emu.control("sns/published")["messages"]


def attributes(message: dict) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in message["MessageAttributes"].items():
        text = value["StringValue"]
        out[name] = sorted(json.loads(text)) if value["DataType"] == "String.Array" else text
    return out


def test_one_message_per_team_each_with_its_attributes(emu):
    ids = seed(emu)
    _, sent = first_collect(emu, ROUTE_TAG="Team")
    by_team = {attributes(m).get("team"): m for m in sent}
    assert len(sent) == len(by_team) == 3, [m["Subject"] for m in sent]
    assert attributes(by_team["payments"]) == {
        "kind": ["report_problem"],
        "account": OWNER,
        "group": ["pay"],
        "team": "payments",
    }
    assert attributes(by_team["search"]) == {
        "kind": ["report_problem"],
        "account": OWNER,
        "group": ["s"],
        "team": "search",
    }
    assert attributes(by_team[None]) == {"kind": ["report_problem"], "account": OWNER}  # no group, no team
    for team, own in (("payments", "pay"), ("search", "search"), (None, "plain")):
        text = by_team[team]["Message"]
        assert ids[own] in text and all(ids[other] not in text for other in ids if other != own), team


def test_without_route_tag_one_message_without_team(emu):
    ids = seed(emu)
    _, sent = first_collect(emu)
    [message] = sent
    assert attributes(message) == {"kind": ["report_problem"], "account": OWNER, "group": ["pay", "s"]}
    assert all(image_id in message["Message"] for image_id in ids.values())
