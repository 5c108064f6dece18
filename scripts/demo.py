"""Demo driver for scripts/demo: a small organisation on the emulator, the real
binary run as a user would run it, and what lands in S3 and in the subscriber's queue;
it ends with the week's digest as e-mail text (Reserved Instances included).
It reuses the end-to-end tests' harness and fleet, so the demo and the tests cannot
drift apart."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))

from archive import drain, objects  # noqa: E402
from fleet import CONSUMER_1, CONSUMER_2, archive_and_alerting, demo_fleet, seed  # noqa: E402
from harness import OWNER, Emulator, base_env, run_binary  # noqa: E402

# The default verdict rules apply: an AMI becomes a deregistration candidate after 30
# days of zero-usage reports (at least 3) once it is 30 days old, so the demo simulates
# a little over a month, one create and one collect a day.
DEMO_SETTINGS = {"AMI_TAG_FILTERS": "Golden=true", "ARCHIVE_PREFIX": "ami-usage"}


def seed_reservations(emu: Emulator, days: int) -> None:
    """Two EC2 Reserved Instances in the emulator's Cost Explorer: one under-used, one
    ending within 30 days of the last simulated day (the digest lists both)."""
    today = dt.datetime.fromisoformat(emu.now().replace("Z", "+00:00")).date()
    common = {"account_id": OWNER, "region": "us-east-1", "start": (today - dt.timedelta(days=200)).isoformat()}
    emu.control(
        "reservations",
        {
            "reservations": [
                {
                    **common,
                    "subscription_id": "ri-demo-m5",
                    "instance_type": "m5.large",
                    "number_of_instances": 4,
                    "end": (today + dt.timedelta(days=500)).isoformat(),
                    "recurring_hourly_usd": 0.06,
                    "on_demand_hourly_usd": 0.096,
                    "used_fraction": 0.3,
                },
                {
                    **common,
                    "subscription_id": "ri-demo-c5",
                    "instance_type": "c5.xlarge",
                    "number_of_instances": 1,
                    "end": (today + dt.timedelta(days=days + 20)).isoformat(),
                    "upfront_hourly_usd": 0.1,
                    "on_demand_hourly_usd": 0.17,
                    "used_fraction": 0.97,
                },
            ]
        },
    )


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=32, help="simulated days of create + collect")
    parser.add_argument("--verbose", action="store_true", help="print every run's full JSON summary")
    args = parser.parse_args()

    emu = Emulator().start()
    try:
        say(f"emulator on {emu.url} (owner {OWNER}, consumers {CONSUMER_1}, {CONSUMER_2})")
        fleet = demo_fleet()
        seed(emu, fleet)
        alerting = archive_and_alerting(emu)
        for a in fleet.amis:
            print(f"  {a.image_id}  {a.name:<18} tags={a.tags}")
        env = base_env(emu, ARCHIVE_BUCKET=alerting.bucket, ALERT_TOPIC_ARN=alerting.topic_arn, **DEMO_SETTINGS)
        seed_reservations(emu, args.days)
        emu.control("config", {"report_ready_after_seconds": 900})

        say("preflight, the first command after a deploy: everything the phases need, checked without effect")
        checked = run_binary(emu, ["preflight", "--json", "--now", emu.now()], {**env, "DIGEST_RESERVATIONS": "on"})
        print(checked.stdout and json.loads(checked.stdout)["table"], end="")
        if checked.code != 0:
            print(checked.stderr)
            return 1

        say(f"{args.days} simulated days: create, an hour later collect (reports are ready after 15 minutes)")
        for day in range(1, args.days + 1):
            created = run_binary(emu, ["create", "--now", emu.now()], env)
            emu.advance(3600)
            collected = run_binary(emu, ["collect", "--now", emu.now()], env)
            for r in (created, collected):
                if r.code not in (0, 3):
                    print(r.stderr)
                    return 1
                if args.verbose:
                    print(r.stdout)
            c, v = collected.summary, collected.summary.get("verdicts") or {}
            alert = c["alert"]["subject"] if c.get("alert") else "-"
            print(
                f"  day {day:>2} {created.summary['period']}: created {created.summary['created']}, "
                f"archived {c['archived']} ({c['entries_archived']} entries); verdicts "
                f"candidate {v.get('candidate', 0)}, in use {v.get('in_use', 0)}, unknown {v.get('unknown', 0)}, "
                f"excluded {v.get('excluded', 0)}; alert: {alert}",
                flush=True,
            )
            emu.advance(23 * 3600)

        say(f"archive: s3://{alerting.bucket}/ami-usage/ (the last day's objects, and a count per dataset)")
        archive = objects(emu.client("s3"), alerting.bucket, "ami-usage/")
        last_day = max(k.split("report_date=")[1][:10] for k in archive if "report_date=" in k)
        for key, obj in sorted(archive.items()):
            if f"report_date={last_day}" in key or "/state/" in key:
                rows = f"{len(obj['rows'])} rows" if key.endswith(".json.gz") else ""
                print(f"  {key}  {rows}")
        for dataset in ("entries", "reports", "verdicts"):
            keys = [k for k in archive if f"/{dataset}/" in k]
            print(f"  {dataset}: {len(keys)} objects, {sum(len(archive[k]['rows']) for k in keys)} rows")

        say("alerts as the SQS subscriber of the topic received them (Slack / AWS Chatbot rendering)")
        for n in drain(emu.client("sqs"), alerting.queue_url):
            print(f"Subject: {n.get('Subject')}")
            print(json.dumps(json.loads(n["Message"]), indent=2))
        say("the same alerts' e-mail rendering")
        for m in emu.control("sns/published")["messages"]:
            print(f"Subject: {m['Subject']}\n")
            print(json.loads(m["Message"])["email"])

        say("the week's digest (DIGEST_RESERVATIONS=on: Cost Explorer's Reserved Instances too), as e-mail")
        before = len(emu.control("sns/published")["messages"])
        digest = run_binary(emu, ["digest", "--now", emu.now()], {**env, "DIGEST_RESERVATIONS": "on"})
        if digest.code not in (0, 3):
            print(digest.stderr)
            return 1
        if args.verbose:
            print(digest.stdout)
        for m in emu.control("sns/published")["messages"][before:]:
            print(f"Subject: {m['Subject']}\n")
            print(json.loads(m["Message"])["email"])
        return 0
    finally:
        emu.stop()


if __name__ == "__main__":
    sys.exit(main())
