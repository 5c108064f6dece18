"""Organisation mode: deploy/org/central-archive.yaml (lint, security, bucket policy,
org tables) and template.yaml's CentralArchiveBucket member mode."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.cfn_conditions import deployed, references, substitute
from support.glue_schema import glue_columns, glue_partition_keys, glue_tables, load_template

ROOT = Path(__file__).resolve().parents[2]
CENTRAL = ROOT / "deploy" / "org" / "central-archive.yaml"
TEMPLATE = ROOT / "template.yaml"


@pytest.fixture(scope="module")
def lint_bin() -> Path:
    out = subprocess.run([str(ROOT / "scripts" / "lint-env")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return Path(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def central() -> dict:
    return load_template(CENTRAL)


def test_central_template_lints_clean(lint_bin):
    run = subprocess.run([str(lint_bin / "cfn-lint"), str(CENTRAL)], cwd=ROOT, capture_output=True, text=True)
    assert (run.returncode, run.stdout.strip()) == (0, ""), run.stdout + run.stderr


@pytest.mark.slow
def test_central_template_passes_checkov_with_justified_skips(lint_bin, central):
    run = subprocess.run(
        [
            str(lint_bin / "checkov"),
            "-f",
            str(CENTRAL),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
        ],
        cwd=CENTRAL.parent,
        capture_output=True,
        text=True,
    )
    results = json.loads(run.stdout)["results"]
    assert [c["check_id"] for c in results["failed_checks"]] == []
    assert len(results["passed_checks"]) >= 8
    declared = {
        (lid, s["id"]): s["comment"]
        for lid, r in central["Resources"].items()
        for s in ((r.get("Metadata") or {}).get("checkov") or {}).get("skip", [])
    }
    assert all(len(c.split()) >= 8 for c in declared.values())
    assert {(c["resource"].split(".", 1)[1], c["check_id"]) for c in results["skipped_checks"]} == set(declared)


def _statements(central) -> dict[str, dict]:
    doc = central["Resources"]["OrgArchiveBucketPolicy"]["Properties"]["PolicyDocument"]
    statements = [st["Fn::If"][1] if "Fn::If" in st else st for st in doc["Statement"]]
    return {st["Sid"]: st for st in statements}


def test_members_reach_only_their_own_account_prefix_inside_the_organisation(central):
    sts = _statements(central)
    assert set(sts) == {
        "DenyInsecureTransport",
        "DenyOtherEncryption",
        "DenyCustomerProvidedKeys",
        "ReportersWriteOwnAccountPrefix",
        "ReportersDeleteOwnPreflightObjects",
        "ReportersListOwnAccountPrefix",
        "ReportersListUnfinishedUploads",
        "OwnersReadMemberReferences",
        "OwnersListMemberReferences",
        "MembersReadRetiringLists",
        "MembersListRetiringLists",
    }
    # Of another account's prefix, a reporter reads only the owners' lists of AMIs in
    # retirement (image ids and stages), which the member probes need.
    retiring, retiring_listing = sts["MembersReadRetiringLists"], sts["MembersListRetiringLists"]
    assert (retiring["Action"], retiring_listing["Action"]) == ("s3:GetObject", "s3:ListBucket")
    assert retiring["Resource"] == {"Fn::Sub": "${OrgArchiveBucket.Arn}/${ArchivePrefix}/account=*/retiring/*"}
    assert retiring_listing["Condition"]["StringLike"] == {
        "s3:prefix": {"Fn::Sub": "${ArchivePrefix}/account=*/retiring/*"}
    }
    write = sts["ReportersWriteOwnAccountPrefix"]
    assert sorted(write["Action"]) == ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]  # no delete, no *
    uploads = sts["ReportersListUnfinishedUploads"]
    assert uploads["Action"] == "s3:ListBucketMultipartUploads" and "StringLike" not in uploads["Condition"]
    # ${!x} is CloudFormation's escape: IAM receives the policy variable ${aws:PrincipalAccount}.
    assert write["Resource"] == {
        "Fn::Sub": "${OrgArchiveBucket.Arn}/${ArchivePrefix}/account=${!aws:PrincipalAccount}/*"
    }
    listing = sts["ReportersListOwnAccountPrefix"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Condition"]["StringLike"] == {
        "s3:prefix": {"Fn::Sub": "${ArchivePrefix}/account=${!aws:PrincipalAccount}/*"}
    }
    delete = sts["ReportersDeleteOwnPreflightObjects"]
    assert delete["Action"] == "s3:DeleteObject"  # preflight's test object only
    assert delete["Resource"] == {
        "Fn::Sub": "${OrgArchiveBucket.Arn}/${ArchivePrefix}/account=${!aws:PrincipalAccount}/_preflight/*"
    }
    for st in (write, listing, uploads, delete, retiring, retiring_listing):
        assert st["Effect"] == "Allow"
        assert st["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}
        assert st["Condition"]["ArnLike"] == {
            "aws:PrincipalArn": {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role${ReporterRolePath}*"}
        }
    # The role path the policy names is the one template.yaml gives the function role.
    role = load_template(TEMPLATE)["Resources"]["FunctionRole"]["Properties"]
    assert central["Parameters"]["ReporterRolePath"]["Default"] == role["Path"]


def test_only_listed_owner_accounts_read_the_member_probe_facts_read_only(central):
    doc = central["Resources"]["OrgArchiveBucketPolicy"]["Properties"]["PolicyDocument"]
    conditional = [st["Fn::If"] for st in doc["Statement"] if "Fn::If" in st]
    assert [(c[0], c[2]) for c in conditional] == [("HasAmiOwners", {"Ref": "AWS::NoValue"})] * 2
    read, listing = (c[1] for c in conditional)
    assert (read["Action"], listing["Action"]) == ("s3:GetObject", "s3:ListBucket")  # no write, no delete
    assert read["Resource"] == {"Fn::Sub": "${OrgArchiveBucket.Arn}/${ArchivePrefix}/account=*/references/*"}
    assert listing["Condition"]["StringLike"] == {"s3:prefix": {"Fn::Sub": "${ArchivePrefix}/account=*/references/*"}}
    for st in (read, listing):
        assert st["Condition"]["StringEquals"] == {
            "aws:PrincipalOrgID": {"Ref": "OrganizationId"},
            "aws:PrincipalAccount": {"Ref": "AmiOwnerAccountIds"},
        }
        assert st["Condition"]["ArnLike"] == {
            "aws:PrincipalArn": {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role${ReporterRolePath}*"}
        }
    assert central["Parameters"]["AmiOwnerAccountIds"]["Default"] == ""


def test_org_references_table_reads_the_member_probes_of_every_account_and_region():
    assert glue_partition_keys(CENTRAL)["references"] == {
        "account": "string",
        "region": "string",
        "report_date": "string",
    }
    assert glue_columns(CENTRAL)["references"] == {
        "schema_version": "int",
        "probed_at": "timestamp",
        "probe_account_id": "string",
        "owner_account_id": "string",
        "image_id": "string",
        "checked": "array<string>",
        "references": "array<struct<resource_type:string,arn:string>>",
        "described": "boolean",
        "retirement_stage": "string",
        "allowed_images": (
            "struct<state:string,managed_by:string,"
            "criteria:array<struct<image_providers:array<string>,max_days_since_deprecated:bigint>>>"
        ),
    }
    p = glue_tables(CENTRAL)["references"]["Parameters"]
    assert p["storage.location.template"] == {
        "Fn::Sub": (
            "s3://${OrgArchiveBucket}/${ArchivePrefix}/account=${!account}/references/region=${!region}/"
            "report_date=${!report_date}/"
        )
    }


def test_central_bucket_is_private_versioned_encrypted_and_owner_enforced(central):
    b = central["Resources"]["OrgArchiveBucket"]["Properties"]
    assert b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert b["VersioningConfiguration"] == {"Status": "Enabled"}
    assert list(b["PublicAccessBlockConfiguration"].values()) == [True] * 4
    assert b["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert _statements(central)["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("table", ["entries", "reports", "verdicts", "actions", "digests", "ri_utilization"])
def test_org_tables_read_every_account_and_region_with_the_archive_columns(table):
    single = glue_columns(TEMPLATE)[table]
    assert glue_columns(CENTRAL)[table] == single  # the same rows, nothing rewritten
    assert glue_partition_keys(CENTRAL)[table] == {"account": "string", "region": "string", "report_date": "string"}
    tables = glue_tables(CENTRAL)
    p = (tables.get(f"{table}_raw") or tables[table])["Parameters"]  # compacted datasets: `<dataset>_raw`
    assert p["projection.account.type"] == "enum"
    assert p["projection.account.values"] == {"Fn::Join": [",", {"Ref": "MemberAccountIds"}]}
    assert p["projection.region.type"] == "enum"
    # Below account=<id>/ the layout is the single-account contract, unchanged.
    assert p["storage.location.template"] == {
        "Fn::Sub": (
            "s3://${OrgArchiveBucket}/${ArchivePrefix}/account=${!account}/"
            + table
            + "/region=${!region}/report_date=${!report_date}/"
        )
    }


def test_member_mode_writes_under_its_own_account_prefix():
    tpl = load_template(TEMPLATE)
    param = tpl["Parameters"]["CentralArchiveBucket"]
    assert param["Default"] == ""
    assert tpl["Conditions"]["UseCentralArchive"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "CentralArchiveBucket"}, ""]}]
    }
    env = tpl["Resources"]["ReporterFunction"]["Properties"]["Environment"]["Variables"]
    assert env["ARCHIVE_PREFIX"]["Fn::If"][1] == {"Fn::Sub": "${ArchivePrefix}/account=${AWS::AccountId}"}
    central_params = load_template(CENTRAL)["Parameters"]
    assert central_params["ArchivePrefix"]["Default"] == tpl["Parameters"]["ArchivePrefix"]["Default"]
    assert central_params["ArchivePrefix"]["AllowedPattern"] == tpl["Parameters"]["ArchivePrefix"]["AllowedPattern"]


# Resources of the stack's own archive: organisation mode must create none of them.
LOCAL_ARCHIVE = {
    "ArchiveBucket",
    "ArchiveBucketPolicy",
    "AthenaDatabase",
    "EntriesTable",
    "ReportsTable",
    "VerdictsTable",
    "EntriesCompactedTable",
    "ReportsCompactedTable",
    "VerdictsCompactedTable",
    "EntriesView",
    "ReportsView",
    "VerdictsView",
    "ActionsTable",
    "DigestsTable",
    "RiUtilizationTable",
    "AthenaWorkGroup",
    "UnusedAmisQuery",
    "WeeklyDigestsQuery",
    "RiUnderThresholdQuery",
    "ZeroUsageInReportsQuery",
    "UsageByAccountQuery",
    "FamilyAdoptionQuery",
    "ReportProblemsQuery",
    "BillingProductsQuery",
    "RetirementActionsQuery",
}
MEMBER = {
    "CentralArchiveBucket": "org-archive",
    "ArchiveBucketRegion": "eu-west-1",
    "AthenaDatabaseName": "ami_usage_org",
    "CentralAthenaWorkGroup": "ami-usage-central-ami-usage-org",
}


def _archive_settings(resources: dict, params: dict) -> tuple[dict, dict]:
    """The function's archive/Athena variables and its S3 statements, as deployed."""
    env = resources["ReporterFunction"]["Properties"]["Environment"]["Variables"]
    settings = {k: substitute(v, params) for k, v in env.items() if k.startswith(("ARCHIVE_", "ATHENA_"))}
    statements = resources["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    s3 = {}
    for st in statements:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if all(a.startswith("s3:") for a in actions):
            prefix = st.get("Condition", {}).get("StringLike", {}).get("s3:prefix", [])
            s3[st["Sid"]] = (st["Action"], substitute(st["Resource"], params), [substitute(p, params) for p in prefix])
    return settings, s3


def _assert_nothing_dangles(resources: dict, outputs: dict, params: dict) -> None:
    names = set(resources) | set(params)
    for where, item in [*resources.items(), *outputs.items()]:
        assert references(item) <= names, f"{where} refers to {sorted(references(item) - names)}"


def test_member_mode_creates_no_local_archive_and_writes_only_its_central_prefix():
    tpl = load_template(TEMPLATE)
    single, single_outputs, _ = deployed(tpl)
    resources, outputs, params = deployed(tpl, **MEMBER)
    assert set(single) - set(resources) == LOCAL_ARCHIVE and set(resources) <= set(single)
    assert set(single_outputs) - set(outputs) == {"AthenaDatabaseName", "AthenaWorkGroupName"}
    _assert_nothing_dangles(resources, outputs, params)
    settings, s3 = _archive_settings(resources, params)
    assert settings == {
        "ARCHIVE_BUCKET": "org-archive",
        "ARCHIVE_BUCKET_REGION": "eu-west-1",
        "ARCHIVE_PREFIX": "ami-usage/account=${AWS::AccountId}",
        "ATHENA_DATABASE": "ami_usage_org",
        "ATHENA_WORKGROUP": "ami-usage-central-ami-usage-org",
    }
    assert s3 == {
        "ReadWriteArchiveObjects": (
            ["s3:GetObject", "s3:PutObject"],
            "arn:${AWS::Partition}:s3:::org-archive/ami-usage/account=${AWS::AccountId}/*",
            [],
        ),
        "ListArchivePrefixOnly": (
            "s3:ListBucket",
            "arn:${AWS::Partition}:s3:::org-archive",
            ["ami-usage/account=${AWS::AccountId}/*"],
        ),
        "AbortUnfinishedArchiveUploads": (
            "s3:AbortMultipartUpload",
            "arn:${AWS::Partition}:s3:::org-archive/ami-usage/account=${AWS::AccountId}/*",
            [],
        ),
        "DeletePreflightObjects": (
            "s3:DeleteObject",
            "arn:${AWS::Partition}:s3:::org-archive/ami-usage/account=${AWS::AccountId}/_preflight/*",
            [],
        ),
        "ListUnfinishedUploads": ("s3:ListBucketMultipartUploads", "arn:${AWS::Partition}:s3:::org-archive", []),
    }
    assert outputs["ArchiveBucketName"]["Value"] == {"Ref": "CentralArchiveBucket"}
    assert (
        substitute(outputs["ArchiveLocation"]["Value"], params)
        == "s3://org-archive/ami-usage/account=${AWS::AccountId}/"
    )


def test_single_account_mode_keeps_its_own_archive_and_ignores_the_bucket_region():
    tpl = load_template(TEMPLATE)
    resources, outputs, params = deployed(tpl, ArchiveBucketRegion="eu-west-1")
    assert LOCAL_ARCHIVE <= set(resources)
    assert {"AthenaDatabaseName", "AthenaWorkGroupName", "ArchiveBucketName"} <= set(outputs)
    _assert_nothing_dangles(resources, outputs, params)
    settings, s3 = _archive_settings(resources, params)
    assert settings == {
        "ARCHIVE_BUCKET": "${ArchiveBucket}",
        "ARCHIVE_BUCKET_REGION": "${AWS::Region}",
        "ARCHIVE_PREFIX": "ami-usage",
        "ATHENA_DATABASE": "${AthenaDatabase}",
        "ATHENA_WORKGROUP": "${AthenaWorkGroup}",
    }
    assert s3 == {
        "ReadWriteArchiveObjects": (
            ["s3:GetObject", "s3:PutObject"],
            "arn:${AWS::Partition}:s3:::${ArchiveBucket}/ami-usage/*",
            [],
        ),
        "ListArchivePrefixOnly": ("s3:ListBucket", "arn:${AWS::Partition}:s3:::${ArchiveBucket}", ["ami-usage/*"]),
        "AbortUnfinishedArchiveUploads": (
            "s3:AbortMultipartUpload",
            "arn:${AWS::Partition}:s3:::${ArchiveBucket}/ami-usage/*",
            [],
        ),
        "DeletePreflightObjects": (
            "s3:DeleteObject",
            "arn:${AWS::Partition}:s3:::${ArchiveBucket}/ami-usage/_preflight/*",
            [],
        ),
        "ListUnfinishedUploads": ("s3:ListBucketMultipartUploads", "arn:${AWS::Partition}:s3:::${ArchiveBucket}", []),
    }


@pytest.mark.parametrize(
    "value, ok",
    [
        ("", True),
        ("eu-west-1", True),
        ("us-gov-west-1", True),
        ("cn-north-1", True),
        ("eu-west", False),
        ("EU-WEST-1", False),
        ("eu-west-0", False),
        ("s3.eu-west-1.amazonaws.com", False),
    ],
)
def test_archive_bucket_region_parameter_accepts_region_codes_only(value, ok):
    import re

    pattern = load_template(TEMPLATE)["Parameters"]["ArchiveBucketRegion"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) == ok


def test_central_stack_outputs_what_members_need():
    outputs = load_template(CENTRAL)["Outputs"]
    member_params = load_template(TEMPLATE)["Parameters"]
    assert outputs["ArchiveBucketRegion"]["Value"] == {"Ref": "AWS::Region"}
    for output, param in [
        ("CentralArchiveBucket", "CentralArchiveBucket"),
        ("ArchiveBucketRegion", "ArchiveBucketRegion"),
        ("AthenaDatabaseName", "AthenaDatabaseName"),
        ("AthenaWorkGroupName", "CentralAthenaWorkGroup"),
    ]:
        assert param in member_params and param in outputs[output]["Description"], output
