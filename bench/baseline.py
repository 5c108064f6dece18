"""The baseline a team would otherwise write: the same create/collect loop, straight
boto3 (standard retry mode, 8 attempts: the same retry budget as the Rust binary, but
no client-side pacing), run as its own process so its CPU and memory are measured
alone.

    python bench/baseline.py create|collect   (same environment variables as the binary)
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys
import time
from datetime import UTC, datetime

import boto3
from botocore.config import Config

PERIOD_TAG = "ami-usage-reporter:period"


def clients():
    # A generous read timeout: the emulator needs minutes to list 10,000 AMIs at once.
    config = Config(
        retries={"mode": "standard", "max_attempts": 8},
        s3={"addressing_style": "path"},
        max_pool_connections=16,
        read_timeout=900,
    )
    return boto3.client("ec2", config=config), boto3.client("s3", config=config)


def tag_filters() -> list[dict]:
    pairs = [p.split("=", 1) for p in os.environ.get("AMI_TAG_FILTERS", "").split(",") if p]
    return [{"Name": f"tag:{k}", "Values": v.split("|")} for k, v in pairs]


def create() -> dict:
    ec2, _ = clients()
    period = datetime.now(UTC).strftime("%Y-%m-%d")
    images = [
        i
        for page in ec2.get_paginator("describe_images").paginate(Owners=["self"], Filters=tag_filters())
        for i in page["Images"]
    ]
    reported = {
        r["ImageId"]
        for page in ec2.get_paginator("describe_image_usage_reports").paginate(
            Filters=[{"Name": f"tag:{PERIOD_TAG}", "Values": [period]}]
        )
        for r in page["ImageUsageReports"]
    }
    created = failed = 0
    creating = time.monotonic()
    for image in images:
        if image["ImageId"] in reported or image.get("State") != "available":
            continue
        token = hashlib.sha256(f"{image['ImageId']}/{period}".encode()).hexdigest()[:64]
        try:
            ec2.create_image_usage_report(
                ImageId=image["ImageId"],
                ClientToken=token,
                ResourceTypes=[
                    {"ResourceType": "ec2:Instance"},
                    {
                        "ResourceType": "ec2:LaunchTemplate",
                        "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["20"]}],
                    },
                ],
                TagSpecifications=[
                    {"ResourceType": "image-usage-report", "Tags": [{"Key": PERIOD_TAG, "Value": period}]}
                ],
            )
            created += 1
        except ec2.exceptions.ClientError:
            failed += 1
    return {
        "selected": len(images),
        "created": created,
        "failed": failed,
        "creating_seconds": time.monotonic() - creating,
    }


def collect() -> dict:
    ec2, s3 = clients()
    bucket, prefix = os.environ["ARCHIVE_BUCKET"], os.environ.get("ARCHIVE_PREFIX", "ami-usage")
    region, now = ec2.meta.region_name, datetime.now(UTC).isoformat()
    reports = [
        r
        for page in ec2.get_paginator("describe_image_usage_reports").paginate(
            Filters=[{"Name": "tag-key", "Values": [PERIOD_TAG]}]
        )
        for r in page["ImageUsageReports"]
    ]
    archived = {
        o["Key"].rsplit("/", 1)[-1].split(".")[0]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/reports/")
        for o in page.get("Contents", [])
    }
    entries = 0
    for report in reports:
        if report["ReportId"] in archived or report["State"] != "available":
            continue
        image = ec2.describe_images(Owners=["self"], Filters=[{"Name": "image-id", "Values": [report["ImageId"]]}])
        day = report["CreationTime"].strftime("%Y-%m-%d")
        rows = []
        for page in ec2.get_paginator("describe_image_usage_report_entries").paginate(ReportIds=[report["ReportId"]]):
            for e in page["ImageUsageReportEntries"]:
                rows.append(
                    {
                        "schema_version": 1,
                        "report_id": e["ReportId"],
                        "image_id": e["ImageId"],
                        "account_id": e["AccountId"],
                        "resource_type": e["ResourceType"],
                        "usage_count": e["UsageCount"],
                        "report_creation_time": e["ReportCreationTime"].isoformat(),
                        "owner_account_id": report.get("OwnerId", ""),
                        "region": region,
                        "collected_at": now,
                    }
                )
        body = gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())
        key = f"{prefix}/entries/region={region}/report_date={day}/{report['ReportId']}.json.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", ContentEncoding="gzip")
        summary = {
            **{k: str(v) for k, v in report.items()},
            "image": image["Images"][:1] and {k: str(v) for k, v in image["Images"][0].items()},
            "entry_count": len(rows),
            "total_usage": sum(r["usage_count"] for r in rows),
        }
        key = f"{prefix}/reports/region={region}/report_date={day}/{report['ReportId']}.json.gz"
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=gzip.compress((json.dumps(summary) + "\n").encode()),
            IfNoneMatch="*",
            ContentEncoding="gzip",
        )
        entries += len(rows)
    return {"reports_seen": len(reports), "entries_archived": entries}


if __name__ == "__main__":
    print(json.dumps({"create": create, "collect": collect}[sys.argv[1]]()))
