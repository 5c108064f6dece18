"""The world of the digest end-to-end tests: two teams' AMI families (ROUTE_TAG=Team,
GROUP_TAG=Family) and an untagged one in the owner account, their consumers day by day,
a few EC2 Reserved Instances seeded into the emulator's Cost Explorer, the teams' SQS
queues subscribed with filter policies, and what Cost Explorer must then answer,
computed from the seed (never hard-coded)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from fleet import CONSUMER_1, CONSUMER_2, archive_and_alerting, register_golden
from harness import OWNER, Emulator

MEMBER = CONSUMER_1  # a member account of the owner's organisation (Cost Explorer payer)
TEAMS = ("payments", "search")
EC2_COMPUTE = "Amazon Elastic Compute Cloud - Compute"
CE_PAGE_SIZE = 2


@dataclass
class World:
    emu: Emulator
    bucket: str
    topic_arn: str
    queues: dict[str, str]  # team (or "untagged") -> queue URL
    ids: dict[str, str] = field(default_factory=dict)  # AMI key -> image id
    team_of: dict[str, str | None] = field(default_factory=dict)  # image id -> team
    instances: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # label -> (account, ids)
    reservations: list[dict] = field(default_factory=list)


# key, name, Team, Family, GiB: registered in this order, one minute apart (so the
# newest of a family is the last one registered).
AMIS = [
    ("pay0", "pay-2026.01", "payments", "pay", 8),
    ("pay1", "pay-2026.02", "payments", "pay", 20),
    ("pay2", "pay-2026.03", "payments", "pay", 8),
    ("search1", "search-2026.01", "search", "search", 30),
    ("search2", "search-2026.02", "search", "search", 30),
    ("tools", "tools-2026.01", "search", "tools", 16),
    ("base-old", "base-2025.12", None, "base", 50),
    ("base", "base-2026.01", None, "base", 8),
]


def subscribe(emu: Emulator, topic: str, name: str, policy: dict) -> str:
    sqs, sns = emu.client("sqs"), emu.client("sns")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"FilterPolicy": json.dumps(policy)})
    return url


def build(emu: Emulator) -> World:
    alerting = archive_and_alerting(emu)
    queues = {team: subscribe(emu, alerting.topic_arn, f"team-{team}", {"team": [team]}) for team in TEAMS}
    queues["untagged"] = subscribe(emu, alerting.topic_arn, "team-none", {"team": [{"exists": False}]})
    w = World(emu, alerting.bucket, alerting.topic_arn, queues)
    owner = emu.client("ec2")
    for key, name, team, family, gib in AMIS:
        tags = {"Golden": "true", "Family": family, **({"Team": team} if team else {})}
        w.ids[key] = register_golden(owner, name, [CONSUMER_1, CONSUMER_2], tags, gib=gib)
        w.team_of[w.ids[key]] = team
        emu.advance(60)
    return w


def run(w: World, label: str, account: str, key: str, count: int = 1) -> None:
    got = w.emu.client("ec2", account).run_instances(
        ImageId=w.ids[key], MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )
    w.instances[label] = (account, [i["InstanceId"] for i in got["Instances"]])


def terminate(w: World, label: str) -> None:
    account, ids = w.instances.pop(label)
    w.emu.client("ec2", account).terminate_instances(InstanceIds=ids)


def change_fleet(w: World, day: int) -> None:
    """Day 0 (before the story, which then waits past EC2's report lags): pay0 only in a
    launch template. Day 1: everything in use but pay1, search1, base-old. Day 9: tools'
    report fails (a report problem). Day 15: pay1 runs again (used again in the third
    week)."""
    if day == 0:
        w.emu.client("ec2", CONSUMER_2).create_launch_template(
            LaunchTemplateName="legacy-pay", LaunchTemplateData={"ImageId": w.ids["pay0"], "InstanceType": "t3.micro"}
        )
    elif day == 1:
        run(w, "pay2-c1", CONSUMER_1, "pay2", 2)
        run(w, "pay2-c2", CONSUMER_2, "pay2")
        run(w, "search2-c1", CONSUMER_1, "search2")
        run(w, "tools-c2", CONSUMER_2, "tools")
        run(w, "base-c1", CONSUMER_1, "base")
        run(w, "pay1-c1", CONSUMER_1, "pay1")
    elif day == 2:
        terminate(w, "pay1-c1")
    elif day == 15:
        run(w, "pay1-back", CONSUMER_2, "pay1")


def error_images(w: World, day: int) -> dict[str, str]:
    return {w.ids["tools"]: "Internal error while counting instances"} if day in (9, 10) else {}


def seed_reservations(w: World, first_digest: dt.date) -> None:
    """Three reservations: one under-used (owner), one ending within 30 days of every
    digest (a member, seen by the owner as its payer), one fully used."""
    long_ago = first_digest - dt.timedelta(days=90)
    w.reservations = [
        {
            "account_id": OWNER,
            "subscription_id": "ri-under-used",
            "instance_type": "m5.large",
            "region": "us-east-1",
            "number_of_instances": 4,
            "start": long_ago.isoformat(),
            "end": (first_digest + dt.timedelta(days=300)).isoformat(),
            "recurring_hourly_usd": 0.06,
            "on_demand_hourly_usd": 0.096,
            "used_fraction": 0.25,
        },
        {
            "account_id": MEMBER,
            "subscription_id": "ri-ending-soon",
            "instance_type": "c5.xlarge",
            "region": "eu-west-1",
            "number_of_instances": 1,
            "start": long_ago.isoformat(),
            "end": (first_digest + dt.timedelta(days=25)).isoformat() + "T12:00:00Z",
            "upfront_hourly_usd": 0.05,
            "recurring_hourly_usd": 0.05,
            "on_demand_hourly_usd": 0.17,
            "used_hours_per_day": 22.8,
        },
        {
            "account_id": OWNER,
            "subscription_id": "ri-full",
            "instance_type": "t3.medium",
            "region": "us-east-1",
            "number_of_instances": 2,
            "start": long_ago.isoformat(),
            "end": (first_digest + dt.timedelta(days=700)).isoformat(),
            "upfront_hourly_usd": 0.025,
            "on_demand_hourly_usd": 0.0416,
        },
    ]
    w.emu.control("reservations", {"reservations": w.reservations})
    w.emu.control(
        "cost_explorer", {"accounts": {MEMBER: {"payer": OWNER, "name": "payments-prod"}}, "page_size": CE_PAGE_SIZE}
    )


def _instant(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def expected_ri(reservation: dict, start: dt.date, end: dt.date) -> dict | None:
    """The figures of one reservation for [start, end), from its seed: None when its term
    has no hour in the period (Cost Explorer then has no group for it)."""
    low = max(dt.datetime.combine(start, dt.time(), dt.UTC), _instant(reservation["start"]))
    high = min(dt.datetime.combine(end, dt.time(), dt.UTC), _instant(reservation["end"]))
    hours = max(0.0, (high - low).total_seconds() / 3600)
    if hours == 0:
        return None
    n = reservation["number_of_instances"]
    if "used_hours_per_day" in reservation:
        fraction = reservation["used_hours_per_day"] / (24 * n)
    else:
        fraction = reservation.get("used_fraction", 1.0)
    purchased = hours * n
    used = purchased * fraction
    amortized = purchased * (reservation.get("upfront_hourly_usd", 0) + reservation.get("recurring_hourly_usd", 0))
    return {
        "purchased_hours": purchased,
        "total_actual_hours": used,
        "unused_hours": purchased - used,
        "utilization_percentage": 100 * fraction,
        "net_ri_savings": used * reservation.get("on_demand_hourly_usd", 0) - amortized,
        "number_of_instances": n,
        "instance_type": reservation["instance_type"],
        "reservation_region": reservation["region"],
        "account_id": reservation["account_id"],
        "end_date_time": _instant(reservation["end"]),
    }


def periods(now: dt.datetime) -> dict[str, tuple[dt.date, dt.date]]:
    """The contract's two periods: last 7 days and month to date (previous month on the 1st)."""
    today = now.date()
    first = today.replace(day=1)
    if first == today:
        first = (today - dt.timedelta(days=1)).replace(day=1)
    return {"last_7_days": (today - dt.timedelta(days=7), today), "month_to_date": (first, today)}
