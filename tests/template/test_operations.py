"""Operating the stack: the CloudWatch dashboard (its body is valid JSON once
CloudFormation substituted it and names only metrics src/metrics.rs emits) and the
optional AWS Chatbot Slack channel."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support import emf_metrics
from support.cfn_conditions import deployed, holds, references, substitute
from support.glue_schema import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
LAMBDA_RS = ROOT / "src" / "lambda.rs"
JOBS = ROOT / "src" / "jobs"

# What CloudFormation would put in place of the names the body refers to.
FAKE = {
    "AWS::Region": "eu-west-1",
    "ReporterFunction": "stack-ReporterFunction-AbC123",
    "FunctionLogGroup": "/aws/lambda/stack-ami-usage-reporter",
}


@pytest.fixture(scope="module")
def template() -> dict:
    return load_template(TEMPLATE)


def _body(template: dict, **params: str) -> tuple[str, dict]:
    """The dashboard body as CloudFormation renders it for `params`: (text, JSON)."""
    resources, _, values = deployed(template, **params)
    text = substitute(resources["Dashboard"]["Properties"]["DashboardBody"], values)

    def fake(m: re.Match) -> str:
        name = m.group(1)
        if name.endswith("Alarm.Arn"):
            return "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:" + name.removesuffix(".Arn")
        assert name in FAKE, f"the dashboard body refers to {name}"
        return FAKE[name]

    rendered = re.sub(r"\$\{([A-Za-z0-9:_.]+)\}", fake, text)
    return rendered, json.loads(rendered)


def _widgets(body: dict, kind: str) -> list[dict]:
    return [w for w in body["widgets"] if w["type"] == kind]


def test_dashboard_body_is_json_after_substitution_and_refers_only_to_deployed_names(template):
    resources, outputs, params = deployed(template)
    dashboard = resources["Dashboard"]
    assert dashboard["Type"] == "AWS::CloudWatch::Dashboard"
    assert dashboard["Properties"]["DashboardName"] == {"Fn::Sub": "${AWS::StackName}-ami-usage-reporter"}
    assert references(dashboard) <= set(resources) | set(params)
    _, body = _body(template)
    assert body["start"] == "-P7D"
    for w in body["widgets"]:
        assert {"type", "x", "y", "width", "height", "properties"} <= set(w)
        assert 0 <= w["x"] and w["x"] + w["width"] <= 24
        if w["type"] != "alarm":
            assert w["properties"]["region"] == FAKE["AWS::Region"]


def test_dashboard_metrics_are_exactly_what_metrics_rs_emits(template):
    _, body = _body(template)
    by_phase = emf_metrics.metrics_by_phase()
    shown: set[tuple[str, str]] = set()
    for w in _widgets(body, "metric"):
        props = w["properties"]
        assert props["stat"] in ("Sum", "Maximum") and props["period"] in (3600, 86400)
        for metric in props["metrics"]:
            # Full form, one function and one phase: a fixed number of series (no SEARCH,
            # no per-AMI or per-account dimension), whatever the fleet size.
            namespace, name, *dims = metric
            assert namespace == emf_metrics.namespace()
            assert dims[0::2] == emf_metrics.dimensions(), metric
            function, phase = dims[1::2]
            assert function == FAKE["ReporterFunction"]
            assert name in by_phase[phase], f"{name} is not a {phase} metric of src/metrics.rs"
            shown.add((phase, name))
    # What an operator looks at: created / archived, entries, verdicts, failures of
    # both phases, expiring unarchived.
    assert {
        ("create", "ReportsCreated"),
        ("collect", "ReportsArchived"),
        ("collect", "EntriesArchived"),
        ("collect", "NewCandidates"),
        ("collect", "StillUnused"),
        ("collect", "Candidates"),
        ("collect", "InUse"),
        ("collect", "Unknown"),
        ("create", "Failures"),
        ("collect", "Failures"),
        ("collect", "ExpiringUnarchived"),
    } <= shown
    # Every scheduled phase has its widgets; preflight runs by hand, its two metrics
    # (PreflightFailed, PreflightWarnings) are there for an alarm of the user's own.
    assert {p for p, _ in shown} == set(by_phase) - {"preflight"}


def test_dashboard_alarm_widget_lists_the_alarms_that_exist(template):
    alarms = {k for k, v in template["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    for state, expected in [("ENABLED", alarms), ("DISABLED", alarms - {"CollectRunsMissingAlarm"})]:
        _, body = _body(template, ScheduleState=state)
        (widget,) = _widgets(body, "alarm")
        names = {arn.rsplit(":", 1)[1] for arn in widget["properties"]["alarms"]}
        assert names == expected, state


def _summary_fields() -> set[str]:
    """Field names of the summary structs (serde names them after the fields)."""
    return {f for path in JOBS.rglob("*.rs") for f in re.findall(r"^\s*pub (\w+):", path.read_text(), re.M)}


def test_logs_insights_widget_reads_the_run_summary_line(template):
    _, body = _body(template)
    (widget,) = _widgets(body, "log")
    query = widget["properties"]["query"]
    commands = [c.strip() for c in query.split(" | ")]
    assert commands[0] == f"SOURCE '{FAKE['FunctionLogGroup']}'"
    # src/lambda.rs logs `tracing::info!(summary = %json, "run summary")`; with the JSON
    # log format tracing puts both under "fields".
    assert 'summary = %serde_json::to_string(&summary).unwrap_or_default(), "run summary");' in LAMBDA_RS.read_text()
    assert commands[1] == "filter `fields.message` = 'run summary'"
    parsed = []
    for c in commands:
        if c.startswith("parse "):
            m = re.fullmatch(r'parse `fields\.summary` /"(\w+)":\\?"?\(\?<(\w+)>[^/]*/', c)
            assert m, c
            parsed.append(m.groups())
    keys = {k for k, _ in parsed}
    assert keys <= _summary_fields() | {"phase"}, keys - _summary_fields()
    assert {"phase", "created", "archived", "entries_archived", "candidate", "in_use", "unknown"} <= keys
    display = next(c for c in commands if c.startswith("display "))
    shown = [f.strip() for f in display.removeprefix("display ").split(",")]
    assert shown[0] == "@timestamp" and {name for _, name in parsed} <= set(shown)
    assert commands[-2:] == ["sort @timestamp desc", "limit 48"]


# --------------------------------------------------------------------------- Slack

SLACK = {"SlackWorkspaceId": "T0123ABCD", "SlackChannelId": "C0123ABCDE"}
CHATBOT = {"ChatbotRole", "SlackChannel"}


@pytest.mark.parametrize(
    "given, created",
    [
        ({}, False),
        (SLACK, True),
        ({"SlackWorkspaceId": SLACK["SlackWorkspaceId"]}, False),
        ({"SlackChannelId": SLACK["SlackChannelId"]}, False),
    ],
)
def test_chatbot_channel_exists_only_when_both_slack_ids_are_set(template, given, created):
    resources, outputs, params = deployed(template, **given)
    assert (CHATBOT <= set(resources)) is created
    assert (CHATBOT & set(resources)) == (CHATBOT if created else set())
    assert ("SlackChannelConfigurationArn" in outputs) is created
    names = set(resources) | set(params)
    for where, item in [*resources.items(), *outputs.items()]:
        assert references(item) <= names, f"{where} refers to {sorted(references(item) - names)}"
    # Half-configured is refused at deployment (a Rules assertion), not silently skipped.
    (rule,) = template["Rules"]["SlackChannelNeedsBothIds"]["Assertions"]
    assert holds(rule["Assert"], template, params) is (len(given) != 1)


def test_chatbot_channel_is_subscribed_to_the_alert_topic_with_a_read_only_role(template):
    resources, _, params = deployed(template, **SLACK)
    channel = resources["SlackChannel"]
    assert channel["Type"] == "AWS::Chatbot::SlackChannelConfiguration"
    props = channel["Properties"]
    assert props["SlackWorkspaceId"] == {"Ref": "SlackWorkspaceId"}
    assert props["SlackChannelId"] == {"Ref": "SlackChannelId"}
    assert props["SnsTopicArns"] == [{"Ref": "AlertTopic"}]
    assert props["IamRoleArn"] == {"Fn::GetAtt": ["ChatbotRole", "Arn"]}
    # Without guardrails Chatbot applies AdministratorAccess: here CloudWatch read-only.
    assert props["GuardrailPolicies"] == ["arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess"]
    assert props["UserRoleRequired"] is False
    assert substitute(props["ConfigurationName"], params) == "${AWS::StackName}-alerts"

    role = resources["ChatbotRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {"Effect": "Allow", "Principal": {"Service": "chatbot.amazonaws.com"}, "Action": "sts:AssumeRole"}
    (policy,) = role["Policies"]
    actions = [a for st in policy["PolicyDocument"]["Statement"] for a in st["Action"]]
    assert all(st["Effect"] == "Allow" for st in policy["PolicyDocument"]["Statement"])
    # Read-only: CloudWatch Describe/Get/List, named one by one.
    assert actions and all(re.fullmatch(r"cloudwatch:(Describe|Get|List)\w+", a) for a in actions), actions
    assert "ManagedPolicyArns" not in role and "PermissionsBoundary" not in role


@pytest.mark.parametrize(
    "name, value, ok",
    [
        ("SlackWorkspaceId", "", True),
        ("SlackWorkspaceId", "T0123ABCD", True),
        ("SlackWorkspaceId", "t0123abcd", False),
        ("SlackWorkspaceId", "T0123 ABCD", False),
        ("SlackChannelId", "", True),
        ("SlackChannelId", "C0123ABCDE", True),
        ("SlackChannelId", "#alerts", False),
        ("SlackChannelId", "https://x.slack.com/archives/C0123ABCDE", False),
    ],
)
def test_slack_parameters_take_ids_only(template, name, value, ok):
    p = template["Parameters"][name]
    assert p["Default"] == ""
    assert (re.fullmatch(p["AllowedPattern"], value) is not None) is ok


def test_logs_insights_parse_patterns_pick_the_right_counts():
    """The widget's regexes (Python syntax for `(?<name>`) on summaries shaped like
    src/jobs' (serde field order, nested verdicts and alert): no key is mistaken for a
    longer one (already_archived, unknown_state, new_candidates)."""
    _, body = _body(load_template(TEMPLATE))
    (widget,) = _widgets(body, "log")
    patterns = [
        re.compile(c.split("/", 1)[1].rstrip("/").replace("(?<", "(?P<"))
        for c in widget["properties"]["query"].split(" | ")
        if c.startswith("parse ")
    ]

    def parsed(summary: dict) -> dict:
        text = json.dumps(summary, separators=(",", ":"))
        out = {}
        for p in patterns:
            m = p.search(text)
            if m:
                out.update(m.groupdict())
        return out

    collect = {
        "phase": "collect",
        "reports_seen": 9,
        "archived": 4,
        "entries_archived": 1234,
        "already_archived": 77,
        "pending": 2,
        "pending_too_long": [],
        "errors": [],
        "expiring_unarchived": [],
        "unknown_state": [{"report_id": "amiur-x", "image_id": "ami-1", "state": "odd", "detail": None}],
        "new_candidates": ["ami-1"],
        "still_unused": 3,
        "verdicts": {"selected": 20, "candidate": 5, "in_use": 12, "unknown": 3, "excluded": 0, "withheld": 0},
        "alert": {"subject": "s", "news": 1, "published": True, "message_id": "m"},
        "failed": [{"id": "amiur-e", "error": "boom"}],
        "remaining": 6,
    }
    assert parsed(collect) == {
        "phase": "collect",
        "archived": "4",
        "entries_archived": "1234",
        "candidates": "5",
        "in_use": "12",
        "unknown": "3",
        "remaining": "6",
        "alert_published": "true",
    }
    create = {"phase": "create", "period": "2026-12", "selected": 10, "created": 7, "failed": [], "remaining": 1}
    assert parsed(create) == {"phase": "create", "created": "7", "remaining": "1"}
