"""Production hardening of template.yaml: optional KMS keys, deny-other-encryption bucket
policy, topic policy, alarms on the EMF metrics, the on-failure destination, reserved
concurrency. Static checks of the template and of what the SAM transform makes of it
."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from support import emf_metrics
from support.cfn_conditions import condition_holds, deployed, parameter_values
from support.glue_schema import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


@pytest.fixture(scope="module")
def template() -> dict:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def expanded(tmp_path_factory) -> dict:
    lint = subprocess.run([str(ROOT / "scripts" / "lint-env")], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stderr
    lint_bin = Path(lint.stdout.strip().splitlines()[-1])
    out = tmp_path_factory.mktemp("sam") / "expanded.json"
    run = subprocess.run(
        [str(lint_bin / "python"), str(ROOT / "tests" / "support" / "sam_transform.py"), str(TEMPLATE), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(out.read_text())


def _res(tpl: dict, logical_id: str) -> dict:
    return tpl["Resources"][logical_id]


def test_optional_kms_keys_are_key_arns_and_default_off(template):
    for name in ("ArchiveKmsKeyArn", "AlertTopicKmsKeyArn"):
        p = template["Parameters"][name]
        assert p["Default"] == ""
        assert re.fullmatch(p["AllowedPattern"], "")
        assert re.fullmatch(
            p["AllowedPattern"], "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        )
        assert not re.fullmatch(p["AllowedPattern"], "alias/aws/sns")
        assert not re.fullmatch(p["AllowedPattern"], "arn:aws:kms:eu-west-1:123456789012:alias/mine")
    topic = _res(template, "AlertTopic")["Properties"]
    assert topic["KmsMasterKeyId"] == {
        "Fn::If": ["HasAlertTopicKmsKey", {"Ref": "AlertTopicKmsKeyArn"}, {"Ref": "AWS::NoValue"}]
    }


@pytest.mark.parametrize(
    "policy, key, service",
    [
        ("ArchiveKmsPolicy", "ArchiveKmsKeyArn", "s3"),
        ("AlertTopicKmsPolicy", "AlertTopicKmsKeyArn", "sns"),
    ],
)
def test_kms_grants_exist_only_with_a_key_and_only_through_the_service(template, policy, key, service):
    res = _res(template, policy)
    assert res["Type"] == "AWS::IAM::Policy"
    assert (
        res["Condition"] == {"ArchiveKmsKeyArn": "HasArchiveKmsKey", "AlertTopicKmsKeyArn": "HasAlertTopicKmsKey"}[key]
    )
    assert res["Properties"]["Roles"] == [{"Ref": "FunctionRole"}]
    (st,) = res["Properties"]["PolicyDocument"]["Statement"]
    assert st["Effect"] == "Allow" and sorted(st["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert st["Resource"] == {"Ref": key}
    assert st["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": service + ".${AWS::Region}.amazonaws.com"}}
    }


def test_bucket_denies_other_encryption_and_customer_keys(template):
    statements = _res(template, "ArchiveBucketPolicy")["Properties"]["PolicyDocument"]["Statement"]
    plain = {st["Sid"]: st for st in statements if "Sid" in st}
    assert set(plain) == {"DenyInsecureTransport", "DenyOtherEncryption", "DenyCustomerProvidedKeys"}
    other = plain["DenyOtherEncryption"]
    assert (other["Effect"], other["Action"], other["Principal"]) == ("Deny", "s3:PutObject", "*")
    assert other["Condition"] == {
        "StringNotEqualsIfExists": {
            "s3:x-amz-server-side-encryption": {"Fn::If": ["HasArchiveKmsKey", "aws:kms", "AES256"]}
        }
    }
    ssec = plain["DenyCustomerProvidedKeys"]
    assert ssec["Condition"] == {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}
    (conditional,) = [st["Fn::If"] for st in statements if "Fn::If" in st]
    cond, kms_only, otherwise = conditional
    assert cond == "HasArchiveKmsKey" and otherwise == {"Ref": "AWS::NoValue"}
    assert kms_only["Sid"] == "DenyOtherKmsKeys"
    assert kms_only["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": {"Ref": "ArchiveKmsKeyArn"}}
    }


def test_access_logs_are_optional(template):
    logging = _res(template, "ArchiveBucket")["Properties"]["LoggingConfiguration"]
    cond, on, off = logging["Fn::If"]
    assert cond == "HasAccessLogBucket" and off == {"Ref": "AWS::NoValue"}
    assert on["DestinationBucketName"] == {"Ref": "AccessLogBucketName"}


def test_topic_policy_lets_only_own_alarms_publish_and_requires_tls(template):
    doc = _res(template, "AlertTopicPolicy")["Properties"]["PolicyDocument"]
    allow, deny = doc["Statement"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and allow["Action"] == "sns:Publish"
    assert allow["Condition"] == {
        "ArnLike": {
            "aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"}
        }
    }
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def _alarms(template) -> dict[str, dict]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}


def _assert_names_an_emitted_metric(alarm: dict, phase: str) -> None:
    """The alarm's namespace, metric and dimensions are what src/metrics.rs emits for
    `phase` (read from its text, so the two cannot drift apart)."""
    assert alarm["Namespace"] == emf_metrics.namespace()
    assert alarm["MetricName"] in emf_metrics.metrics_by_phase()[phase], (alarm["MetricName"], phase)
    assert [d["Name"] for d in alarm["Dimensions"]] == emf_metrics.dimensions()
    assert alarm["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": "ReporterFunction"}},
        {"Name": "Phase", "Value": phase},
    ]


def test_alarms_watch_real_metrics_and_notify_the_topic(template):
    alarms = _alarms(template)
    assert set(alarms) == {
        "FunctionErrorsAlarm",
        "ExpiringUnarchivedAlarm",
        "FailedInvocationsAlarm",
        "CollectFailuresAlarm",
        "CreateFailuresAlarm",
        "CollectRunsMissingAlarm",
    }
    for props in alarms.values():
        assert props["AlarmActions"] == [{"Ref": "AlertTopic"}]
    for name in ("FunctionErrorsAlarm", "ExpiringUnarchivedAlarm", "FailedInvocationsAlarm"):
        props = alarms[name]
        assert props["TreatMissingData"] == "notBreaching"
        assert props["Threshold"] == 1 and props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    errors = alarms["FunctionErrorsAlarm"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "ReporterFunction"}}]
    expiring = alarms["ExpiringUnarchivedAlarm"]
    assert expiring["MetricName"] == "ExpiringUnarchived"
    _assert_names_an_emitted_metric(expiring, "collect")
    failed = alarms["FailedInvocationsAlarm"]
    assert failed["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["FailedInvocationsQueue", "QueueName"]}}
    ]


@pytest.mark.parametrize(
    "name, phase, period, evaluation, to_alarm",
    [
        # Hourly collects retry their failed items: 2 failing hours of the last 3.
        ("CollectFailuresAlarm", "collect", 3600, 3, 2),
        # Daily creates: any failure in a day.
        ("CreateFailuresAlarm", "create", 86400, 1, None),
    ],
)
def test_a_run_that_finishes_with_failed_items_alarms(template, name, phase, period, evaluation, to_alarm):
    alarm = _alarms(template)[name]
    assert alarm["MetricName"] == "Failures"
    _assert_names_an_emitted_metric(alarm, phase)
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", period, evaluation)
    assert alarm.get("DatapointsToAlarm") == to_alarm
    # Failures > 0: one failed item is enough.
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    # A run that never happened is CollectRunsMissingAlarm's business, not a failure.
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["OKActions"] == [{"Ref": "AlertTopic"}]
    assert "Condition" not in template["Resources"][name]
    # CloudWatch evaluates at most one day of periods at once.
    assert period * evaluation <= 86400


def test_a_collect_run_that_never_happened_alarms(template):
    alarm = _alarms(template)["CollectRunsMissingAlarm"]
    assert alarm["MetricName"] == "ReportsSeen"
    _assert_names_an_emitted_metric(alarm, "collect")
    # No completed collect run (no data point at all) in N consecutive hours.
    assert (alarm["Statistic"], alarm["Period"]) == ("SampleCount", 3600)
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == {"Ref": "CollectRunsMissingHours"}
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
    assert alarm["TreatMissingData"] == "breaching"
    hours = template["Parameters"]["CollectRunsMissingHours"]
    assert (hours["Default"], hours["MinValue"], hours["MaxValue"]) == (3, 1, 24)
    # Only when the schedules run: a stack deployed DISABLED would alarm for ever.
    assert template["Resources"]["CollectRunsMissingAlarm"]["Condition"] == "SchedulesEnabled"
    params = parameter_values(template)
    assert condition_holds(template, "SchedulesEnabled", params)
    assert not condition_holds(template, "SchedulesEnabled", {**params, "ScheduleState": "DISABLED"})
    assert "CollectRunsMissingAlarm" not in deployed(template, ScheduleState="DISABLED")[0]


def test_async_failures_go_to_an_encrypted_queue(template, expanded):
    props = _res(template, "ReporterFunction")["Properties"]
    cfg = props["EventInvokeConfig"]
    assert cfg["MaximumRetryAttempts"] == 2 and cfg["MaximumEventAgeInSeconds"] == 3600
    assert cfg["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]},
    }
    queue = _res(template, "FailedInvocationsQueue")["Properties"]
    assert queue["KmsMasterKeyId"] == "alias/aws/sqs" and queue["MessageRetentionPeriod"] == 1209600
    (invoke_config,) = [r for r in expanded["Resources"].values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    on_failure = invoke_config["Properties"]["DestinationConfig"]["OnFailure"]
    assert on_failure["Destination"] == {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}


def test_reserved_concurrency_defaults_to_one_run_at_a_time(template, expanded):
    p = template["Parameters"]["ReservedConcurrency"]
    assert (p["Default"], p["MinValue"]) == (1, 0)
    props = _res(template, "ReporterFunction")["Properties"]
    assert props["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    lam = expanded["Resources"]["ReporterFunction"]["Properties"]
    assert lam["ReservedConcurrentExecutions"] == props["ReservedConcurrentExecutions"]


def test_role_has_the_path_central_bucket_policies_name(template):
    assert _res(template, "FunctionRole")["Properties"]["Path"] == "/ami-usage-reporter/"
