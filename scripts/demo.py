"""Demo driver for scripts/demo: a small organisation on the emulator, the real
binary run as a user would run it, and what lands in S3 and in the subscriber's queue.
It reuses the end-to-end tests' harness and fleet, so the demo and the tests cannot
drift apart."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))

from archive import drain, objects  # noqa: E402
from fleet import CONSUMER_1, CONSUMER_2, archive_and_alerting, demo_fleet, seed  # noqa: E402
from harness import OWNER, Emulator, base_env, run_binary  # noqa: E402

# The demo compresses a month into seconds; these settings keep the verdict rules'
# meaning while letting a short simulated history produce a verdict.
DEMO_SETTINGS = {"AMI_TAG_FILTERS": "Golden=true", "ARCHIVE_PREFIX": "ami-usage"}


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=3, help="simulated days of create + collect")
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
        emu.control("config", {"report_ready_after_seconds": 900})

        for day in range(1, args.days + 1):
            say(f"day {day}: ami-usage-reporter create")
            created = run_binary(emu, ["create", "--now", emu.now()], env)
            print(created.stdout or created.stderr)
            emu.advance(3600)
            say(f"day {day}: ami-usage-reporter collect (an hour later: reports are available)")
            collected = run_binary(emu, ["collect", "--now", emu.now()], env)
            print(collected.stdout or collected.stderr)
            if collected.code not in (0, 3) or created.code not in (0, 3):
                return 1
            emu.advance(23 * 3600)

        say(f"archive: s3://{alerting.bucket}/ami-usage/")
        for key, obj in sorted(objects(emu.client("s3"), alerting.bucket, "ami-usage/").items()):
            rows = f"{len(obj['rows'])} rows" if key.endswith(".json.gz") else ""
            print(f"  {key}  {rows}")

        say("alert as the SQS subscriber of the topic received it (Slack / AWS Chatbot rendering)")
        for n in drain(emu.client("sqs"), alerting.queue_url):
            print(f"Subject: {n.get('Subject')}")
            print(json.dumps(json.loads(n["Message"]), indent=2))
        say("the same alert's e-mail rendering")
        for m in emu.control("sns/published")["messages"]:
            print(f"Subject: {m['Subject']}\n")
            print(json.loads(m["Message"])["email"])
        return 0
    finally:
        emu.stop()


if __name__ == "__main__":
    sys.exit(main())
