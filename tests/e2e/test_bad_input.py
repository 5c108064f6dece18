"""The bad-input sweep: every kind of bad input the real binary can meet, table-driven.

Three doors, each with its own table:
- Lambda events, through the real binary's Lambda path (one `cargo lambda watch` for
  the module): each gets a `BadEvent` error whose message says what was expected.
- Environment configuration, through the real CLI: exit code 2 and one line
  `error: VAR (--flag): problem. fix`, before any AWS call.
- API oddities injected by the emulator (`POST /_emulator/oddities`): each gives one
  clear error or a recorded skip with its reason.
After every case the S3 contents are checked: nothing partial is ever written.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from archive import objects, rows
from fleet import CONSUMER_1, CONSUMER_2, AmiSpec, Fleet, TemplateSpec, archive_and_alerting, seed
from harness import LambdaWatch, base_env, run_binary

BUCKET = "bad-input-archive"
SCHEDULED = {
    "version": "0",
    "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-22T00:00:00Z",
    "region": "us-east-1",
    "detail": {},
}


def _rule(name: str) -> list[str]:
    return [f"arn:aws:events:us-east-1:123456789012:rule/{name}"]


def _nested(depth: int) -> dict:
    value: object = "create"
    for _ in range(depth):
        value = [value]
    return {"phase": value}


# --------------------------------------------------------------------------- Lambda events


@pytest.fixture(scope="module")
def lambda_function(emulator_server, binary, tmp_path_factory):
    """One `cargo lambda watch` for the module, configured like a deployed function."""
    emu = emulator_server
    emu.control("reset", {})
    emu.client("s3").create_bucket(Bucket=BUCKET)
    env = base_env(emu, ARCHIVE_BUCKET=BUCKET, AMI_TAG_FILTERS="Golden=true")
    watch = LambdaWatch(env).start()
    data_dir = tmp_path_factory.mktemp("events")

    def invoke(event) -> subprocess.CompletedProcess:
        path = data_dir / "event.json"
        path.write_text(event if isinstance(event, str) else json.dumps(event))
        return watch.invoke("--data-file", str(path))

    yield emu, invoke, watch.log_path
    watch.stop()


def _unboxed(result: subprocess.CompletedProcess) -> str:
    """cargo lambda wraps long messages in a box: undo the wrapping before matching."""
    return re.sub(r"\s*│\s*|\s+", " ", result.stdout + result.stderr)


BAD_EVENTS = [
    ("unknown phase", {"phase": "delete"}, 'unknown phase "delete"'),
    ("phase is case-sensitive", {"phase": "Create"}, 'unknown phase "Create"'),
    ("phase with spaces", {"phase": " collect "}, 'unknown phase " collect "'),
    (
        "phase is a number",
        {"phase": 7},
        'must be a string ("create", "collect", "probe", "digest" or "preflight"), got a number',
    ),
    ("phase is null", {"phase": None}, "got null"),
    ("phase is a boolean", {"phase": True}, "got a boolean"),
    ("phase is a list", {"phase": ["create"]}, "got an array"),
    ("phase is an object", {"phase": {"name": "create"}}, "got an object"),
    ("empty object", {}, "keys: none"),
    ("other keys", {"action": "create", "mode": "x"}, "keys: action, mode"),
    ("an S3 notification", {"Records": [{"eventSource": "aws:s3"}]}, "keys: Records"),
    ("an array", [1, 2], "not an object but an array"),
    ("a string", '"create"', "not an object but a string"),
    ("a number", "42", "not an object but a number"),
    ("null", "null", "not an object but null"),
    ("schedule without phase", {**SCHEDULED, "resources": _rule("nightly")}, "does not say which phase"),
    ("schedule named for both", {**SCHEDULED, "resources": _rule("create-then-collect")}, "does not say which phase"),
    (
        "schedule with a bad detail.phase",
        {**SCHEDULED, "resources": _rule("x-collect"), "detail": {"phase": "purge"}},
        'unknown phase "purge"',
    ),
    ("huge phase value (1 MB)", {"phase": "x" * 1_000_000}, 'unknown phase "' + "x" * 64 + '"'),
    (
        "huge object (50,000 keys)",
        {f"k{i:05}": i for i in range(50_000)},
        "keys: " + ", ".join(f"k{i:05}" for i in range(10)) + "): expected",
    ),
    # Not JSON at all: decoded by the function, not by the runtime, so still a BadEvent.
    ("not JSON", "phase=create", "the event is not a JSON value (expected value at line 1 column 1)"),
    ("truncated JSON", '{"phase": "create"', "the event is not a JSON value (EOF while parsing"),
    ("whitespace only", "   ", "the event is not a JSON value (EOF while parsing a value"),
]


@pytest.mark.parametrize("event, needle", [c[1:] for c in BAD_EVENTS], ids=[c[0] for c in BAD_EVENTS])
def test_bad_lambda_event_is_one_clear_error_and_writes_nothing(lambda_function, event, needle):
    emu, invoke, _ = lambda_function
    result = invoke(event)
    assert result.returncode != 0, result.stdout
    out = _unboxed(result)
    assert "BadEvent" in out and needle in out, out
    # The message is bounded whatever the payload's size.
    assert len(out) < 2_000, len(out)
    assert emu.client("ec2").describe_image_usage_reports()["ImageUsageReports"] == []
    assert objects(emu.client("s3"), BUCKET, "") == {}


def test_too_deeply_nested_event_is_refused_and_the_function_keeps_serving(lambda_function):
    emu, invoke, log_path = lambda_function
    result = invoke(_nested(200))  # deeper than serde_json's recursion limit of 128
    assert result.returncode != 0
    out = _unboxed(result)
    assert "BadEvent" in out and "the event is not a JSON value (recursion limit exceeded" in out, out
    # serde_path_to_error's path of 200 levels used to be the message.
    assert "[0]" not in out and "DeserializeError" not in out and len(out) < 2_000, out
    assert objects(emu.client("s3"), BUCKET, "") == {}

    # The same warm function then runs a good event; no AMI matches, so nothing is written,
    # and its run ends with one embedded-metric-format line on stdout.
    ok = invoke({"phase": "create"})
    assert ok.returncode == 0, _unboxed(ok)
    summary = json.loads(ok.stdout)
    assert summary["phase"] == "create" and summary["selected"] == 0 and summary["failed"] == []
    emf = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{") and '"_aws"' in line]
    assert emf, "no EMF line in the function's output"
    assert emf[-1]["Phase"] == "create" and emf[-1]["ReportsCreated"] == 0
    (directive,) = emf[-1]["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "AmiUsageReporter"
    assert objects(emu.client("s3"), BUCKET, "") == {}


def test_a_topic_in_another_region_is_a_bad_configuration_on_lambda_too(emulator_server, binary, tmp_path):
    """The cold start checks the topic against the function's Region before any AWS
    call; every invocation then answers with that one line."""
    emu = emulator_server
    emu.control("reset", {})
    emu.client("s3").create_bucket(Bucket=BUCKET)
    env = base_env(emu, ARCHIVE_BUCKET=BUCKET, ALERT_TOPIC_ARN="arn:aws:sns:eu-west-1:123456789012:alerts")
    watch = LambdaWatch(env).start()
    try:
        event = tmp_path / "event.json"
        event.write_text(json.dumps({"phase": "collect"}))
        result = watch.invoke("--data-file", str(event))
    finally:
        watch.stop()
    assert result.returncode != 0
    out = _unboxed(result).replace("- ", "-")  # the box also wraps after a hyphen
    assert "BadConfiguration" in out, out
    assert (
        'ALERT_TOPIC_ARN (--alert-topic-arn): "arn:aws:sns:eu-west-1:123456789012:alerts" is in Region '
        "eu-west-1, but the function runs in us-east-1"
    ) in out, out
    assert objects(emu.client("s3"), BUCKET, "") == {}
    assert emu.control("sns/published")["messages"] == []


# --------------------------------------------------------------------------- configuration

ACCOUNTS_201 = ",".join(f"{i:012}" for i in range(1, 202))

BAD_CONFIG = [
    # (id, phase, env, extra args, variable, flag, needle)
    ("collect without bucket", "collect", {}, [], "ARCHIVE_BUCKET", "archive-bucket", "is not set"),
    (
        "bucket as s3 URL",
        "collect",
        {"ARCHIVE_BUCKET": "s3://my-bucket"},
        [],
        "ARCHIVE_BUCKET",
        "archive-bucket",
        "not a valid S3 bucket name",
    ),
    (
        "bucket as ARN",
        "create",
        {"ARCHIVE_BUCKET": "arn:aws:s3:::my-bucket"},
        [],
        "ARCHIVE_BUCKET",
        "archive-bucket",
        "not an ARN",
    ),
    (
        "prefix with empty segment",
        "collect",
        {"ARCHIVE_PREFIX": "a//b"},
        [],
        "ARCHIVE_PREFIX",
        "archive-prefix",
        "not a usable key prefix",
    ),
    (
        "prefix with ..",
        "collect",
        {"ARCHIVE_PREFIX": "a/../b"},
        [],
        "ARCHIVE_PREFIX",
        "archive-prefix",
        "not a usable key prefix",
    ),
    (
        "topic not an ARN",
        "collect",
        {"ALERT_TOPIC_ARN": "my-topic"},
        [],
        "ALERT_TOPIC_ARN",
        "alert-topic-arn",
        "not an SNS topic ARN",
    ),
    (
        "tag filter without =",
        "create",
        {"AMI_TAG_FILTERS": "Team"},
        [],
        "AMI_TAG_FILTERS",
        "ami-tag-filters",
        "has no '='",
    ),
    (
        "tag filter empty key",
        "create",
        {"AMI_TAG_FILTERS": "=platform"},
        [],
        "AMI_TAG_FILTERS",
        "ami-tag-filters",
        "empty tag key",
    ),
    (
        "tag filter empty value",
        "create",
        {"AMI_TAG_FILTERS": "Team=a||b"},
        [],
        "AMI_TAG_FILTERS",
        "ami-tag-filters",
        "empty value",
    ),
    (
        "tag filter key twice",
        "create",
        {"AMI_TAG_FILTERS": "Team=a,Team=b"},
        [],
        "AMI_TAG_FILTERS",
        "ami-tag-filters",
        "appears twice",
    ),
    (
        "tag key too long",
        "create",
        {"AMI_TAG_FILTERS": "K" * 129 + "=v"},
        [],
        "AMI_TAG_FILTERS",
        "ami-tag-filters",
        "longer than 128",
    ),
    (
        "depth 0",
        "create",
        {"LAUNCH_TEMPLATE_VERSION_DEPTH": "0"},
        [],
        "LAUNCH_TEMPLATE_VERSION_DEPTH",
        "launch-template-version-depth",
        "from 1 to 10000",
    ),
    (
        "depth 10001",
        "create",
        {"LAUNCH_TEMPLATE_VERSION_DEPTH": "10001"},
        [],
        "LAUNCH_TEMPLATE_VERSION_DEPTH",
        "launch-template-version-depth",
        "from 1 to 10000",
    ),
    (
        "depth not a number",
        "create",
        {"LAUNCH_TEMPLATE_VERSION_DEPTH": "twenty"},
        [],
        "LAUNCH_TEMPLATE_VERSION_DEPTH",
        "launch-template-version-depth",
        '"twenty"',
    ),
    (
        "201 account ids",
        "create",
        {"REPORT_ACCOUNT_IDS": ACCOUNTS_201},
        [],
        "REPORT_ACCOUNT_IDS",
        "report-account-ids",
        "lists 201 accounts",
    ),
    (
        "11-digit account id",
        "create",
        {"REPORT_ACCOUNT_IDS": "111122223333,12345678901"},
        [],
        "REPORT_ACCOUNT_IDS",
        "report-account-ids",
        '"12345678901" is not a 12-digit',
    ),
    (
        "13-digit account id",
        "create",
        {"REPORT_ACCOUNT_IDS": "1111222233334"},
        [],
        "REPORT_ACCOUNT_IDS",
        "report-account-ids",
        "is not a 12-digit",
    ),
    (
        "account id with letters",
        "create",
        {"REPORT_ACCOUNT_IDS": "11112222333a"},
        [],
        "REPORT_ACCOUNT_IDS",
        "report-account-ids",
        "is not a 12-digit",
    ),
    (
        "negative expiry warning days",
        "collect",
        {"EXPIRY_WARNING_DAYS": "-1"},
        [],
        "EXPIRY_WARNING_DAYS",
        "expiry-warning-days",
        '"-1" is not a whole number',
    ),
    (
        "negative pending hours",
        "collect",
        {"PENDING_ALERT_HOURS": "-3"},
        [],
        "PENDING_ALERT_HOURS",
        "pending-alert-hours",
        '"-3" is not a whole number',
    ),
    (
        "negative snapshot price",
        "collect",
        {"SNAPSHOT_GB_MONTH_USD": "-0.05"},
        [],
        "SNAPSHOT_GB_MONTH_USD",
        "snapshot-gb-month-usd",
        "not a non-negative price",
    ),
    (
        "NaN snapshot price",
        "collect",
        {"SNAPSHOT_GB_MONTH_USD": "NaN"},
        [],
        "SNAPSHOT_GB_MONTH_USD",
        "snapshot-gb-month-usd",
        "not a non-negative price",
    ),
    (
        "zero concurrency",
        "create",
        {"CREATE_CONCURRENCY": "0"},
        [],
        "CREATE_CONCURRENCY",
        "create-concurrency",
        "from 1 to 64",
    ),
    (
        "path style not a boolean",
        "collect",
        {"S3_FORCE_PATH_STYLE": "maybe"},
        [],
        "S3_FORCE_PATH_STYLE",
        "s3-force-path-style",
        "not a boolean",
    ),
    (
        "bucket region not a Region",
        "collect",
        {"ARCHIVE_BUCKET_REGION": "eu-west"},
        [],
        "ARCHIVE_BUCKET_REGION",
        "archive-bucket-region",
        '"eu-west" is not an AWS Region code',
    ),
    (
        "bucket region as an endpoint",
        "create",
        {},
        ["--archive-bucket-region=s3.eu-west-1.amazonaws.com"],
        "ARCHIVE_BUCKET_REGION",
        "archive-bucket-region",
        "not an AWS Region code",
    ),
    (
        "flag overrides a good env value",
        "create",
        {"LAUNCH_TEMPLATE_VERSION_DEPTH": "20"},
        ["--launch-template-version-depth=-5"],
        "LAUNCH_TEMPLATE_VERSION_DEPTH",
        "launch-template-version-depth",
        '"-5"',
    ),
    # S3's whole naming rule set, not just the characters.
    (
        "bucket with adjacent dots",
        "collect",
        {"ARCHIVE_BUCKET": "my..bucket"},
        [],
        "ARCHIVE_BUCKET",
        "archive-bucket",
        "two adjacent dots",
    ),
    (
        "bucket as IP address",
        "collect",
        {"ARCHIVE_BUCKET": "192.168.1.1"},
        [],
        "ARCHIVE_BUCKET",
        "archive-bucket",
        "IP address",
    ),
    (
        "bucket with xn-- prefix",
        "collect",
        {"ARCHIVE_BUCKET": "xn--bucket"},
        [],
        "ARCHIVE_BUCKET",
        "archive-bucket",
        "reserved",
    ),
    (
        "bucket with sthree- prefix",
        "create",
        {"ARCHIVE_BUCKET": "sthree-archive"},
        [],
        "ARCHIVE_BUCKET",
        "archive-bucket",
        "reserved",
    ),
    (
        "bucket ending -s3alias",
        "collect",
        {"ARCHIVE_BUCKET": "archive-s3alias"},
        [],
        "ARCHIVE_BUCKET",
        "archive-bucket",
        "reserved",
    ),
    (
        "bucket ending --ol-s3",
        "collect",
        {"ARCHIVE_BUCKET": "archive--ol-s3"},
        [],
        "ARCHIVE_BUCKET",
        "archive-bucket",
        "reserved",
    ),
    # Prefixes that S3 keys cannot carry or would mangle.
    (
        "prefix of 2,000 characters",
        "collect",
        {"ARCHIVE_PREFIX": "p" * 2000},
        [],
        "ARCHIVE_PREFIX",
        "archive-prefix",
        "2000 bytes long",
    ),
    (
        "prefix with a newline",
        "collect",
        {"ARCHIVE_PREFIX": "ami\nusage"},
        [],
        "ARCHIVE_PREFIX",
        "archive-prefix",
        "contains '\\n'",
    ),
    (
        "prefix with a space",
        "collect",
        {"ARCHIVE_PREFIX": "ami usage"},
        [],
        "ARCHIVE_PREFIX",
        "archive-prefix",
        "contains ' '",
    ),
    # The topic: its parts, and its Region against the function's (us-east-1 here).
    (
        "topic in another Region",
        "create",
        {"ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:alerts"},
        [],
        "ALERT_TOPIC_ARN",
        "alert-topic-arn",
        "is in Region eu-west-1, but the function runs in us-east-1",
    ),
    (
        "topic with a short account",
        "collect",
        {"ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:12345:alerts"},
        [],
        "ALERT_TOPIC_ARN",
        "alert-topic-arn",
        'account "12345" is not 12 digits',
    ),
    (
        "topic in another partition",
        "collect",
        {"ALERT_TOPIC_ARN": "arn:aws-cn:sns:us-east-1:123456789012:a"},
        [],
        "ALERT_TOPIC_ARN",
        "alert-topic-arn",
        "names partition aws-cn, but Region us-east-1 is in aws",
    ),
    (
        "FIFO topic",
        "collect",
        {"ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts.fifo"},
        [],
        "ALERT_TOPIC_ARN",
        "alert-topic-arn",
        "FIFO topic",
    ),
    (
        "bucket Region in another partition",
        "create",
        {"ARCHIVE_BUCKET_REGION": "cn-north-1"},
        [],
        "ARCHIVE_BUCKET_REGION",
        "archive-bucket-region",
        "partition aws-cn, but the function runs in us-east-1",
    ),
    # Other published grammars.
    ("group tag too long", "collect", {"GROUP_TAG": "G" * 129}, [], "GROUP_TAG", "group-tag", "longer than 128"),
    (
        "tag filter value too long",
        "create",
        {"AMI_TAG_FILTERS": "Team=" + "v" * 257},
        [],
        "AMI_TAG_FILTERS",
        "ami-tag-filters",
        "longer than 256",
    ),
    (
        "athena database with a newline",
        "collect",
        {"ATHENA_DATABASE": "db\nx"},
        [],
        "ATHENA_DATABASE",
        "athena-database",
        "letters, digits",
    ),
    (
        "huge snapshot price",
        "collect",
        {"SNAPSHOT_GB_MONTH_USD": "1e308"},
        [],
        "SNAPSHOT_GB_MONTH_USD",
        "snapshot-gb-month-usd",
        "up to 1000",
    ),
    (
        "value not UTF-8",
        "collect",
        {"ARCHIVE_PREFIX": b"ami-\xff"},
        [],
        "ARCHIVE_PREFIX",
        "archive-prefix",
        "is not valid UTF-8",
    ),
]


def _written(emu) -> tuple:
    """Everything a run could have written: S3 objects, SNS messages, usage reports."""
    s3 = emu.client("s3")
    listing = {b["Name"]: objects(s3, b["Name"], "") for b in s3.list_buckets()["Buckets"]}
    reports = emu.client("ec2").describe_image_usage_reports()["ImageUsageReports"]
    return listing, emu.control("sns/published")["messages"], reports


@pytest.fixture
def quiet_emulator(emulator_server, binary):
    """The emulator with zeroed call counters, to prove a case made no AWS call and
    wrote nothing."""
    before = _written(emulator_server)
    emulator_server.control("faults", {})
    yield emulator_server
    counters = emulator_server.control("faults")["counters"]
    assert counters["ec2"]["totals"]["calls"] == 0, counters
    assert counters["s3_put_object"]["calls"] == 0, counters
    assert _written(emulator_server) == before


@pytest.mark.parametrize(
    "phase, env, args, var, flag, needle", [c[1:] for c in BAD_CONFIG], ids=[c[0] for c in BAD_CONFIG]
)
def test_bad_configuration_exits_2_with_one_line_naming_variable_and_fix(
    quiet_emulator, phase, env, args, var, flag, needle
):
    result = run_binary(quiet_emulator, [phase, *args], base_env(quiet_emulator, **env))
    assert result.code == 2, (result.code, result.stderr)
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith(f"error: {var} (--{flag}): "), line
    assert needle in line, line
    # The second sentence says what to do.
    assert re.search(r"\. (Set|Use|Write|Name|List|Unset)\b", line), line


BUDGET_RANGE = "--time-budget takes a whole number of seconds from 1 to 604800"
NOW_WINDOW = "days before to 62 days after the real clock); pass --allow-any-now"

BAD_FLAGS = [
    ("bad --now", ["collect", "--now", "yesterday"], "expected RFC 3339"),
    ("zero time budget", ["create", "--time-budget", "0"], BUDGET_RANGE),
    ("negative time budget", ["create", "--time-budget", "-1"], BUDGET_RANGE),
    ("time budget in words", ["collect", "--time-budget", "ten"], BUDGET_RANGE),
    ("time budget past the clock", ["create", "--time-budget", "18446744073709551615"], BUDGET_RANGE),
    ("unknown subcommand", ["purge"], "unrecognized subcommand 'purge': the phases are create, collect, probe"),
    ("no subcommand", [], "error: no phase given: the phases are create, collect, probe"),
    ("--now in year 9999", ["collect", "--now", "9999-12-31T00:00:00Z"], NOW_WINDOW),
    ("--now in 1970", ["create", "--now", "1970-01-01T00:00:00Z"], NOW_WINDOW),
    (
        "flag value not UTF-8",
        ["create", "--archive-prefix", b"ami-\xff"],
        "the value of --archive-prefix is not valid UTF-8",
    ),
]


@pytest.mark.parametrize("args, needle", [c[1:] for c in BAD_FLAGS], ids=[c[0] for c in BAD_FLAGS])
def test_bad_flags_exit_2_with_one_line_naming_the_flag(quiet_emulator, args, needle):
    result = run_binary(quiet_emulator, args, base_env(quiet_emulator, ARCHIVE_BUCKET=BUCKET))
    assert result.code == 2 and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert needle in lines[0], result.stderr


def test_no_region_exits_2_naming_aws_region(quiet_emulator, tmp_path):
    (tmp_path / "config").write_text("")  # a profile file without a region
    env = base_env(quiet_emulator, ARCHIVE_BUCKET=BUCKET, AWS_CONFIG_FILE=str(tmp_path / "config"))
    del env["AWS_REGION"]
    env.pop("AWS_DEFAULT_REGION", None)
    result = run_binary(quiet_emulator, ["collect"], env)
    assert result.code == 2 and result.stdout == ""
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        "error: no AWS Region configured: set AWS_REGION (or a profile's region)"
    ]


def test_a_function_region_that_is_no_region_exits_2_naming_aws_region(quiet_emulator):
    env = base_env(quiet_emulator, ARCHIVE_BUCKET=BUCKET, AWS_REGION="us-east-1 ")
    result = run_binary(quiet_emulator, ["collect"], env)
    assert result.code == 2 and result.stdout == ""
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        'error: AWS_REGION: "us-east-1 " is not an AWS Region code. '
        "Set AWS_REGION (or the profile's region) to the function's Region, e.g. eu-west-1."
    ]


# --------------------------------------------------------------------------- API oddities

PREFIX = "ami-usage"
CONSUMER_3 = "333333333333"


def _odd_fleet(emu):
    """Three golden AMIs, each used by instances of consumer accounts."""
    fleet = Fleet(
        amis=[
            AmiSpec("x", "golden-x", {"Golden": "true"}),
            AmiSpec("y", "golden-y", {"Golden": "true"}),
            AmiSpec("z", "golden-z", {"Golden": "true"}),
        ],
        instances=[(CONSUMER_1, "x", 2), (CONSUMER_2, "x", 1), (CONSUMER_1, "y", 1), (CONSUMER_3, "z", 3)],
        templates=[TemplateSpec(CONSUMER_2, "web", ["y"])],
    )
    seed(emu, fleet)
    archive_and_alerting(emu, BUCKET)
    env = base_env(emu, ARCHIVE_BUCKET=BUCKET, ARCHIVE_PREFIX=PREFIX, AMI_TAG_FILTERS="Golden=true")
    return fleet, env


def _created(emu, fleet, env) -> dict[str, str]:
    """Runs create; image id -> report id."""
    result = run_binary(emu, ["create", "--now", emu.now()], env)
    assert result.code == 0 and result.summary["created"] == len(fleet.amis), result.stderr
    reports = emu.client("ec2").describe_image_usage_reports()["ImageUsageReports"]
    return {r["ImageId"]: r["ReportId"] for r in reports}


def _archived(emu) -> dict[str, dict]:
    return objects(emu.client("s3"), BUCKET, f"{PREFIX}/")


def _keys_of(objs: dict, report_id: str) -> list[str]:
    return sorted(k for k in objs if report_id in k)


@pytest.fixture
def odd(emu):
    fleet, env = _odd_fleet(emu)
    return emu, fleet, env, _created(emu, fleet, env)


def test_entries_of_an_unknown_resource_type_are_archived_verbatim_and_count_as_usage(odd):
    emu, fleet, env, report_of = odd
    x = fleet.id("x")
    emu.control(
        "oddities",
        {"entry_extra": {x: [{"ResourceType": "ec2:SomethingNew", "AccountId": CONSUMER_3, "UsageCount": 5}]}},
    )
    result = run_binary(emu, ["collect", "--now", emu.now()], env)
    assert result.code == 0 and result.summary["failed"] == [], result.stderr
    assert "ec2:SomethingNew" in result.stderr and "unknown resource type" in result.stderr
    objs = _archived(emu)
    entries = [r for r in rows(objs, "entries") if r["report_id"] == report_of[x]]
    assert {(e["account_id"], e["resource_type"], e["usage_count"]) for e in entries} == {
        (CONSUMER_1, "ec2:Instance", 2),
        (CONSUMER_2, "ec2:Instance", 1),
        (CONSUMER_3, "ec2:SomethingNew", 5),
    }
    (report,) = [r for r in rows(objs, "reports") if r["report_id"] == report_of[x]]
    assert (report["total_usage"], report["instance_usage"], report["launch_template_usage"]) == (8, 3, 0)


@pytest.mark.parametrize("missing", ["AccountId", "UsageCount", "ResourceType"])
def test_an_entry_missing_a_member_fails_its_report_whole_and_the_next_run_archives_it(odd, missing):
    emu, fleet, env, report_of = odd
    x = fleet.id("x")
    # Small pages: two good pages reach the archive writer before the bad entry arrives.
    emu.control("config", {"max_results_cap": 1})
    extra = {"ResourceType": "ec2:Instance", "AccountId": "444444444444", "UsageCount": 1}
    del extra[missing]
    if missing == "AccountId":
        odd_entry = extra
    else:  # sorts last among the report's entries either way
        odd_entry = {**extra, "AccountId": "999999999999"}
    emu.control("oddities", {"entry_extra": {x: [odd_entry]}})
    result = run_binary(emu, ["collect", "--now", emu.now()], env)
    assert result.code == 3, result.stderr
    assert [f["id"] for f in result.summary["failed"]] == [report_of[x]]
    assert f"an entry without {missing}" in result.summary["failed"][0]["error"]
    assert result.summary["archived"] == 2
    objs = _archived(emu)
    assert _keys_of(objs, report_of[x]) == [], "nothing of the failed report may be written"
    for other in ("y", "z"):
        assert len(_keys_of(objs, report_of[fleet.id(other)])) == 2

    emu.control("oddities", {})
    again = run_binary(emu, ["collect", "--now", emu.now()], env)
    assert again.code == 0 and again.summary["archived"] == 1, again.stderr
    entries = [r for r in rows(_archived(emu), "entries") if r["report_id"] == report_of[x]]
    assert sorted((e["account_id"], e["usage_count"]) for e in entries) == [(CONSUMER_1, 2), (CONSUMER_2, 1)]


def test_a_malformed_report_is_quarantined_the_others_archived_and_it_is_retried(odd):
    emu, fleet, env, report_of = odd
    y = fleet.id("y")
    emu.control("oddities", {"report_drop_fields": {y: ["CreationTime"]}})
    result = run_binary(emu, ["collect", "--now", emu.now()], env)
    assert result.code == 3, result.stderr
    [failure] = result.summary["failed"]
    assert failure["id"] == report_of[y] and f"report {report_of[y]} has no CreationTime" in failure["error"]
    assert result.summary["archived"] == len(fleet.amis) - 1
    archived = _archived(emu)
    assert _keys_of(archived, report_of[y]) == [], "nothing of the malformed report is written"
    assert all(_keys_of(archived, report_of[fleet.id(k)]) for k in ("x", "z"))
    assert "REPORTS QUARANTINED" in result.stderr, "the (logged) alert surfaces it"
    verdicts = [r for r in rows(archived, "verdicts") if r["image_id"] == y]
    assert verdicts and all(v["verdict"] != "candidate" for v in verdicts)

    emu.control("oddities", {})
    again = run_binary(emu, ["collect", "--now", emu.now()], env)
    assert again.code == 0 and again.summary["archived"] == 1, again.stderr
    assert len(_keys_of(_archived(emu), report_of[y])) == 2, "entries and report object, once"


def test_a_report_vanishing_before_its_entries_is_a_recorded_failure_and_nothing_partial(odd):
    emu, fleet, env, report_of = odd
    z = fleet.id("z")
    emu.control("oddities", {"vanish_before_entries": [z]})
    result = run_binary(emu, ["collect", "--now", emu.now()], env)
    assert result.code == 3, result.stderr
    (failure,) = result.summary["failed"]
    assert failure["id"] == report_of[z]
    assert "InvalidImageUsageReportId.NotFound" in failure["error"]
    assert emu.control("oddities")["fired"][0]["report_id"] == report_of[z]
    objs = _archived(emu)
    assert _keys_of(objs, report_of[z]) == []
    assert result.summary["archived"] == 2 and len(rows(objs, "reports")) == 2
    # The report is gone from EC2: the next run has nothing left to do and fails nothing.
    again = run_binary(emu, ["collect", "--now", emu.now()], env)
    assert again.code == 0 and again.summary["failed"] == [] and again.summary["archived"] == 0


def test_an_ami_deregistered_mid_collect_is_archived_without_its_description(odd):
    emu, fleet, env, report_of = odd
    y = fleet.id("y")
    emu.control("oddities", {"deregister_after": {"DescribeImageUsageReports": [y]}})
    result = run_binary(emu, ["collect", "--now", emu.now()], env)
    assert result.code == 0 and result.summary["archived"] == 3, result.stderr
    assert emu.control("oddities")["fired"] == [
        {"oddity": "deregister_after", "action": "DescribeImageUsageReports", "image_id": y}
    ]
    reports = {r["image_id"]: r for r in rows(_archived(emu), "reports")}
    assert reports[y]["image"] is None and reports[y]["state"] == "available"
    assert reports[y]["total_usage"] == 2  # one instance and one launch template
    assert reports[fleet.id("x")]["image"]["name"] == "golden-x"


def test_an_ami_deregistered_mid_create_is_a_recorded_failure(emu):
    fleet, env = _odd_fleet(emu)
    x = fleet.id("x")
    emu.control("oddities", {"deregister_after": {"DescribeImages": [x]}})
    result = run_binary(emu, ["create", "--now", emu.now()], env)
    assert result.code == 3, result.stderr
    (failure,) = result.summary["failed"]
    assert failure["id"] == x and "InvalidAMIID.NotFound" in failure["error"]
    assert result.summary["created"] == 2
    images = {r["ImageId"] for r in emu.client("ec2").describe_image_usage_reports()["ImageUsageReports"]}
    assert images == {fleet.id("y"), fleet.id("z")}
    again = run_binary(emu, ["create", "--now", emu.now()], env)
    assert again.code == 0 and again.summary["failed"] == [] and again.summary["created"] == 0
    assert _archived(emu) == {}
