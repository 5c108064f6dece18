"""The archive as a queryable history: the real binary runs create + collect over five
emulated days while the fleet changes under it; the archive it wrote is then checked
against the Glue schema of template.yaml and every query of queries/ runs on it in
DuckDB. Every expected value is computed from the fleet history this test drives, and
unused_amis.sql from the verdicts the binary archived: its answer must be exactly the
candidates of the latest verdicts object. The verdict window is shortened
(UNUSED_MIN_DAYS=3, MIN_REPORTS=2, MIN_AGE_DAYS=0) so that five days are enough for a
candidate, and for an AMI that zero_usage_in_reports.sql lists but the verdict does not
(a report in error makes it unknown).

Reports lag the fleet as in AWS (the emulator's defaults, emulator/FIDELITY.md): an
instance counts 24 h after its launch, a launch template as it stood 7 days before. The
fleet of day 1 has existed longer than that when the history begins (as fleet.seed's),
and each day's expected entries are what the fleet was as the report sees it: an
instance from the day after its launch, a template version made during the history
never within these five days."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from fleet import CONSUMER_1, CONSUMER_2, PAST_REPORT_LAGS, AmiSpec, Fleet, TemplateSpec, archive_and_alerting
from harness import REGION, ROOT, base_env, run_binary
from support.duckdb_archive import open_archive, run_query
from support.glue_schema import check_rows, glue_columns

PREFIX = "ami-usage"
DAYS = 5
DAY = 86400
READY_AFTER = 600
FLAKY_REASON = "Internal error while counting launch templates"
INSTANCE, TEMPLATE = "ec2:Instance", "ec2:LaunchTemplate"


@dataclass
class Ami:
    spec: AmiSpec
    billing_products: list[str] = field(default_factory=list)
    creation_date: dt.datetime | None = None


@dataclass
class History:
    """The fleet as it changes, and what each day's reports must then say."""

    emu: object
    amis: dict[str, Ami] = field(default_factory=dict)
    # id -> (account, ami key, launch time)
    instances: dict[str, tuple[str, str, dt.datetime]] = field(default_factory=dict)
    # (account, name) -> [(ami key, version create time)], oldest first
    templates: dict[tuple[str, str], list[tuple[str, dt.datetime]]] = field(default_factory=dict)
    # day -> image_id -> (report_id, creation_time, state, expected Counter of entries)
    days: list[dict[str, tuple]] = field(default_factory=list)
    # day -> the verdicts object that day's collect wrote (None: verdicts unchanged)
    verdict_objects: list[str | None] = field(default_factory=list)
    last_collect: str = ""

    def register(self, key: str, name: str, tags: dict[str, str], gib: int, billing=()) -> None:
        owner = self.emu.client("ec2")
        vol = owner.create_volume(AvailabilityZone=f"{REGION}a", Size=gib)
        snap = owner.create_snapshot(VolumeId=vol["VolumeId"])
        image_id = owner.register_image(
            Name=name,
            Architecture="x86_64",
            RootDeviceName="/dev/xvda",
            VirtualizationType="hvm",
            BillingProducts=list(billing),
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap["SnapshotId"]}}],
            TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
        )["ImageId"]
        owner.modify_image_attribute(
            ImageId=image_id, LaunchPermission={"Add": [{"UserId": CONSUMER_1}, {"UserId": CONSUMER_2}]}
        )
        [described] = owner.describe_images(ImageIds=[image_id])["Images"]
        created = dt.datetime.fromisoformat(described["CreationDate"].replace("Z", "+00:00"))
        self.amis[key] = Ami(AmiSpec(key, name, tags, gib, image_id), list(billing), created)

    def id(self, key: str) -> str:
        return self.amis[key].spec.image_id

    def run(self, account: str, key: str, count: int) -> list[str]:
        got = self.emu.client("ec2", account).run_instances(
            ImageId=self.id(key), MinCount=count, MaxCount=count, InstanceType="t3.micro"
        )
        self.instances.update({i["InstanceId"]: (account, key, i["LaunchTime"]) for i in got["Instances"]})
        return [i["InstanceId"] for i in got["Instances"]]

    def terminate(self, account: str, ids: list[str]) -> None:
        self.emu.client("ec2", account).terminate_instances(InstanceIds=ids)
        for i in ids:
            del self.instances[i]

    def stop(self, account: str, ids: list[str]) -> None:
        """A stopped instance still uses its AMI: it stays in the model."""
        self.emu.client("ec2", account).stop_instances(InstanceIds=ids)

    def template(self, account: str, name: str, key: str) -> None:
        ec2 = self.emu.client("ec2", account)
        data = {"ImageId": self.id(key), "InstanceType": "t3.micro"}
        if (account, name) in self.templates:
            got = ec2.create_launch_template_version(LaunchTemplateName=name, LaunchTemplateData=data)
            self.templates[(account, name)].append((key, got["LaunchTemplateVersion"]["CreateTime"]))
        else:
            got = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)
            self.templates[(account, name)] = [(key, got["LaunchTemplate"]["CreateTime"])]

    def snapshot(self, seen_at: dt.datetime | None = None, lags: tuple[float, float] = (0, 0)) -> Fleet:
        """The fleet now, or as a report created at `seen_at` sees it: instances launched
        at least the instance lag before (and not terminated), each template's versions
        made at least the launch template lag before."""

        def seen(t: dt.datetime, lag: float) -> bool:
            return seen_at is None or t <= seen_at - dt.timedelta(seconds=lag)

        instance_lag, template_lag = lags
        templates = {at: [k for k, t in v if seen(t, template_lag)] for at, v in self.templates.items()}
        return Fleet(
            amis=[a.spec for a in self.amis.values()],
            instances=[(a, k, 1) for a, k, t in self.instances.values() if seen(t, instance_lag)],
            templates=[TemplateSpec(a, n, v) for (a, n), v in templates.items() if v],
        )


def change_fleet(h: History, day: int, ids: dict[str, list[str]]) -> None:
    """Day by day: a family moves to its successor, a licensed AMI falls out of use."""
    if day == 1:
        h.register("app1", "app-2026.01.01", {"Golden": "true", "Family": "app"}, 8)
        h.register("legacy", "legacy-base-v3", {"Golden": "true", "Family": "legacy"}, 100)
        h.register("rhel", "rhel-9-base", {"Golden": "true", "Family": "rhel"}, 30, billing=["bp-6fa54006"])
        h.register("flaky", "flaky-tools-v1", {"Golden": "true", "Family": "flaky"}, 16)
        h.register("scratch", "scratch-build", {"Golden": "false"}, 8)
        ids["c1_app1"] = h.run(CONSUMER_1, "app1", 3)
        ids["c2_rhel"] = h.run(CONSUMER_2, "rhel", 1)
        h.run(CONSUMER_1, "scratch", 1)
        h.template(CONSUMER_2, "web", "app1")
    elif day == 2:
        ids["c2_app1"] = h.run(CONSUMER_2, "app1", 2)
        h.stop(CONSUMER_1, ids["c1_app1"][:1])
    elif day == 3:
        h.register("app2", "app-2026.02.01", {"Golden": "true", "Family": "app"}, 8)
        h.template(CONSUMER_2, "web", "app2")
        h.terminate(CONSUMER_1, ids["c1_app1"][1:])
        ids["c1_app2"] = h.run(CONSUMER_1, "app2", 2)
    elif day == 4:
        h.terminate(CONSUMER_1, ids["c1_app1"][:1])
        h.terminate(CONSUMER_2, ids["c2_app1"] + ids["c2_rhel"])
        h.stop(CONSUMER_1, ids["c1_app2"][:1])
    elif day == 5:
        h.template(CONSUMER_2, "batch", "app2")


def drive_history(emu, env) -> History:
    h = History(emu)
    ec2 = emu.client("ec2")
    config = emu.control("config", {"report_ready_after_seconds": READY_AFTER})
    lags = (config["instance_activity_lag_seconds"], config["launch_template_activity_lag_seconds"])
    assert lags == (DAY, 7 * DAY), "the emulator's AWS defaults"
    ids: dict[str, list[str]] = {}
    seen: set[str] = set()
    for day in range(1, DAYS + 1):
        change_fleet(h, day, ids)
        if day == 1:
            # The fleet the history starts from is older than the report lags.
            emu.advance(PAST_REPORT_LAGS)
        errors = {h.id("flaky"): FLAKY_REASON} if day in (2, 4) else {}
        emu.control("config", {"error_images": errors})
        fleet = h.snapshot()
        created = run_binary(emu, ["create", "--now", emu.now()], env)
        assert created.code == 0, created.stderr
        assert created.summary["created"] == len(fleet.selected()), created.summary
        emu.advance(READY_AFTER + 60)
        collected = run_binary(emu, ["collect", "--now", emu.now()], env)
        assert collected.code == 0, collected.stderr
        assert collected.summary["archived"] == len(fleet.selected()), collected.summary
        today = {}
        for r in ec2.describe_image_usage_reports()["ImageUsageReports"]:
            if r["ReportId"] in seen:
                continue
            seen.add(r["ReportId"])
            key = next(a.spec.key for a in h.amis.values() if a.spec.image_id == r["ImageId"])
            as_seen = h.snapshot(r["CreationTime"], lags)
            expected = as_seen.expected_entries(key) if r["State"] == "available" else {}
            today[r["ImageId"]] = (r["ReportId"], r["CreationTime"], r["State"], expected)
        assert {i: s for i, (_, _, s, _) in today.items()} == {
            a.image_id: "error" if a.image_id in errors else "available" for a in fleet.selected()
        }
        h.days.append(today)
        h.verdict_objects.append((collected.summary.get("verdicts") or {}).get("object"))
        h.last_collect = emu.now()
        emu.advance(DAY - READY_AFTER - 60)
    return h


def download(s3, bucket: str, dest: Path) -> dict[str, list[dict]]:
    """The whole archive prefix into dest (as `aws s3 sync` would); rows per table."""
    tables: dict[str, list[dict]] = defaultdict(list)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{PREFIX}/"):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            path = dest / o["Key"][len(PREFIX) + 1 :]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
            if o["Key"].endswith(".json.gz"):
                table = o["Key"].split("/")[1]
                tables[table] += [json.loads(line) for line in gzip.decompress(body).decode().splitlines() if line]
    return tables


def report_date(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d")


@pytest.mark.slow
def test_five_days_of_history_match_the_glue_schema_and_answer_every_query(emu, tmp_path):
    alerting = archive_and_alerting(emu)
    env = base_env(
        emu,
        ARCHIVE_BUCKET=alerting.bucket,
        ARCHIVE_PREFIX=PREFIX,
        ALERT_TOPIC_ARN=alerting.topic_arn,
        AMI_TAG_FILTERS="Golden=true",
        UNUSED_MIN_DAYS="3",
        MIN_REPORTS="2",
        MIN_AGE_DAYS="0",
    )
    h = drive_history(emu, env)
    name = {a.spec.image_id: a.spec.name for a in h.amis.values()}
    family = {a.spec.image_id: a.spec.tags["Family"] for a in h.amis.values() if "Family" in a.spec.tags}

    # 1. Every real row matches the Glue tables of template.yaml.
    tables = download(emu.client("s3"), alerting.bucket, tmp_path)
    columns = glue_columns(ROOT / "template.yaml")
    n_reports = sum(len(d) for d in h.days)
    assert len(tables["reports"]) == n_reports
    assert len(tables["entries"]) == sum(len(e) for d in h.days for (_, _, _, e) in d.values())
    for table in ("entries", "reports"):
        assert check_rows(columns[table], tables[table]) == [], table
    assert all(r["schema_version"] == 1 for t in tables.values() for r in t)

    # The views serve closed days from the parts collect compacted and the last
    # RawQueryHours from raw objects, read at the moment of the last collect.
    assert list(tmp_path.glob("compacted/entries/*/*/part-0000.parquet")), "collect compacted the closed days"
    con = open_archive(tmp_path, now=h.last_collect)
    [(today,)] = con.execute("select current_date").fetchall()
    queries = {p.stem: p.read_text(encoding="utf-8") for p in sorted((ROOT / "queries").glob("*.sql"))}
    checks = {
        "usage_by_account": check_usage_by_account,
        "family_adoption": check_family_adoption,
        "unused_amis": check_unused_amis,
        "zero_usage_in_reports": check_zero_usage_in_reports,
        "report_problems": check_report_problems,
        "billing_products": check_billing_products,
        "retirement_actions": check_retirement_actions,
        "weekly_digests": check_no_digest,
        "ri_under_threshold": check_no_digest,
    }
    assert set(queries) == set(checks), "every query in queries/ needs its check here"
    ctx = {"h": h, "name": name, "family": family, "today": today, "verdicts": latest_verdicts(h, tmp_path)}
    for query, check in checks.items():
        check(run_query(con, queries[query]), **ctx)

    # The scratch AMI is not selected: nowhere in the history.
    [(n,)] = con.execute("select count(*) from reports where image_id = ?", [h.id("scratch")]).fetchall()
    assert n == 0


def check_retirement_actions(rows, **_):
    """RETIRE_MODE is off (the default): the pipeline decided nothing and wrote nothing."""
    assert rows == []


def check_no_digest(rows, **_):
    """This history runs no digest: the digest queries answer nothing (test_digest.py
    runs them over three real digests)."""
    assert rows == []


def check_usage_by_account(rows, h, name, **_):
    expected = []
    for day in h.days:
        for image_id, (_, created, _state, entries) in day.items():
            per_account = defaultdict(lambda: [0, 0])
            for (account, rtype), count in entries.items():
                per_account[account][0 if rtype == INSTANCE else 1] += count
            for account, (inst, lt) in per_account.items():
                expected.append(
                    {
                        "report_date": report_date(created),
                        "region": REGION,
                        "image_id": image_id,
                        "image_name": name[image_id],
                        "account_id": account,
                        "instance_usage": inst,
                        "launch_template_usage": lt,
                        "total_usage": inst + lt,
                    }
                )
    expected.sort(key=lambda r: (r["region"], r["image_id"], r["account_id"], r["report_date"]))
    assert rows == expected
    # The story the history tells: consumer 1 left app1 on day 4, consumer 2's template
    # still references it (the reports see "web" as it stood a week before: its app1
    # version; its app2 version of day 3 is younger than the lag).
    app1 = {(r["report_date"], r["account_id"]) for r in rows if r["image_id"] == h.id("app1")}
    last_day = report_date(h.days[-1][h.id("app1")][1])
    assert (last_day, CONSUMER_1) not in app1 and (last_day, CONSUMER_2) in app1
    # Consumer 2's two app1 instances of day 2 count from day 3 on (the 24 h lag).
    days = [report_date(d[h.id("app1")][1]) for d in h.days]
    c2 = {
        r["report_date"]: r["instance_usage"]
        for r in rows
        if r["image_id"] == h.id("app1") and r["account_id"] == CONSUMER_2
    }
    assert (c2[days[1]], c2[days[2]]) == (0, 2)


def check_family_adoption(rows, h, name, family, **_):
    creation = {a.spec.image_id: a.creation_date for a in h.amis.values()}
    generation = {}
    for fam in set(family.values()):
        members = sorted((creation[i], i) for i, f in family.items() if f == fam)
        generation.update({i: g for g, (_, i) in enumerate(members, start=1)})
    expected = []
    for day in h.days:
        available = {i: v for i, v in day.items() if v[2] == "available"}
        fam_usage = defaultdict(int)
        for image_id, (_, _, _, entries) in available.items():
            fam_usage[family[image_id]] += sum(entries.values())
        for image_id, (_, created, _, entries) in available.items():
            total, f = sum(entries.values()), family[image_id]
            expected.append(
                {
                    "report_date": report_date(created),
                    "region": REGION,
                    "family": f,
                    "image_id": image_id,
                    "image_name": name[image_id],
                    "image_creation_date": creation[image_id].replace(tzinfo=None),
                    "generation": generation[image_id],
                    "total_usage": total,
                    "account_count": len({a for a, _ in entries}),
                    "family_usage": fam_usage[f],
                    "usage_share": round(total / fam_usage[f], 4) if fam_usage[f] else None,
                }
            )
    expected.sort(key=lambda r: (r["region"], r["family"], r["report_date"], r["generation"]))
    assert rows == expected
    assert generation[h.id("app1")] == 1 and generation[h.id("app2")] == 2
    # app2 takes over: its share of the family grows from its first day to the last.
    shares = [r["usage_share"] for r in rows if r["image_id"] == h.id("app2")]
    assert len(shares) == 3 and shares[0] < shares[-1]


def latest_verdicts(h: History, archive: Path) -> list[dict]:
    """The rows of the latest verdicts object in the downloaded archive, as written."""
    objects = sorted(
        archive.glob("verdicts/region=*/report_date=*/run-*.json.gz"), key=lambda p: (p.parent.name, p.name)
    )
    assert objects and h.verdict_objects[-1], "the last day's first collect writes the day's verdicts"
    latest = objects[-1]
    assert latest.relative_to(archive).as_posix() == h.verdict_objects[-1][len(PREFIX) + 1 :]
    return [json.loads(line) for line in gzip.decompress(latest.read_bytes()).decode().splitlines() if line]


VERDICT_COLUMNS = (
    "owner_account_id",
    "region",
    "image_id",
    "name",
    "evaluated_at",
    "age_days",
    "unused_since",
    "days_unused",
    "reports_in_window",
    "zero_usage_reports",
    "snapshot_size_gib_total",
    "estimated_snapshot_usd_month",
    "has_billing_codes",
    "deregistration_protection",
    "not_checked",
    "reasons",
)


def check_unused_amis(rows, h, verdicts, **_):
    """Exactly the candidates of the latest verdicts object, as the binary wrote them
    (a column the binary does not write yet reads NULL)."""

    def as_read(row: dict) -> dict:
        out = {c: row.get(c) for c in VERDICT_COLUMNS}
        for c in ("evaluated_at", "unused_since"):
            out[c] = out[c] and dt.datetime.strptime(out[c], "%Y-%m-%dT%H:%M:%S.%fZ")
        return out

    expected = [as_read(r) for r in verdicts if r["verdict"] == "candidate"]
    expected.sort(key=lambda r: (r["owner_account_id"], r["region"], r["image_id"]))
    expected.sort(key=lambda r: (-r["estimated_snapshot_usd_month"], -r["days_unused"]))
    assert rows == expected
    # legacy never had a user; flaky's report of day 4 ended in error (unknown, although
    # no available report shows use); rhel and both app AMIs were used in the window.
    verdict = {r["image_id"]: (r["verdict"], r["reasons"]) for r in verdicts}
    assert [r["image_id"] for r in rows] == [h.id("legacy")]
    assert verdict[h.id("flaky")][0] == "unknown" and "report_error" in verdict[h.id("flaky")][1]
    assert {verdict[h.id(k)][0] for k in ("rhel", "app1", "app2")} == {"in_use"}
    assert rows[0]["snapshot_size_gib_total"] == 100 and rows[0]["estimated_snapshot_usd_month"] == 5.0


def check_zero_usage_in_reports(rows, h, name, today, **_):
    expected = []
    for ami in h.amis.values():
        image_id = ami.spec.image_id
        reports = [
            (day[image_id][1], day[image_id][3])
            for day in h.days
            if image_id in day and day[image_id][2] == "available"
        ]
        if not reports or any(sum(entries.values()) for _, entries in reports):
            continue
        expected.append(
            {
                "region": REGION,
                "image_id": image_id,
                "image_name": name[image_id],
                "age_days": (today - ami.creation_date.date()).days,
                "snapshot_size_gib": ami.spec.volume_gib,
                "snapshot_usd_per_month": ami.spec.volume_gib * Decimal("0.05"),  # a decimal literal in SQL
                "report_count": len(reports),
                "first_report_date": report_date(reports[0][0]),
                "last_report_date": report_date(reports[-1][0]),
            }
        )
    expected.sort(key=lambda r: (-r["snapshot_size_gib"], -r["age_days"], r["region"], r["image_id"]))
    assert rows == expected
    # legacy never had a user; flaky's error days are gaps, not usage; rhel was used.
    assert [r["image_id"] for r in rows] == [h.id("legacy"), h.id("flaky")]
    assert rows[1]["report_count"] == DAYS - 2


def check_report_problems(rows, h, name, **_):
    errors = [(image_id, v) for day in h.days for image_id, v in day.items() if v[2] == "error"]
    per_image = defaultdict(int)
    for image_id, _ in errors:
        per_image[image_id] += 1
    expected = [
        {
            "report_date": report_date(created),
            "region": REGION,
            "report_id": report_id,
            "image_id": image_id,
            "image_name": name[image_id],
            "state_reason": FLAKY_REASON,
            "report_creation_time": created.astimezone(dt.UTC).replace(tzinfo=None),
            "errors_for_image": per_image[image_id],
        }
        for image_id, (report_id, created, _, _) in errors
    ]
    expected.sort(key=lambda r: (r["region"], r["image_id"], r["report_id"]))
    expected.sort(key=lambda r: r["report_date"], reverse=True)  # stable: newest day first
    got = [{k: v for k, v in r.items() if k != "collected_at"} for r in rows]
    assert got == expected
    for r in rows:  # collected after its report became available, the same emulated day
        delay = (r["collected_at"] - r["report_creation_time"]).total_seconds()
        assert READY_AFTER <= delay < READY_AFTER + 120
    assert [r["image_id"] for r in rows] == [h.id("flaky")] * 2 and rows[0]["errors_for_image"] == 2


def check_billing_products(rows, h, name, **_):
    rhel = h.amis["rhel"]
    image_id = rhel.spec.image_id
    report_id, created, state, entries = h.days[-1][image_id]
    assert rhel.billing_products == ["bp-6fa54006"]
    # DescribeImages never returns BillingProducts: the writer records the AMI's
    # non-default usage operation as its billing trace (see queries/README.md).
    assert rows == [
        {
            "region": REGION,
            "image_id": image_id,
            "image_name": name[image_id],
            "platform_details": "Red Hat Enterprise Linux",
            "usage_operation": "RunInstances:0010",
            "billing_products": ["RunInstances:0010"],
            "product_codes": [],
            "billing_product_count": 1,
            "product_code_count": 0,
            "latest_report_date": report_date(created),
            "latest_report_state": state,
            "latest_total_usage": sum(entries.values()),
        }
    ]
    assert rows[0]["latest_total_usage"] == 0  # unused now, and still must not be deregistered blindly
