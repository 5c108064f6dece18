"""A report whose compressed entries pass S3's 5 MiB part size is archived by the real
binary as a multipart upload, complete and exactly once."""

from __future__ import annotations

import pytest
from harness import run_binary
from scale import PREFIX, assert_archived_exactly_once, synthetic_fleet

# The emulator's synthetic entries gzip to about 5.4 bytes each: 1.2 million make one
# full 5 MiB part and a last part of about 1.3 MiB.
ENTRIES = 1_200_000
PART_SIZE = 5 * 1024 * 1024


@pytest.mark.slow
def test_a_report_past_the_part_size_is_archived_by_multipart_upload(emu):
    fleet = synthetic_fleet(emu, amis=1, entries=ENTRIES, errors=0)
    now = emu.now()
    assert run_binary(emu, ["create", "--now", now], fleet.env).code == 0

    result = run_binary(emu, ["collect", "--now", now], fleet.env, timeout=600)
    assert result.code == 0, result.stderr
    assert result.summary["archived"] == 1 and result.summary["entries_archived"] == ENTRIES

    [entries_object] = emu.client("s3").list_objects_v2(Bucket=fleet.bucket, Prefix=f"{PREFIX}/entries/")["Contents"]
    assert entries_object["Size"] > PART_SIZE
    assert entries_object["ETag"].strip('"').endswith("-2"), entries_object  # S3's ETag of a 2-part upload
    assert_archived_exactly_once(emu, fleet)
