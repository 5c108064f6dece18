"""Two collects at once (a CLI backfill beside the scheduled function, a second
deployment by mistake): every state object is written over exactly the version its
run read, so the run that loses the race stops before it announces or acts, exits 1
with one line naming the other writer's time, and between them every report is
archived once, every piece of news announced once, and no retirement step is recorded
or called twice. The next run does what is left, once."""

from __future__ import annotations

import json
import subprocess

from archive import objects, rows
from fleet import CONSUMER_1, archive_and_alerting, register_golden
from harness import BINARY, base_env, run_binary

PREFIX = "ami-usage"


def world(emu):
    ec2 = emu.client("ec2")
    idle = register_golden(ec2, "idle-v1", [CONSUMER_1])
    broken = register_golden(ec2, "broken-v1", [CONSUMER_1])
    alerting = archive_and_alerting(emu)
    emu.control("config", {"error_images": {broken: "Internal error while counting instances"}})
    env = base_env(
        emu,
        ARCHIVE_BUCKET=alerting.bucket,
        ARCHIVE_PREFIX=PREFIX,
        ALERT_TOPIC_ARN=alerting.topic_arn,
        AMI_TAG_FILTERS="Golden=true",
        UNUSED_MIN_DAYS="1",
        MIN_REPORTS="1",
        MIN_AGE_DAYS="0",
        RETIRE_MODE="enforce",
        RETIRE_DEPRECATE_AFTER_DAYS="0",
        REPORT_RESOURCE_TYPES="ec2:Instance,ec2:LaunchTemplate",
    )
    return idle, broken, alerting, env


def collect_twice_at_once(emu, env) -> list[subprocess.CompletedProcess]:
    """Two collects started together with the same clock: both read the state before
    either writes it (their first write follows the owner checks)."""
    args = [str(BINARY), "collect", "--now", emu.now()]
    runs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in (1, 2)]
    return [subprocess.CompletedProcess(args, r.wait(timeout=300), *r.communicate()) for r in runs]


def news_keys(emu) -> list[str]:
    """The subject line of every alert published, in order."""
    return [m["Subject"] for m in emu.control("sns/published")["messages"]]


def calls(emu, action: str, image_id: str) -> int:
    log = emu.control("calls")["calls"]
    return sum(1 for c in log if c["action"] == action and image_id in c["resources"] and c["status"] == 200)


def test_two_collects_at_once_announce_and_act_once_and_the_loser_says_why(emu):
    idle, broken, alerting, env = world(emu)
    created = run_binary(emu, ["create", "--now", emu.now()], env)
    assert created.code == 0, created.stderr
    emu.advance(3600)

    first, second = collect_twice_at_once(emu, env)
    codes = sorted((first.returncode, second.returncode))
    assert codes == [0, 1], (first.stderr, second.stderr)
    loser = first if first.returncode == 1 else second
    lines = [line for line in loser.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "was written by another run at " in lines[0], loser.stderr
    assert "stopped before announcing or acting" in lines[0]
    assert json.loads(loser.stdout)["phase"] == "collect", "the loser still reports what it archived"

    # What the two did together: each report archived once, one alert, one deprecation.
    s3 = emu.client("s3")
    archived = rows(objects(s3, alerting.bucket, f"{PREFIX}/reports/"), "reports")
    assert sorted(r["image_id"] for r in archived) == sorted([idle, broken])
    assert len(news_keys(emu)) == 1, news_keys(emu)
    assert calls(emu, "EnableImageDeprecation", idle) == 1

    # The next run does what is left once: nothing here, and nothing again.
    emu.advance(3600)
    again = run_binary(emu, ["collect", "--now", emu.now()], env)
    assert again.code == 0, again.stderr
    assert len(news_keys(emu)) == 1, "no piece of news announced twice"
    assert calls(emu, "EnableImageDeprecation", idle) == 1, "no retirement step called twice"
    actions = rows(objects(s3, alerting.bucket, f"{PREFIX}/actions/"), "actions")
    deprecations = [a for a in actions if a["image_id"] == idle and a["action"] == "deprecate"]
    assert len(deprecations) == 1, actions
