"""Organisation mode across Regions, with the real binary: two Regions of one account
write create + collect into one central bucket (in a third party's Region: eu-west-1)
under `account=<id>/`. The emulator answers a request signed for another Region than
the bucket's as S3 does (301 PermanentRedirect), so the Region without
ARCHIVE_BUCKET_REGION fails with one clear error and writes nothing; with it, both
Regions archive, each keeps its own state, and a re-run announces nothing twice.

Also the upgrade: a deployment whose state is at the single-Region key keeps its queued
and announced news (no alert repeats), and another Region sharing the prefix never
takes that state over."""

from __future__ import annotations

import json

import pytest
from archive import objects, rows
from fleet import CONSUMER_1, PAST_REPORT_LAGS
from harness import OWNER, ROOT, base_env, run_binary
from support.glue_schema import check_rows, glue_columns

CENTRAL = ROOT / "deploy" / "org" / "central-archive.yaml"

# A Region's first alert: its unused AMI, and (once) create's fallback to the two report
# types EC2 documents (News::ReportTypesNarrowed, docs/verdicts.md).
FIRST_ALERT = "1 deregistration candidate, 1 evidence gap"

BUCKET = "org-archive"
PREFIX = f"ami-usage/account={OWNER}"
EAST, WEST = "us-east-1", "eu-west-1"


def seed_region(emu, region: str) -> dict[str, str]:
    """A used and an unused golden AMI in the owner account of `region`. The consumer's
    instance counts in a usage report only 24 h after its launch (as in AWS): a test
    ages the seeded Regions past the report lags (`age_past_report_lags`)."""
    ec2 = emu.client("ec2", region=region)
    amis = {}
    for case in ("used", "unused"):
        vol = ec2.create_volume(AvailabilityZone=f"{region}a", Size=8)
        snap = ec2.create_snapshot(VolumeId=vol["VolumeId"])
        amis[case] = ec2.register_image(
            Name=f"golden-{case}-{region}",
            Architecture="x86_64",
            RootDeviceName="/dev/xvda",
            VirtualizationType="hvm",
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap["SnapshotId"]}}],
            TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "Golden", "Value": "true"}]}],
        )["ImageId"]
        ec2.modify_image_attribute(ImageId=amis[case], LaunchPermission={"Add": [{"UserId": CONSUMER_1}]})
    emu.client("ec2", CONSUMER_1, region).run_instances(
        ImageId=amis["used"], MinCount=1, MaxCount=1, InstanceType="t3.micro"
    )
    return amis


def age_past_report_lags(emu) -> None:
    """The seeded Regions have existed longer than EC2's report lags (fleet.seed does the
    same), so the first reports count the used AMI's instance."""
    emu.advance(PAST_REPORT_LAGS)


def member_env(emu, region: str, **extra: str) -> dict:
    topic = emu.client("sns", region=region).create_topic(Name="ami-usage-alerts")["TopicArn"]
    return base_env(
        emu,
        AWS_REGION=region,
        ARCHIVE_BUCKET=BUCKET,
        ARCHIVE_PREFIX=PREFIX,  # what template.yaml sets when CentralArchiveBucket is set
        ALERT_TOPIC_ARN=topic,
        AMI_TAG_FILTERS="Golden=true",
        UNUSED_MIN_DAYS="1",
        MIN_REPORTS="1",
        MIN_AGE_DAYS="0",
        **extra,
    )


def central_bucket(emu, region: str) -> None:
    s3 = emu.client("s3", region=region)
    config = {} if region == EAST else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=BUCKET, **config)


def archive(emu) -> dict[str, dict]:
    return objects(emu.client("s3", region=WEST), BUCKET, f"{PREFIX}/")


def state(emu, key: str, bucket_region: str = WEST) -> dict:
    body = emu.client("s3", region=bucket_region).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return json.loads(body)


def published(emu) -> list[dict]:
    return emu.control("sns/published")["messages"]


def run(emu, phase: str, env: dict):
    return run_binary(emu, [phase, "--now", emu.now()], env)


@pytest.mark.slow
def test_two_regions_of_one_account_share_a_central_bucket_in_a_third_region(emu):
    central_bucket(emu, WEST)
    amis = {EAST: seed_region(emu, EAST), WEST: seed_region(emu, WEST)}
    age_past_report_lags(emu)

    # us-east-1 without ARCHIVE_BUCKET_REGION: S3 redirects, the binary says what to set.
    east_unset = member_env(emu, EAST)
    created = run(emu, "create", east_unset)
    assert created.code == 0 and created.summary["created"] == 2, created.stderr
    failed = run(emu, "collect", east_unset)
    assert failed.code == 1, failed.stdout
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, failed.stderr
    assert "the archive bucket is in eu-west-1, not us-east-1; set ARCHIVE_BUCKET_REGION=eu-west-1" in errors[0]
    assert "PermanentRedirect" in errors[0]
    assert archive(emu) == {} and published(emu) == []

    east = dict(east_unset, ARCHIVE_BUCKET_REGION=WEST)
    west = member_env(emu, WEST)  # the bucket's own Region: nothing to set
    assert run(emu, "create", west).summary["created"] == 2
    emu.advance(3600)
    for region, env in ((EAST, east), (WEST, west)):
        collected = run(emu, "collect", env)
        assert collected.code == 0, collected.stderr
        assert collected.summary["archived"] == 2 and collected.summary["failed"] == []
        assert collected.summary["new_candidates"] == [amis[region]["unused"]]

    before = archive(emu)
    for region in (EAST, WEST):
        reports = emu.client("ec2", region=region).describe_image_usage_reports()["ImageUsageReports"]
        keys = {k for k in before if f"/reports/region={region}/" in k}
        assert {k.rsplit("/", 1)[1] for k in keys} == {f"{r['ReportId']}.json.gz" for r in reports}
        assert {r["region"] for r in rows({k: before[k] for k in keys}, "reports")} == {region}
        assert any(f"/verdicts/region={region}/" in k for k in before)
        own = state(emu, f"{PREFIX}/state/region={region}/collect-state.json")
        assert own["region"] == region
        assert set(own["amis"]) == set(amis[region].values()), "each Region's state holds its AMIs only"
        assert any(k.startswith(f"candidate:{amis[region]['unused']}:") for k in own["notified"])
        assert own["outbox"] == []
    # The org tables of the central stack read these rows (column names and types).
    org_columns = glue_columns(CENTRAL)
    for table in ("entries", "reports", "verdicts"):
        written = rows(before, table)
        assert written and check_rows(org_columns[table], written) == [], table
    assert f"{PREFIX}/state/collect-state.json" not in before
    assert not [
        k
        for k in before
        if not k.startswith(
            (f"{PREFIX}/entries/", f"{PREFIX}/reports/", f"{PREFIX}/verdicts/", f"{PREFIX}/state/region=")
        )
    ]
    alerts = published(emu)
    assert sorted((m["region"], m["Subject"]) for m in alerts) == [
        (WEST, f"AMI usage eu-west-1: {FIRST_ALERT}"),
        (EAST, f"AMI usage us-east-1: {FIRST_ALERT}"),
    ]

    # Re-run in both Regions: nothing new is announced, nothing archived is rewritten.
    emu.advance(3600)
    for env in (east, west):
        again = run(emu, "collect", env)
        assert again.code == 0, again.stderr
        assert again.summary["archived"] == 0 and again.summary["already_archived"] == 2
        assert again.summary["alert"] is None
    assert len(published(emu)) == 2
    after = archive(emu)
    unchanged = {k: (v["etag"], v["last_modified"]) for k, v in before.items() if "/state/" not in k}
    assert {k: (v["etag"], v["last_modified"]) for k, v in after.items() if "/state/" not in k} == unchanged


@pytest.mark.slow
def test_upgrade_adopts_the_single_region_state_once_and_no_other_region_takes_it(emu):
    central_bucket(emu, EAST)
    amis = {EAST: seed_region(emu, EAST), WEST: seed_region(emu, WEST)}
    age_past_report_lags(emu)
    east = member_env(emu, EAST)
    own_key = f"{PREFIX}/state/region={EAST}/collect-state.json"
    legacy_key = f"{PREFIX}/state/collect-state.json"
    s3 = emu.client("s3")

    assert run(emu, "create", east).code == 0
    first = run(emu, "collect", east)
    assert first.code == 0 and first.summary["alert"]["published"] is True, first.stderr
    [alert] = published(emu)
    assert alert["Subject"] == f"AMI usage us-east-1: {FIRST_ALERT}"
    announced = state(emu, own_key, EAST)
    assert any(k.startswith(f"candidate:{amis[EAST]['unused']}:") for k in announced["notified"])

    # What a binary from before per-Region states left behind: one state at the old key.
    del announced["region"]
    s3.put_object(Bucket=BUCKET, Key=legacy_key, Body=json.dumps(announced).encode())
    s3.delete_object(Bucket=BUCKET, Key=own_key)

    # A fresh state would announce the candidate again; the adopted one knows it did.
    emu.advance(3600)
    upgraded = run(emu, "collect", east)
    assert upgraded.code == 0 and upgraded.summary["alert"] is None, upgraded.stderr
    assert upgraded.summary["still_unused"] == 1
    assert len(published(emu)) == 1
    migrated = state(emu, own_key, EAST)
    assert migrated["region"] == EAST and migrated["notified"] == announced["notified"]
    assert state(emu, legacy_key, EAST)["region"] == EAST, "the old key is claimed by the Region that adopted it"

    emu.advance(3600)
    again = run(emu, "collect", east)
    assert again.code == 0 and again.summary["alert"] is None, again.stderr
    assert len(published(emu)) == 1, "no alert repeats after the upgrade"

    # A Region joining the prefix later starts afresh: us-east-1's claimed state is not its own.
    west = member_env(emu, WEST, ARCHIVE_BUCKET_REGION=EAST)
    assert run(emu, "create", west).code == 0
    emu.advance(3600)
    joined = run(emu, "collect", west)
    assert joined.code == 0, joined.stderr
    assert joined.summary["new_candidates"] == [amis[WEST]["unused"]]
    west_state = state(emu, f"{PREFIX}/state/region={WEST}/collect-state.json", EAST)
    assert set(west_state["amis"]) == set(amis[WEST].values())
    assert not [k for k in west_state["notified"] if amis[EAST]["unused"] in k]
    assert [m["region"] for m in published(emu)] == [EAST, WEST]
