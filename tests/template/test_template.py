"""Static checks of template.yaml, deploy/iam-policy.json, events/ and queries/.

cfn-lint, checkov and the SAM translator run from the linters' own venv
(scripts/lint-env), as subprocesses; nothing here needs AWS credentials or network
(checkov runs with --skip-download).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import sqlglot
from support.glue_schema import glue_columns, glue_partition_keys, glue_tables, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
QUERIES = ROOT / "queries"
EVENTS = ROOT / "events"
IAM_POLICY = ROOT / "deploy" / "iam-policy.json"
DEPLOY_README = ROOT / "deploy" / "README.md"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def lint_bin() -> Path:
    out = subprocess.run([str(ROOT / "scripts" / "lint-env")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, f"scripts/lint-env failed:\n{out.stderr}"
    return Path(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def template() -> dict:
    return load_template(TEMPLATE)


@pytest.fixture(scope="session")
def expanded(lint_bin, tmp_path_factory) -> tuple[Path, dict]:
    """template.yaml after the SAM transform (what CloudFormation deploys)."""
    out = tmp_path_factory.mktemp("sam") / "expanded.json"
    run = subprocess.run(
        [str(lint_bin / "python"), str(ROOT / "tests" / "support" / "sam_transform.py"), str(TEMPLATE), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, f"SAM transform failed:\n{run.stdout}\n{run.stderr}"
    return out, json.loads(out.read_text())


def _resources(tpl: dict, rtype: str) -> dict[str, dict]:
    return {k: v for k, v in tpl["Resources"].items() if v["Type"] == rtype}


def _as_list(v):
    return v if isinstance(v, list) else [v]


# --------------------------------------------------------------------------- linters


def _cfn_lint(lint_bin: Path, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(lint_bin / "cfn-lint"), str(path)], cwd=ROOT, capture_output=True, text=True)


def test_cfn_lint_reports_nothing(lint_bin):
    run = _cfn_lint(lint_bin, TEMPLATE)
    assert (run.returncode, run.stdout.strip()) == (0, ""), run.stdout + run.stderr


def test_cfn_lint_reports_nothing_on_the_expanded_template(lint_bin, expanded):
    path, _ = expanded
    run = _cfn_lint(lint_bin, path)
    assert (run.returncode, run.stdout.strip()) == (0, ""), run.stdout + run.stderr


def test_cfn_lint_really_lints(lint_bin, tmp_path):
    # Guard against a silently broken linter: a template with two known defects fails.
    bad = TEMPLATE.read_text().replace("Timeout: 900", "Timeout: 90000", 1)
    bad = bad.replace("Handler: bootstrap", "Handler: bootstrap\n      Bogus: 1", 1)
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    run = _cfn_lint(lint_bin, path)
    assert run.returncode != 0
    assert "Bogus" in run.stdout and "90000" in run.stdout


def _checkov(lint_bin: Path, path: Path) -> dict:
    run = subprocess.run(
        [
            str(lint_bin / "checkov"),
            "-f",
            str(path),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
        ],
        cwd=path.parent,
        capture_output=True,
        text=True,
    )
    assert run.stdout.strip(), f"checkov printed nothing:\n{run.stderr}"
    report = json.loads(run.stdout)
    return report["results"]


def _metadata_skips(tpl: dict) -> dict[tuple[str, str], str]:
    skips = {}
    for logical_id, res in tpl["Resources"].items():
        for skip in ((res.get("Metadata") or {}).get("checkov") or {}).get("skip", []):
            skips[(logical_id, skip["id"])] = skip.get("comment", "")
    return skips


@pytest.mark.slow
@pytest.mark.parametrize("which", ["template", "expanded"])
def test_checkov_has_no_failed_check_and_every_skip_is_justified(lint_bin, expanded, template, which):
    path = TEMPLATE if which == "template" else expanded[0]
    results = _checkov(lint_bin, path)
    failed = [(c["check_id"], c["resource"], c["check_name"]) for c in results["failed_checks"]]
    assert failed == []
    assert len(results["passed_checks"]) >= 20, "checkov ran (almost) no check"

    skips = _metadata_skips(template)
    for (logical_id, check_id), comment in skips.items():
        assert len(comment.split()) >= 8, f"skip {check_id} on {logical_id} needs a real reason"
    skipped = {(c["resource"].split(".", 1)[1], c["check_id"]) for c in results["skipped_checks"]}
    assert skipped == set(skips), "checkov skips must match Metadata.checkov (no stale skip)"


# --------------------------------------------------------------------------- function


def test_function_properties(template, expanded):
    fn = _resources(template, "AWS::Serverless::Function")
    assert list(fn) == ["ReporterFunction"]
    res = fn["ReporterFunction"]
    assert res["Metadata"]["BuildMethod"] == "rust-cargolambda"
    assert res["Metadata"]["BuildProperties"]["Binary"] == "ami-usage-reporter"
    props = res["Properties"]
    assert props["Runtime"] == "provided.al2023"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "bootstrap"
    assert props["Timeout"] == 900 and props["MemorySize"] == 256
    assert props["LoggingConfig"] == {"LogFormat": "JSON", "LogGroup": {"Ref": "FunctionLogGroup"}}
    log_group = template["Resources"]["FunctionLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}

    lam = expanded[1]["Resources"]["ReporterFunction"]
    assert lam["Type"] == "AWS::Lambda::Function"
    assert lam["Properties"]["LoggingConfig"]["LogFormat"] == "JSON"
    assert lam["Properties"]["Architectures"] == ["arm64"]


def test_function_environment_is_the_contract(template):
    env = template["Resources"]["ReporterFunction"]["Properties"]["Environment"]["Variables"]
    assert set(env) == {
        "ARCHIVE_BUCKET",
        "ARCHIVE_PREFIX",
        "ALERT_TOPIC_ARN",
        "AMI_TAG_FILTERS",
        "LAUNCH_TEMPLATE_VERSION_DEPTH",
        "REPORT_ACCOUNT_IDS",
        "PENDING_ALERT_HOURS",
        "EXPIRY_WARNING_DAYS",
        "SNAPSHOT_GB_MONTH_USD",
        "CREATE_CONCURRENCY",
        "ATHENA_DATABASE",
        "ATHENA_WORKGROUP",
        "ARCHIVE_BUCKET_REGION",
        "PROBE_OWNER_ACCOUNT_IDS",
        "REQUIRE_MEMBER_PROBES",
        "RETIRE_MODE",
        "RETIRE_DEPRECATE_AFTER_DAYS",
        "RETIRE_DEPRECATION_NOTICE_DAYS",
        "RETIRE_DISABLE_AFTER_DAYS",
        "RETIRE_DEREGISTER_AFTER_DAYS",
        "RETIRE_REQUIRE_RECYCLE_BIN",
        "RETIRE_DELETE_SNAPSHOTS",
        "RETIRE_MAX_ACTIONS_PER_RUN",
        "RETIRE_MIN_RECYCLE_BIN_DAYS",
        "DIGEST_RESERVATIONS",
        "RI_UTILIZATION_ALERT_PERCENT",
        "DIGEST_LIST_LIMIT",
        "ROUTE_TAG",
    }
    for var, param in (
        ("DIGEST_RESERVATIONS", "DigestReservations"),
        ("RI_UTILIZATION_ALERT_PERCENT", "RiUtilizationAlertPercent"),
        ("DIGEST_LIST_LIMIT", "DigestListLimit"),
        ("ROUTE_TAG", "RouteTag"),
    ):
        assert env[var] == {"Ref": param}
    assert env["ARCHIVE_BUCKET"] == {
        "Fn::If": ["UseCentralArchive", {"Ref": "CentralArchiveBucket"}, {"Ref": "ArchiveBucket"}]
    }
    # The stack's own bucket is in the stack's Region; a central one wherever it was made.
    assert env["ARCHIVE_BUCKET_REGION"] == {
        "Fn::If": ["UseCentralArchive", {"Ref": "ArchiveBucketRegion"}, {"Ref": "AWS::Region"}]
    }
    assert env["ATHENA_DATABASE"] == {
        "Fn::If": ["UseCentralArchive", {"Ref": "AthenaDatabaseName"}, {"Ref": "AthenaDatabase"}]
    }
    assert env["ATHENA_WORKGROUP"] == {
        "Fn::If": ["UseCentralArchive", {"Ref": "CentralAthenaWorkGroup"}, {"Ref": "AthenaWorkGroup"}]
    }
    assert env["ARCHIVE_PREFIX"] == {
        "Fn::If": [
            "UseCentralArchive",
            {"Fn::Sub": "${ArchivePrefix}/account=${AWS::AccountId}"},
            {"Ref": "ArchivePrefix"},
        ]
    }
    assert env["ALERT_TOPIC_ARN"] == {"Ref": "AlertTopic"}
    params = template["Parameters"]
    assert params["ArchivePrefix"]["Default"] == "ami-usage"
    depth = params["LaunchTemplateVersionDepth"]
    assert (depth["Default"], depth["MinValue"], depth["MaxValue"]) == (20, 1, 10000)
    assert params["PendingAlertHours"]["Default"] == 24
    assert params["ExpiryWarningDays"]["Default"] == 7
    assert params["SnapshotGbMonthUsd"]["Default"] == "0.05"
    assert params["CreateConcurrency"]["Default"] == 8
    # The contract's defaults and bounds (src/config/ validates the same).
    assert params["DigestReservations"]["Default"] == "off"
    assert params["DigestReservations"]["AllowedValues"] == ["off", "on"]
    alert = params["RiUtilizationAlertPercent"]
    assert (alert["Default"], alert["MinValue"], alert["MaxValue"]) == (80, 1, 100)
    limit = params["DigestListLimit"]
    assert (limit["Default"], limit["MinValue"], limit["MaxValue"]) == (20, 1, 1000)
    assert params["RouteTag"]["Default"] == ""


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("", True),
        ("team", True),
        ("cost-center:team", True),
        ("Owner Team/v2", True),
        ("a" * 129, False),
        ("bad{", False),
    ],
)
def test_route_tag_parameter_takes_a_tag_key(template, value, ok):
    pattern = template["Parameters"]["RouteTag"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is ok


def _load_event(name: str):
    return json.loads((EVENTS / name).read_text())


def test_schedules_deliver_the_phase_events(template, expanded):
    events = template["Resources"]["ReporterFunction"]["Properties"]["Events"]
    assert {e["Type"] for e in events.values()} == {"ScheduleV2"}
    schedules = _resources(expanded[1], "AWS::Scheduler::Schedule")
    by_phase = {json.loads(s["Properties"]["Target"]["Input"])["phase"]: s for s in schedules.values()}
    assert set(by_phase) == {"create", "collect", "probe", "digest"}
    for phase, sched in by_phase.items():
        target = sched["Properties"]["Target"]
        assert json.loads(target["Input"]) == _load_event(f"{phase}.json")
        assert target["Arn"] == {"Fn::GetAtt": ["ReporterFunction", "Arn"]}
        assert sched["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-" + phase}
    assert by_phase["create"]["Properties"]["ScheduleExpression"] == {"Ref": "CreateScheduleExpression"}
    assert by_phase["collect"]["Properties"]["ScheduleExpression"] == {"Ref": "CollectScheduleExpression"}
    # The probe runs only in member stacks that name owners (organisation mode).
    assert by_phase["probe"]["Properties"]["ScheduleExpression"] == {"Ref": "ProbeScheduleExpression"}
    assert by_phase["probe"]["Properties"]["State"] == {
        "Fn::If": ["RunsMemberProbe", {"Ref": "ScheduleState"}, "DISABLED"]
    }
    assert by_phase["create"]["Properties"]["State"] == {"Ref": "ScheduleState"}
    assert by_phase["digest"]["Properties"]["State"] == {"Ref": "ScheduleState"}
    assert by_phase["digest"]["Properties"]["ScheduleExpression"] == {"Ref": "DigestScheduleExpression"}
    assert template["Parameters"]["DigestScheduleExpression"]["Default"] == "cron(0 8 ? * MON *)"
    assert _load_event("digest.json") == {"phase": "digest"}
    assert template["Parameters"]["CreateScheduleExpression"]["Default"] == "cron(0 6 * * ? *)"
    assert template["Parameters"]["CollectScheduleExpression"]["Default"] == "cron(30 * * * ? *)"
    # EventBridge Scheduler delivers the Input alone: events/scheduler.json is collect.json.
    assert _load_event("scheduler.json") == _load_event("collect.json") == {"phase": "collect"}
    assert _load_event("create.json") == {"phase": "create"}


def test_scheduled_rule_sample_is_a_real_envelope():
    ev = _load_event("scheduled-rule.json")
    assert set(ev) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert ev["detail-type"] == "Scheduled Event" and ev["source"] == "aws.events"
    assert ev["detail"] == {} and re.fullmatch(r"\d{12}", ev["account"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ev["time"])
    (rule,) = ev["resources"]
    assert re.fullmatch(rf"arn:aws:events:{ev['region']}:{ev['account']}:rule/[\w.-]+-collect", rule)


# --------------------------------------------------------------------------- IAM


def _policy_statements(tpl: dict):
    """(where, statement) for every policy statement of every IAM role/bucket/topic policy."""
    for logical_id, res in tpl["Resources"].items():
        props = res.get("Properties", {})
        docs = []
        if res["Type"] == "AWS::IAM::Role":
            docs += [p["PolicyDocument"] for p in props.get("Policies", [])]
        if res["Type"] in (
            "AWS::S3::BucketPolicy",
            "AWS::SNS::TopicPolicy",
            "AWS::IAM::Policy",
            "AWS::IAM::ManagedPolicy",
        ):
            docs.append(props["PolicyDocument"])
        if res["Type"] == "AWS::Serverless::Function":
            assert "Policies" not in props, "use the explicit FunctionRole"
        for doc in docs:
            for st in _as_list(doc["Statement"]):
                if "Fn::If" in st:  # a conditional statement: check every real branch
                    for branch in st["Fn::If"][1:]:
                        if branch != {"Ref": "AWS::NoValue"}:
                            yield logical_id, branch
                else:
                    yield logical_id, st


def _assert_no_wildcard_grant(where: str, st: dict):
    assert "NotAction" not in st and "NotResource" not in st, where
    actions = _as_list(st["Action"])
    if st["Effect"] == "Deny":
        # A Deny of every action is only ever the TLS-only guard; other Denies (wrong
        # encryption) name their action.
        if any("*" in a for a in actions):
            assert st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, where
        return
    for action in actions:
        assert "*" not in action, f"{where}: wildcard action {action!r} granted"


def test_no_wildcard_action_is_granted(template, expanded):
    seen = 0
    for tpl in (template, expanded[1]):
        for where, st in _policy_statements(tpl):
            _assert_no_wildcard_grant(where, st)
            seen += 1
    for st in json.loads(IAM_POLICY.read_text())["Statement"]:
        _assert_no_wildcard_grant("deploy/iam-policy.json", st)
        seen += 1
    assert seen >= 20


def _role_statements(template) -> list[dict]:
    """The statements every deployment has (deploy/iam-policy.json is exactly these)."""
    (policy,) = template["Resources"]["FunctionRole"]["Properties"]["Policies"]
    return [st for st in policy["PolicyDocument"]["Statement"] if "Fn::If" not in st]


def test_owners_read_member_probe_facts_only_with_require_member_probes(template):
    (policy,) = template["Resources"]["FunctionRole"]["Properties"]["Policies"]
    conditional = [st["Fn::If"] for st in policy["PolicyDocument"]["Statement"] if "Fn::If" in st]
    members = [c for c in conditional if c[0] == "RunsMemberProbe"]
    conditional = [c for c in conditional if c[0] == "ReadsMemberProbes"]
    assert [(c[0], c[2]) for c in conditional] == [("ReadsMemberProbes", {"Ref": "AWS::NoValue"})] * 2
    # Members read their Allowed AMIs settings and the owners' retirement lists, nothing else.
    allowed, retiring, retiring_listing = (c[1] for c in members)
    assert (allowed["Action"], allowed["Resource"]) == ("ec2:GetAllowedImagesSettings", "*")
    assert retiring["Action"] == "s3:GetObject"
    assert retiring["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${CentralArchiveBucket}/${ArchivePrefix}/account=*/retiring/*"
    }
    assert retiring_listing["Action"] == "s3:ListBucket"
    assert retiring_listing["Condition"] == {
        "StringLike": {"s3:prefix": {"Fn::Sub": "${ArchivePrefix}/account=*/retiring/*"}}
    }
    get, listing = (c[1] for c in conditional)
    assert (get["Action"], listing["Action"]) == ("s3:GetObject", "s3:ListBucket")
    assert get["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${CentralArchiveBucket}/${ArchivePrefix}/account=*/references/*"
    }
    assert listing["Condition"] == {"StringLike": {"s3:prefix": {"Fn::Sub": "${ArchivePrefix}/account=*/references/*"}}}
    env = template["Resources"]["ReporterFunction"]["Properties"]["Environment"]["Variables"]
    assert env["REQUIRE_MEMBER_PROBES"] == {"Fn::If": ["ReadsMemberProbes", {"Ref": "RequireMemberProbes"}, ""]}
    assert env["PROBE_OWNER_ACCOUNT_IDS"] == {"Fn::If": ["RunsMemberProbe", {"Ref": "ProbeOwnerAccountIds"}, ""]}


def test_cost_explorer_is_granted_only_with_digest_reservations_on(template):
    (policy,) = template["Resources"]["FunctionRole"]["Properties"]["Policies"]
    conditional = {st["Fn::If"][0]: st["Fn::If"] for st in policy["PolicyDocument"]["Statement"] if "Fn::If" in st}
    assert set(conditional) == {
        "ReadsMemberProbes",
        "RunsMemberProbe",
        "DigestReservationsOn",
        *("RetireRuns", "RetireEnforced", "RetireDeletesSnapshots"),  # test_retirement_template.py
    }
    _, granted, otherwise = conditional["DigestReservationsOn"]
    assert otherwise == {"Ref": "AWS::NoValue"}
    # Cost Explorer has no resource-level permissions: "*" is its only resource.
    assert granted == {
        "Sid": "ReadReservationUtilization",
        "Effect": "Allow",
        "Action": "ce:GetReservationUtilization",
        "Resource": "*",
    }
    assert template["Conditions"]["DigestReservationsOn"] == {"Fn::Equals": [{"Ref": "DigestReservations"}, "on"]}
    statements = policy["PolicyDocument"]["Statement"]
    everything_else = json.dumps([st for st in statements if st.get("Fn::If", [None])[0] != "DigestReservationsOn"])
    assert "ce:" not in everything_else and "ce:" not in IAM_POLICY.read_text()


# What DescribeImageReferences reads on the caller's behalf (EC2 User Guide), which the
# member probe also scans itself; describes and lists without resource-level support.
IMAGE_REFERENCES_READ = (
    "ec2:DescribeInstances",
    "ec2:DescribeLaunchTemplates",
    "ec2:DescribeLaunchTemplateVersions",
    "ssm:DescribeParameters",
    "imagebuilder:ListImageRecipes",
    "imagebuilder:ListContainerRecipes",
)


def _by_action(statements) -> dict[str, dict]:
    out = {}
    for st in statements:
        for a in _as_list(st["Action"]):
            assert a not in out, f"{a} granted twice"
            out[a] = st
    return out


def test_function_role_is_least_privilege(template):
    sts = _by_action(_role_statements(template))
    assert set(sts) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "ec2:DescribeImages",
        "ec2:DescribeImageUsageReports",
        "ec2:DescribeImageUsageReportEntries",
        "ec2:DescribeImageReferences",
        "autoscaling:DescribeLaunchConfigurations",
        "ec2:DescribeSpotFleetRequests",
        "ec2:DescribeFleets",
        *IMAGE_REFERENCES_READ,
        "ssm:GetParameters",
        "imagebuilder:GetContainerRecipe",
        "ec2:DescribeImageAttribute",
        "ec2:CreateImageUsageReport",
        "ec2:CreateTags",
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "s3:AbortMultipartUpload",
        "s3:ListBucketMultipartUploads",
        "s3:DeleteObject",
        "sns:Publish",
        "sns:GetTopicAttributes",
        "sqs:SendMessage",
    }

    def text(r):  # the template text of a Sub, in both of its forms
        return r if isinstance(r, str) else r["Fn::Sub"] if isinstance(r["Fn::Sub"], str) else r["Fn::Sub"][0]

    sub = lambda st: [text(r) for r in _as_list(st["Resource"])]  # noqa: E731
    # Only the describe actions without resource-level support get "*".
    star = {a for a, st in sts.items() if st["Resource"] == "*"}
    assert star == {
        "ec2:DescribeImages",
        "ec2:DescribeImageUsageReports",
        "ec2:DescribeImageUsageReportEntries",
        "ec2:DescribeImageReferences",
        "autoscaling:DescribeLaunchConfigurations",
        "ec2:DescribeSpotFleetRequests",
        "ec2:DescribeFleets",
        *IMAGE_REFERENCES_READ,
    }
    assert sub(sts["ssm:GetParameters"]) == [
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/*",
        "arn:${AWS::Partition}:imagebuilder:${AWS::Region}:${AWS::AccountId}:container-recipe/*",
    ]
    assert sub(sts["s3:GetObject"]) == ["arn:${AWS::Partition}:s3:::${ArchiveBucketName}/${ArchiveKeyPrefix}/*"]
    assert sts["s3:PutObject"] is sts["s3:GetObject"]
    assert sub(sts["s3:ListBucket"]) == ["arn:${AWS::Partition}:s3:::${ArchiveBucketName}"]
    (prefix,) = sts["s3:ListBucket"]["Condition"]["StringLike"]["s3:prefix"]
    assert text(prefix) == "${ArchiveKeyPrefix}/*"
    # Own bucket: the archive prefix; organisation mode: the central bucket, own account's prefix.
    variables = sts["s3:GetObject"]["Resource"]["Fn::Sub"][1]
    assert variables == {
        "ArchiveBucketName": {
            "Fn::If": ["UseCentralArchive", {"Ref": "CentralArchiveBucket"}, {"Ref": "ArchiveBucket"}]
        },
        "ArchiveKeyPrefix": {
            "Fn::If": [
                "UseCentralArchive",
                {"Fn::Sub": "${ArchivePrefix}/account=${AWS::AccountId}"},
                {"Ref": "ArchivePrefix"},
            ]
        },
    }
    assert prefix["Fn::Sub"][1] == {"ArchiveKeyPrefix": variables["ArchiveKeyPrefix"]}
    assert sub(sts["sns:Publish"]) == ["${AlertTopic}"]
    assert sts["sns:GetTopicAttributes"] is sts["sns:Publish"]  # preflight reads the topic, no other
    # Deleting: preflight's one test object only, never the archive.
    assert sub(sts["s3:DeleteObject"]) == [
        "arn:${AWS::Partition}:s3:::${ArchiveBucketName}/${ArchiveKeyPrefix}/_preflight/*"
    ]
    assert sts["s3:DeleteObject"]["Resource"]["Fn::Sub"][1] == variables
    assert sub(sts["sqs:SendMessage"]) == ["${FailedInvocationsQueue.Arn}"]
    assert sts["ec2:CreateTags"]["Condition"] == {"StringEquals": {"ec2:CreateAction": "CreateImageUsageReport"}}
    assert sub(sts["ec2:CreateTags"]) == [
        "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:image-usage-report/*"
    ]
    assert sub(sts["ec2:CreateImageUsageReport"]) == [
        "arn:${AWS::Partition}:ec2:${AWS::Region}::image/*",
        "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:image-usage-report/*",
    ]
    assert sub(sts["logs:PutLogEvents"]) == [
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${FunctionLogGroup}:*"
    ]
    # The role never reaches the Athena results prefix.
    for st in sts.values():
        for r in sub(st):
            assert "athena-results" not in r


_PLACEHOLDERS = {
    "${AWS::Partition}": "${Partition}",
    "${AWS::Region}": "${Region}",
    "${AWS::AccountId}": "${AccountId}",
    "${FunctionLogGroup}": "${LogGroupName}",
    "${AlertTopic}": "${AlertTopicArn}",
    "${FailedInvocationsQueue.Arn}": "${FailedInvocationsQueueArn}",
    "${ArchiveBucketName}": "${ArchiveBucket}",
    "${ArchiveKeyPrefix}": "${ArchivePrefix}",
}


def _to_placeholders(value):
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        for cfn, placeholder in _PLACEHOLDERS.items():
            text = text.replace(cfn, placeholder)
        return text
    if isinstance(value, dict):
        return {k: _to_placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_placeholders(v) for v in value]
    return value


def test_deploy_iam_policy_equals_the_function_role(template):
    policy = json.loads(IAM_POLICY.read_text())
    assert policy["Version"] == "2012-10-17"
    assert policy["Statement"] == _to_placeholders(_role_statements(template))


def test_deploy_readme_documents_every_placeholder_and_parameter(template):
    readme = DEPLOY_README.read_text()
    placeholders = set(re.findall(r"\$\{(\w+)\}", IAM_POLICY.read_text()))
    assert placeholders == {
        "Partition",
        "Region",
        "AccountId",
        "LogGroupName",
        "ArchiveBucket",
        "ArchivePrefix",
        "AlertTopicArn",
        "FailedInvocationsQueueArn",
    }
    for name in placeholders:
        assert "${" + name + "}" in readme, f"deploy/README.md does not document ${{{name}}}"
    for sid in (st["Sid"] for st in json.loads(IAM_POLICY.read_text())["Statement"]):
        assert sid in readme, f"deploy/README.md does not explain statement {sid}"
    for param in template["Parameters"]:
        assert param in readme, f"deploy/README.md does not mention parameter {param}"


# --------------------------------------------------------------------------- bucket


def test_bucket_is_private_versioned_encrypted_and_tls_only(template):
    b = template["Resources"]["ArchiveBucket"]["Properties"]
    (sse,) = b["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    cond, kms, default = sse["Fn::If"]
    assert cond == "HasArchiveKmsKey"
    assert default == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    assert kms["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Ref": "ArchiveKmsKeyArn"},
    }
    assert kms["BucketKeyEnabled"] is True
    assert b["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(b["PublicAccessBlockConfiguration"].values())
    assert len(b["PublicAccessBlockConfiguration"]) == 4
    st = template["Resources"]["ArchiveBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_lifecycle_rules(template):
    rules = template["Resources"]["ArchiveBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    plain = {r["Id"]: r for r in rules if "Id" in r}
    assert plain["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": {"Ref": "NoncurrentVersionRetentionDays"}
    }
    assert plain["expire-athena-results"]["Prefix"] == "athena-results/"
    conditional = [r["Fn::If"] for r in rules if "Fn::If" in r]
    assert len(conditional) == 2
    for cond, rule, otherwise in conditional:
        assert cond == "HasArchiveRetention" and otherwise == {"Ref": "AWS::NoValue"}
        assert rule["ExpirationInDays"] == {"Ref": "ArchiveRetentionDays"}
    assert {r[1]["Prefix"]["Fn::Sub"] for r in conditional} == {
        "${ArchivePrefix}/entries/",
        "${ArchivePrefix}/reports/",
    }
    assert template["Parameters"]["ArchiveRetentionDays"]["Default"] == 0
    assert template["Conditions"]["HasArchiveRetention"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ArchiveRetentionDays"}, "0"]}]
    }


@pytest.mark.parametrize(
    "prefix,ok",
    [
        ("ami-usage", True),
        ("team/ami-usage", True),
        ("a", True),
        ("ami_usage.v1", True),
        ("athena-results", False),
        ("athena-results/x", False),
        ("/ami-usage", False),
        ("ami-usage/", False),
        ("a//b", False),
        ("", False),
        ("athena-results-archive", True),
    ],
)
def test_archive_prefix_cannot_overlap_athena_results(template, prefix, ok):
    pattern = template["Parameters"]["ArchivePrefix"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, prefix)) is ok


def test_alert_topic_and_optional_email(template):
    sub = template["Resources"]["AlertEmailSubscription"]
    assert sub["Condition"] == "HasAlertEmail" and sub["Properties"]["Protocol"] == "email"
    assert template["Parameters"]["AlertEmail"]["Default"] == ""


# --------------------------------------------------------------------------- Glue/Athena

ENTRIES_COLUMNS = {
    "schema_version": "int",
    "report_id": "string",
    "image_id": "string",
    "account_id": "string",
    "resource_type": "string",
    "usage_count": "bigint",
    "report_creation_time": "timestamp",
    "owner_account_id": "string",
    "collected_at": "timestamp",
}

IMAGE_STRUCT = (
    "struct<name:string,description:string,creation_date:timestamp,state:string,"
    "architecture:string,platform_details:string,usage_operation:string,"
    "tags:map<string,string>,billing_products:array<string>,"
    "product_codes:array<struct<product_code_id:string,product_code_type:string>>,"
    "block_devices:array<struct<device_name:string,snapshot_id:string,volume_size_gib:bigint>>,"
    "snapshot_size_gib_total:bigint>"
)

REPORTS_COLUMNS = {
    "schema_version": "int",
    "report_id": "string",
    "image_id": "string",
    "owner_account_id": "string",
    "state": "string",
    "state_reason": "string",
    "resource_types": "array<struct<resource_type:string,options:array<struct<name:string,values:array<string>>>>>",
    "account_ids": "array<string>",
    "report_creation_time": "timestamp",
    "report_expiration_time": "timestamp",
    "tags": "map<string,string>",
    "image": IMAGE_STRUCT,
    "entry_count": "bigint",
    "account_count": "bigint",
    "total_usage": "bigint",
    "instance_usage": "bigint",
    "launch_template_usage": "bigint",
    "collected_at": "timestamp",
}


# crates/core/src/verdict/row.rs (region is the partition key).
VERDICTS_COLUMNS = {
    "schema_version": "int",
    "evaluated_at": "timestamp",
    "owner_account_id": "string",
    "image_id": "string",
    "name": "string",
    "verdict": "string",
    "reasons": "array<string>",
    "image_creation_date": "timestamp",
    "age_days": "bigint",
    "unused_since": "timestamp",
    "days_unused": "bigint",
    "reports_in_window": "bigint",
    "zero_usage_reports": "bigint",
    "latest_report_id": "string",
    "latest_total_usage": "bigint",
    "owner_references": "array<string>",
    "last_launched_time": "timestamp",
    "group_value": "string",
    "snapshot_size_gib_total": "bigint",
    "estimated_snapshot_usd_month": "double",
    "has_billing_codes": "boolean",
    "unused_min_days": "bigint",
    "min_reports": "bigint",
    "checked": "array<string>",
    "not_checked": "array<string>",
    "newest_zero_usage_report": "timestamp",
    "max_evidence_age_hours": "bigint",
    "owner_last_used": "timestamp",
    "deregistration_protection": "string",
    "deprecation_time": "timestamp",
    "image_allowed": "boolean",
    "source_image_id": "string",
    "member_references": "array<string>",
    "member_references_in_window": "array<string>",
    "member_last_used": "timestamp",
}


# The retirement actions dataset (issue 14's contract; region is the partition).
ACTIONS_COLUMNS = {
    "action_time": "timestamp",
    "owner_account_id": "string",
    "image_id": "string",
    "image_name": "string",
    "mode": "string",
    "action": "string",
    "outcome": "string",
    "stage_before": "string",
    "stage_after": "string",
    "reason": "string",
    "detail": "string",
    "deprecate_at": "timestamp",
    "recycle_bin_rule": "string",
    "delete_snapshots": "boolean",
    "undo_command": "string",
    "team_deprecation_at": "timestamp",
    "launch_permissions": (
        "struct<accounts:array<string>,organizations:array<string>,organizational_units:array<string>,public:boolean>"
    ),
    "recycle_bin_retention_days": "int",
    "restorable_until": "timestamp",
    "snapshot_results": "array<struct<snapshot_id:string,return_code:string>>",
}

# The weekly digest's row (crates/core/src/digest/model.rs DigestRow) and the Cost Explorer rows
# (crates/core/src/digest/ri.rs RiRow); region is the partition key.
DIGESTS_COLUMNS = {
    "schema_version": "int",
    "digest_date": "date",
    "week_start": "timestamp",
    "week_end": "timestamp",
    "owner_account_id": "string",
    "generated_at": "timestamp",
    "verdicts_evaluated_at": "timestamp",
    "candidates_new": "bigint",
    "candidates_standing": "bigint",
    "used_again": "bigint",
    "report_problems": "bigint",
    "snapshot_cost_usd_upper_bound": "double",
    "versions_still_used": "bigint",
    "reservations": "bigint",
    "reservations_under_threshold": "bigint",
    "reservations_ending_soon": "bigint",
    "reservations_status": "string",
    "candidates": "array<struct<image_id:string,name:string,new_this_week:boolean,days_unused:bigint,"
    "snapshot_size_gib:bigint,snapshot_usd_month:double,group_value:string,has_billing_codes:boolean,team:string>>",
    "used_again_amis": "array<struct<image_id:string,name:string,latest_total_usage:bigint,reasons:array<string>,team:string>>",
    "families": "array<struct<group_value:string,image_id:string,name:string,image_creation_date:timestamp,"
    "newest_image_id:string,accounts:bigint,total_usage:bigint,team:string>>",
    "problems": "array<struct<report_id:string,image_id:string,name:string,report_creation_time:timestamp,"
    "state_reason:string,team:string>>",
}

RI_UTILIZATION_COLUMNS = {
    "schema_version": "int",
    "digest_date": "date",
    "period": "string",
    "period_start": "date",
    "period_end": "date",
    "subscription_id": "string",
    "account_id": "string",
    "account_name": "string",
    "instance_type": "string",
    "reservation_region": "string",
    "platform": "string",
    "number_of_instances": "bigint",
    "end_date_time": "timestamp",
    "utilization_percentage": "double",
    "purchased_hours": "double",
    "total_actual_hours": "double",
    "unused_hours": "double",
    "net_ri_savings": "double",
    "owner_account_id": "string",
}

TABLES = ("entries", "reports", "verdicts", "actions", "digests", "ri_utilization")


def test_glue_columns_are_the_archive_contract():
    assert glue_columns(TEMPLATE) == {
        "entries": ENTRIES_COLUMNS,
        "reports": REPORTS_COLUMNS,
        "verdicts": VERDICTS_COLUMNS,
        "actions": ACTIONS_COLUMNS,
        "digests": DIGESTS_COLUMNS,
        "ri_utilization": RI_UTILIZATION_COLUMNS,
    }
    assert glue_partition_keys(TEMPLATE) == {t: {"region": "string", "report_date": "string"} for t in TABLES}


@pytest.mark.parametrize("table", TABLES)
def test_tables_use_openx_json_and_partition_projection(table):
    tables = glue_tables(TEMPLATE)
    ti = tables.get(f"{table}_raw") or tables[table]  # compacted datasets' JSON tables are `<dataset>_raw`
    assert ti["TableType"] == "EXTERNAL_TABLE"
    sd = ti["StorageDescriptor"]
    assert sd["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert sd["SerdeInfo"]["Parameters"]["timestamp.formats"] == "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
    assert sd["SerdeInfo"]["Parameters"]["case.insensitive"] == "FALSE"
    assert sd["Location"] == {"Fn::Sub": "s3://${ArchiveBucket}/${ArchivePrefix}/" + table + "/"}
    assert "region" not in {c["Name"] for c in sd["Columns"]}
    p = ti["Parameters"]
    assert p["projection.enabled"] == "true"
    assert p["projection.region.type"] == "enum"
    assert p["projection.region.values"] == {
        "Fn::If": ["HasProjectionRegions", {"Ref": "ProjectionRegions"}, {"Ref": "AWS::Region"}]
    }
    assert p["projection.report_date.type"] == "date"
    assert p["projection.report_date.format"] == "yyyy-MM-dd"
    assert p["projection.report_date.range"] == {"Fn::Sub": "${ProjectionStartDate},NOW"}
    assert p["projection.report_date.interval"] == "1"
    assert p["projection.report_date.interval.unit"] == "DAYS"
    # ${!x} is CloudFormation's escape for a literal ${x} (Athena's placeholder).
    assert p["storage.location.template"] == {
        "Fn::Sub": (
            "s3://${ArchiveBucket}/${ArchivePrefix}/" + table + "/region=${!region}/report_date=${!report_date}/"
        )
    }


def test_workgroup_results_live_outside_the_archive(template):
    wg = template["Resources"]["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert wg["ResultConfiguration"]["OutputLocation"] == {"Fn::Sub": "s3://${ArchiveBucket}/athena-results/"}
    assert wg["EnforceWorkGroupConfiguration"] is True


def test_outputs(template):
    outputs = template["Outputs"]
    values = {json.dumps(o["Value"], sort_keys=True) for o in outputs.values()}
    for ref in ("AlertTopic", "ReporterFunction", "AthenaDatabase", "AthenaWorkGroup"):
        assert json.dumps({"Ref": ref}) in values, f"no output for {ref}"
    assert outputs["ArchiveBucketName"]["Value"] == {
        "Fn::If": ["UseCentralArchive", {"Ref": "CentralArchiveBucket"}, {"Ref": "ArchiveBucket"}]
    }
    # Organisation mode creates no database or workgroup: the central stack outputs them.
    assert (
        outputs["AthenaDatabaseName"]["Condition"] == outputs["AthenaWorkGroupName"]["Condition"] == "UseLocalArchive"
    )


# --------------------------------------------------------------------------- queries


def test_named_queries_are_the_query_files(template):
    named = _resources(template, "AWS::Athena::NamedQuery")
    files = {p.stem: p.read_text() for p in QUERIES.glob("*.sql")}
    assert set(files) == {
        "unused_amis",
        "zero_usage_in_reports",
        "usage_by_account",
        "family_adoption",
        "report_problems",
        "billing_products",
        "retirement_actions",
        "weekly_digests",
        "ri_under_threshold",
    }
    by_name = {q["Properties"]["Name"]: q["Properties"] for q in named.values()}
    assert set(by_name) == set(files)
    for name, props in by_name.items():
        assert props["QueryString"] == files[name], (
            f"NamedQuery {name} differs from queries/{name}.sql: run python3 tests/support/sync_named_queries.py"
        )
        assert props["Database"] == {"Ref": "AthenaDatabase"}
        assert props["WorkGroup"] == {"Ref": "AthenaWorkGroup"}


@pytest.mark.parametrize("path", sorted(QUERIES.glob("*.sql")), ids=lambda p: p.name)
def test_query_files_parse_as_athena_sql_and_have_a_header(path):
    text = path.read_text()
    header = text.split("\n", 1)[0]
    assert header == f"-- {path.name}"
    assert "Parameters" in text and "Answers" in text
    statements = [s for s in sqlglot.parse(text, read="athena") if s is not None]
    assert len(statements) == 1
    assert statements[0].key in ("select", "with", "union")
    code = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
    assert ";" not in code, "no statement separator: one query per named query"
