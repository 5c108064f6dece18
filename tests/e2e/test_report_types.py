"""Issue 21, item 3: EC2 refuses the Image Builder recipe report types, with the real
binary. The EC2 API reference documents only `ec2:Instance | ec2:LaunchTemplate`; a
Region that refuses the others answers `InvalidParameterValue`. Here the emulator's
fault injection answers the first create of each run so (the strict emulator, configured
to accept the API reference's two types, refuses them by itself).

- create retries that AMI at once with the two documented types and keeps them for the
  rest of the run: every AMI gets its report, none fails, the summary says so;
- the archived reports record the two types, the verdicts list the recipe kinds as
  `not_checked`, and the alert says it once, not daily.
"""

from __future__ import annotations

import pytest
from archive import objects, rows
from fleet import CONSUMER_1, register_golden
from harness import base_env, run_binary

BUCKET = "report-types"
HOUR, DAY = 3600, 86400
TWO = ["ec2:Instance", "ec2:LaunchTemplate"]
RECIPES = ["report:imagebuilder:ImageRecipe", "report:imagebuilder:ContainerRecipe"]


def refuse_the_first_create(emu) -> None:
    fault = {"fail_next": 1, "status": 400, "code": "InvalidParameterValue"}
    emu.control("faults", {"calls": {"CreateImageUsageReport": fault}})


def day(emu, env: dict) -> dict:
    refuse_the_first_create(emu)
    created = run_binary(emu, ["create", "--now", emu.now()], env)
    assert created.code == 0, created.stderr
    collected = run_binary(emu, ["collect", "--now", emu.advance(HOUR)], env)
    assert collected.code == 0, collected.stderr
    emu.advance(DAY - HOUR)
    return {"create": created.summary, "collect": collected.summary, "stderr": collected.stderr}


@pytest.mark.slow
def test_refused_recipe_types_fall_back_to_the_documented_two_and_are_announced_once(emu):
    emu.client("s3").create_bucket(Bucket=BUCKET)
    ec2 = emu.client("ec2")
    images = sorted(register_golden(ec2, f"golden-{i}", [CONSUMER_1]) for i in range(3))
    env = base_env(
        emu,
        ARCHIVE_BUCKET=BUCKET,
        AMI_TAG_FILTERS="Golden=true",
        UNUSED_MIN_DAYS="1",
        MIN_REPORTS="1",
        MIN_AGE_DAYS="0",
        MAX_CANDIDATE_PERCENT="100",
        CREATE_CONCURRENCY="1",
    )

    first = day(emu, env)
    assert (first["create"]["created"], first["create"]["failed"]) == (3, [])
    refused = first["create"]["resource_types_refused"]
    assert (refused["used"], refused["created_with_fallback"], len(refused["configured"])) == (TWO, 3, 4)
    assert refused["error"].startswith("InvalidParameterValue"), refused
    archived = rows(objects(emu.client("s3"), BUCKET, "ami-usage/reports/"), "reports")
    assert sorted(r["image_id"] for r in archived) == images
    assert all([t["resource_type"] for t in r["resource_types"]] == TWO for r in archived), archived
    verdicts = rows(objects(emu.client("s3"), BUCKET, "ami-usage/verdicts/"), "verdicts")
    for v in verdicts:
        assert all(k in v["not_checked"] and k not in v["checked"] for k in RECIPES), v
        assert "owner:imagebuilder:ImageRecipe" in v["checked"], v["checked"]
    announced = [
        line for line in first["stderr"].splitlines() if "asked EC2 for ec2:Instance, ec2:LaunchTemplate only" in line
    ]
    assert len(announced) == 1, first["stderr"]

    second = day(emu, env)
    assert second["create"]["resource_types_refused"]["created_with_fallback"] == 3
    assert "asked EC2 for ec2:Instance" not in second["stderr"], "announced once, not daily"
