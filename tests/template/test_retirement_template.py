"""Issue 14's template pins: the Retire* parameters reach the function, rbin:ListRules/GetRule
exist only when the pipeline runs, the mutating statements only with RetireMode
enforce (snapshot deletion only with RetireDeleteSnapshots too), each bound to AMIs the
account owns and to the stage tag; deploy/iam-policy-retire.json is exactly those
statements; the actions table and its named query exist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.glue_schema import load_template

ROOT = Path(__file__).resolve().parents[2]
RETIRE_POLICY = ROOT / "deploy" / "iam-policy-retire.json"
STAGE_TAG = "ami-usage-reporter:retire-stage"
PARAMETERS = {
    # name: (env var, default, min, max) - the contract's table
    "RetireDeprecateAfterDays": ("RETIRE_DEPRECATE_AFTER_DAYS", 0, 0, 365),
    "RetireDeprecationNoticeDays": ("RETIRE_DEPRECATION_NOTICE_DAYS", 14, 0, 365),
    "RetireDisableAfterDays": ("RETIRE_DISABLE_AFTER_DAYS", 30, 1, 365),
    "RetireDeregisterAfterDays": ("RETIRE_DEREGISTER_AFTER_DAYS", 30, 1, 365),
    "RetireMaxActionsPerRun": ("RETIRE_MAX_ACTIONS_PER_RUN", 10, 1, 1000),
    "RetireMinRecycleBinDays": ("RETIRE_MIN_RECYCLE_BIN_DAYS", 30, 1, 365),
}
IMAGE_ARN = "arn:${AWS::Partition}:ec2:${AWS::Region}::image/*"
OWN = {"StringEquals": {"ec2:Owner": {"Ref": "AWS::AccountId"}}}


@pytest.fixture(scope="module")
def template() -> dict:
    return load_template(ROOT / "template.yaml")


def _retire_statements(template) -> dict[str, tuple[str, dict]]:
    """Sid -> (condition, statement) of the role's Retire* conditional statements."""
    (policy,) = template["Resources"]["FunctionRole"]["Properties"]["Policies"]
    out = {}
    for st in policy["PolicyDocument"]["Statement"]:
        if "Fn::If" in st and st["Fn::If"][0].startswith("Retire"):
            condition, statement, otherwise = st["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}
            out[statement["Sid"]] = (condition, statement)
    return out


def test_parameters_reach_the_function_with_the_contract_defaults(template):
    params = template["Parameters"]
    env = template["Resources"]["ReporterFunction"]["Properties"]["Environment"]["Variables"]
    mode = params["RetireMode"]
    assert (mode["Default"], mode["AllowedValues"]) == ("off", ["off", "dry-run", "enforce"])
    assert env["RETIRE_MODE"] == {"Ref": "RetireMode"}
    for name, (var, default, low, high) in PARAMETERS.items():
        p = params[name]
        assert (p["Type"], p["Default"], p["MinValue"], p["MaxValue"]) == ("Number", default, low, high), name
        assert env[var] == {"Ref": name}
    for name, var, default in (
        ("RetireRequireRecycleBin", "RETIRE_REQUIRE_RECYCLE_BIN", "true"),
        ("RetireDeleteSnapshots", "RETIRE_DELETE_SNAPSHOTS", "false"),
    ):
        assert (params[name]["Default"], params[name]["AllowedValues"]) == (default, ["true", "false"])
        assert env[var] == {"Ref": name}


def test_conditions_gate_the_statements_by_mode(template):
    c = template["Conditions"]
    assert c["RetireRuns"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "RetireMode"}, "off"]}]}
    assert c["RetireEnforced"] == {"Fn::Equals": [{"Ref": "RetireMode"}, "enforce"]}
    assert c["RetireDeletesSnapshots"] == {
        "Fn::And": [
            {"Fn::Equals": [{"Ref": "RetireMode"}, "enforce"]},
            {"Fn::Equals": [{"Ref": "RetireDeleteSnapshots"}, "true"]},
        ]
    }
    sts = _retire_statements(template)
    assert {sid: cond for sid, (cond, _) in sts.items()} == {
        "ReadRecycleBinRules": "RetireRuns",
        "ReadRecycleBinRuleDetails": "RetireRuns",
        "ReadRetirementFacts": "RetireRuns",
        "RetireOwnImages": "RetireEnforced",
        "TagRetireStageOnly": "RetireEnforced",
        "DeleteRetiredImageSnapshots": "RetireDeletesSnapshots",
    }


def test_mutating_grants_are_bound_to_own_images_and_the_stage_tag(template):
    sts = {sid: st for sid, (_, st) in _retire_statements(template).items()}
    assert sts["ReadRecycleBinRules"]["Action"] == "rbin:ListRules"  # no resource type: "*"
    assert sts["ReadRecycleBinRules"]["Resource"] == "*"
    assert sts["ReadRecycleBinRuleDetails"]["Action"] == "rbin:GetRule"
    assert sts["ReadRecycleBinRuleDetails"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:rbin:${AWS::Region}:${AWS::AccountId}:rule/*"
    }
    assert sts["RetireOwnImages"]["Action"] == [
        "ec2:EnableImageDeprecation",
        "ec2:DisableImageDeprecation",
        "ec2:DisableImage",
        "ec2:EnableImage",
        "ec2:DeregisterImage",
        "ec2:ModifyImageAttribute",
    ]
    assert sts["ReadRetirementFacts"]["Action"] == ["ec2:DescribeSnapshots", "ec2:ListImagesInRecycleBin"]
    assert sts["ReadRetirementFacts"]["Resource"] == "*"
    for sid in ("RetireOwnImages", "TagRetireStageOnly"):
        assert sts[sid]["Resource"] == {"Fn::Sub": IMAGE_ARN}, sid
    assert sts["RetireOwnImages"]["Condition"] == OWN
    assert sts["TagRetireStageOnly"]["Action"] == ["ec2:CreateTags", "ec2:DeleteTags"]
    assert sts["TagRetireStageOnly"]["Condition"] == {
        **OWN,
        "ForAllValues:StringEquals": {"aws:TagKeys": STAGE_TAG},
    }
    snapshots = sts["DeleteRetiredImageSnapshots"]
    assert snapshots["Action"] == "ec2:DeleteSnapshot" and snapshots["Condition"] == OWN
    assert snapshots["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*"}


def test_deploy_retire_policy_equals_the_template_statements(template):
    def placeholders(value):
        if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
            text = value["Fn::Sub"]
            for cfn, placeholder in (("Partition", "Partition"), ("Region", "Region"), ("AccountId", "AccountId")):
                text = text.replace("${AWS::" + cfn + "}", "${" + placeholder + "}")
            return text
        if value == {"Ref": "AWS::AccountId"}:
            return "${AccountId}"
        if isinstance(value, dict):
            return {k: placeholders(v) for k, v in value.items()}
        if isinstance(value, list):
            return [placeholders(v) for v in value]
        return value

    policy = json.loads(RETIRE_POLICY.read_text())
    assert policy["Version"] == "2012-10-17"
    assert policy["Statement"] == [placeholders(st) for _, st in _retire_statements(template).values()]
    readme = (ROOT / "deploy" / "README.md").read_text()
    assert "iam-policy-retire.json" in readme
    for st in policy["Statement"]:
        assert st["Sid"] in readme, f"deploy/README.md does not explain statement {st['Sid']}"


def test_actions_table_and_named_query_exist_with_the_local_archive(template):
    r = template["Resources"]
    assert r["ActionsTable"]["Condition"] == "UseLocalArchive"
    assert r["ActionsTable"]["Properties"]["TableInput"]["Name"] == "actions"
    query = r["RetirementActionsQuery"]
    assert query["Condition"] == "UseLocalArchive"
    assert query["Properties"]["Name"] == "retirement_actions"
