"""Reads the archive the binary wrote to the emulator's S3."""

from __future__ import annotations

import gzip
import json


def objects(s3, bucket: str, prefix: str) -> dict[str, dict]:
    """key -> {"etag", "last_modified", "rows"} for every object under prefix."""
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            rows = []
            if o["Key"].endswith(".json.gz"):
                rows = [json.loads(line) for line in gzip.decompress(body).decode().splitlines() if line]
            out[o["Key"]] = {"etag": o["ETag"], "last_modified": o["LastModified"], "rows": rows}
    return out


def rows(objs: dict[str, dict], dataset: str) -> list[dict]:
    return [r for k, o in sorted(objs.items()) if f"/{dataset}/" in k for r in o["rows"]]


def drain(sqs, queue_url: str) -> list[dict]:
    """Every SNS notification waiting in the subscriber queue."""
    messages = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        batch = got.get("Messages", [])
        if not batch:
            return messages
        for m in batch:
            messages.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def object_rows(s3, bucket: str, key: str) -> list[dict]:
    """The rows of one gzip JSON Lines object (a verdicts object, a facts object)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]


def section(email: str, title: str) -> list[str]:
    """The `- ...` lines of one titled section of the alert's e-mail digest."""
    parts = email.split(f"\n{title}\n", 1)
    if len(parts) == 1:
        return []
    return [line for line in parts[1].split("\n\n", 1)[0].splitlines() if line.startswith("- ")]
