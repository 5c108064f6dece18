"""Issue 11, item 3: references inside member accounts, with the real binary. A member
(CONSUMER_1) keeps the owner's shared AMI in an SSM parameter (data type
`aws:ec2:image`), which no usage report and no owner-side API reveals. The member's
`probe` writes its facts under its own `account=<id>/references/` prefix of the central
bucket; the owner's collect (`REQUIRE_MEMBER_PROBES`) reads them next to its own archive.

- facts missing (the member has not run): every would-be candidate is `unknown`
  (`member_probe_missing`), never a candidate;
- probe on: the referenced AMI is `in_use` (`used_in_member_account`, its ARN in
  `member_references`), the unused one a candidate checked in the member;
- objects that are malformed, or whose rows come from an account outside
  REQUIRE_MEMBER_PROBES, are ignored (logged once, counted) and the member's own
  facts still count; facts older than MAX_EVIDENCE_AGE_HOURS count as missing again,
  and the candidate announced meanwhile is announced as no longer confirmed;
- a probe whose DescribeImageReferences fails writes nothing (exit 1);
- bad PROBE_OWNER_ACCOUNT_IDS / REQUIRE_MEMBER_PROBES: exit 2, one line, nothing written.
"""

from __future__ import annotations

import gzip
import json

import pytest
from archive import objects, rows
from fleet import CONSUMER_1, CONSUMER_2, register_golden
from harness import OWNER, ROOT, base_env, run_binary
from support.glue_schema import check_rows, glue_columns

CENTRAL = ROOT / "deploy" / "org" / "central-archive.yaml"
BUCKET = "org-archive"
ORG = "ami-usage"
MEMBER, OUTSIDER = CONSUMER_1, CONSUMER_2
HOUR = 3600
PROBE_KINDS = [
    "ec2:Instance",
    "ec2:LaunchTemplate",
    "ec2:SpotFleetRequest",
    "ec2:Fleet",
    "ssm:Parameter",
    "imagebuilder:ImageRecipe",
    "imagebuilder:ContainerRecipe",
    "autoscaling:LaunchConfiguration",
]


def credentials(emu, account: str) -> dict:
    """The account's own credentials (moto maps an assumed role's key to its account)."""
    c = emu.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/ami-usage-reporter/probe", RoleSessionName="probe"
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": c["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
        "AWS_SESSION_TOKEN": c["SessionToken"],
    }


def owner_env(emu, **extra: str) -> dict:
    settings = {
        "ARCHIVE_BUCKET": BUCKET,
        "ARCHIVE_PREFIX": f"{ORG}/account={OWNER}",
        "AMI_TAG_FILTERS": "Golden=true",
        "UNUSED_MIN_DAYS": "1",
        "MIN_REPORTS": "1",
        "MIN_AGE_DAYS": "0",
        "MAX_CANDIDATE_PERCENT": "100",
        "REQUIRE_MEMBER_PROBES": MEMBER,
    }
    return base_env(emu, **{**settings, **extra})


def member_env(emu, account: str = MEMBER, **extra: str) -> dict:
    return base_env(
        emu,
        ARCHIVE_BUCKET=BUCKET,
        ARCHIVE_PREFIX=f"{ORG}/account={account}",
        PROBE_OWNER_ACCOUNT_IDS=OWNER,
        **credentials(emu, account),
        **extra,
    )


def day(emu, env: dict) -> dict:
    """create, an hour, collect: the verdict rows of the run, by image id, and its summary."""
    assert run_binary(emu, ["create", "--now", emu.now()], env).code == 0
    collected = run_binary(emu, ["collect", "--now", emu.advance(HOUR)], env)
    assert collected.code == 0, collected.stderr
    written = objects(emu.client("s3"), BUCKET, f"{ORG}/account={OWNER}/verdicts/")
    latest = written[max(written)]["rows"]  # an unchanged verdict set writes no new object
    return {"rows": {r["image_id"]: r for r in latest}, "summary": collected.summary, "stderr": collected.stderr}


def put_facts(emu, key: str, body: bytes) -> None:
    emu.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)


@pytest.mark.slow
def test_a_members_ssm_parameter_keeps_the_owners_ami_in_use_and_missing_facts_keep_it_unknown(emu):
    emu.client("s3").create_bucket(Bucket=BUCKET)
    owner = emu.client("ec2")
    param, unused = register(owner, "golden-in-member-param"), register(owner, "golden-unused")
    emu.client("ssm", MEMBER).put_parameter(Name="/golden/web", Value=param, Type="String", DataType="aws:ec2:image")
    env = owner_env(emu)

    # The member has not probed: nothing may be called unused.
    first = day(emu, env)
    assert {i: (r["verdict"], r["reasons"]) for i, r in first["rows"].items()} == {
        param: ("unknown", ["member_probe_missing"]),
        unused: ("unknown", ["member_probe_missing"]),
    }
    assert first["summary"]["new_candidates"] == []
    assert first["summary"]["verdicts"]["member_probes"]["missing"] == [MEMBER]
    assert f"member:{MEMBER}" in first["rows"][unused]["not_checked"]

    probed = run_binary(emu, ["probe", "--now", emu.now()], member_env(emu))
    assert probed.code == 0, probed.stderr
    assert (probed.summary["images_probed"], probed.summary["references_found"]) == (2, 1)
    facts_key = probed.summary["object"]
    assert facts_key.startswith(f"{ORG}/account={MEMBER}/references/region=us-east-1/report_date=")
    facts = rows(objects(emu.client("s3"), BUCKET, f"{ORG}/account={MEMBER}/"), "references")
    assert check_rows(glue_columns(CENTRAL)["references"], facts) == []
    assert {r["image_id"]: (r["probe_account_id"], r["owner_account_id"], r["checked"]) for r in facts} == {
        param: (MEMBER, OWNER, PROBE_KINDS),
        unused: (MEMBER, OWNER, PROBE_KINDS),
    }
    arn = f"arn:aws:ssm:us-east-1:{MEMBER}:parameter/golden/web"
    assert {r["image_id"]: r["references"] for r in facts} == {
        param: [{"resource_type": "ssm:Parameter", "arn": arn}],
        unused: [],
    }

    emu.advance(HOUR)
    second = day(emu, env)
    used, free = second["rows"][param], second["rows"][unused]
    assert (used["verdict"], used["reasons"], used["member_references"]) == (
        "in_use",
        ["used_in_member_account"],
        [arn],
    )
    assert free["verdict"] == "candidate", free["reasons"]
    for kind in (f"member:{MEMBER}", "member:ssm:Parameter", "member:autoscaling:LaunchConfiguration"):
        assert kind in free["checked"] and kind not in free["not_checked"], kind
    assert second["summary"]["new_candidates"] == [unused]
    assert second["summary"]["verdicts"]["member_probes"] == {
        "required": 1,
        "fresh": 1,
        "missing": [],
        "ignored_malformed": 0,
        "ignored_foreign": 0,
        "unreadable": 0,
        "allowed_images": {MEMBER: {"state": "disabled", "managed_by": "account", "criteria": []}},
    }
    assert check_rows(glue_columns(CENTRAL)["verdicts"], list(second["rows"].values())) == []

    # Newer objects in the member's prefix that are not its facts: one malformed, one
    # whose rows come from an account outside REQUIRE_MEMBER_PROBES (claiming nothing is
    # referenced). Both are ignored; the member's own facts still decide.
    partition = facts_key.rsplit("/", 1)[0]
    stamp = emu.advance(HOUR)
    compact = stamp[:19].replace("-", "").replace(":", "")
    put_facts(emu, f"{partition}/run-{compact}.000Z.json.gz", b"not gzip")
    foreign = [dict(r, probe_account_id=OUTSIDER, probed_at=f"{stamp[:19]}.001Z", references=[]) for r in facts]
    put_facts(
        emu,
        f"{partition}/run-{compact}.001Z.json.gz",
        gzip.compress("".join(json.dumps(r) + "\n" for r in foreign).encode()),
    )
    third = day(emu, env)
    assert (third["rows"][param]["verdict"], third["rows"][param]["member_references"]) == ("in_use", [arn])
    counts = third["summary"]["verdicts"]["member_probes"]
    assert (counts["fresh"], counts["ignored_malformed"], counts["ignored_foreign"]) == (1, 1, 1)
    ignored = [line for line in third["stderr"].splitlines() if "member probe object ignored" in line]
    assert len(ignored) == 2 and any("malformed" in line for line in ignored), third["stderr"]
    assert any(OUTSIDER in line and "not in REQUIRE_MEMBER_PROBES" in line for line in ignored), ignored

    # Facts older than MAX_EVIDENCE_AGE_HOURS (48) count as missing: unknown again (the
    # parameter's finding is older than this test's one-day window: test_member_window.py
    # keeps it for a 30-day one).
    emu.advance(48 * HOUR)
    stale = day(emu, env)
    assert {i: (r["verdict"], r["reasons"]) for i, r in stale["rows"].items()} == {
        param: ("unknown", ["member_probe_missing"]),
        unused: ("unknown", ["member_probe_missing"]),
    }
    assert stale["summary"]["verdicts"]["member_probes"]["missing"] == [MEMBER]
    # The missing member is announced once for the gap, naming the AMIs it holds back,
    # not once per AMI.
    assert stale["summary"]["alert"]["news"] == 1, stale["summary"]["alert"]
    assert f"- member account {MEMBER} has no fresh probe facts since" in stale["stderr"], stale["stderr"]
    assert f"(2 AMIs held: {', '.join(sorted([param, unused]))}; announced once per gap)" in stale["stderr"]
    again = day(emu, env)
    assert again["summary"]["alert"] is None, "the same gap is not news twice"


@pytest.mark.slow
def test_a_probe_whose_reference_check_fails_writes_no_facts(emu):
    emu.client("s3").create_bucket(Bucket=BUCKET)
    register(emu.client("ec2"), "golden")
    emu.control("faults", {"server_error_probability": 1, "actions": ["DescribeImageReferences"], "seed": 1})
    failed = run_binary(emu, ["probe", "--now", emu.now()], member_env(emu))
    assert failed.code == 1 and failed.stdout == "", (failed.code, failed.stdout)
    assert "ec2:DescribeImageReferences failed" in failed.stderr.strip().splitlines()[-1], failed.stderr
    assert objects(emu.client("s3"), BUCKET, "") == {}, "partial facts would claim checks never made"


@pytest.mark.parametrize(
    "phase, config, var",
    [
        ("probe", {"PROBE_OWNER_ACCOUNT_IDS": "12345"}, "PROBE_OWNER_ACCOUNT_IDS"),
        ("probe", {"PROBE_OWNER_ACCOUNT_IDS": "123456789012,arn:aws:iam::1:root"}, "PROBE_OWNER_ACCOUNT_IDS"),
        ("probe", {"PROBE_OWNER_ACCOUNT_IDS": ""}, "PROBE_OWNER_ACCOUNT_IDS"),
        ("collect", {"REQUIRE_MEMBER_PROBES": "111111111111;222222222222"}, "REQUIRE_MEMBER_PROBES"),
        ("collect", {"REQUIRE_MEMBER_PROBES": "111111111111", "ARCHIVE_PREFIX": "ami-usage"}, "REQUIRE_MEMBER_PROBES"),
    ],
)
def test_bad_probe_settings_exit_2_with_one_line_and_write_nothing(emu, phase, config, var):
    emu.client("s3").create_bucket(Bucket=BUCKET)
    register(emu.client("ec2"), "golden")
    env = base_env(emu, ARCHIVE_BUCKET=BUCKET, ARCHIVE_PREFIX=f"{ORG}/account={OWNER}", AMI_TAG_FILTERS="Golden=true")
    env.update(config)
    result = run_binary(emu, [phase, "--now", emu.now()], env)
    assert result.code == 2 and result.stdout == "", (result.code, result.stdout)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {var} (--"), line
    assert objects(emu.client("s3"), BUCKET, "") == {}


def register(ec2, name: str) -> str:
    return register_golden(ec2, name, [MEMBER, OUTSIDER], gib=8)
