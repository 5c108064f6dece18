"""check_rows() against hand-written rows of the archive contract (schema_version 1)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from support.glue_schema import check_rows, glue_columns, parse_hive_type

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture(scope="module")
def columns():
    return glue_columns(TEMPLATE)


ENTRY = {
    "schema_version": 1,
    "report_id": "amiur-0123456789abcdef0",
    "image_id": "ami-0123456789abcdef0",
    "account_id": "210987654321",
    "resource_type": "ec2:Instance",
    "usage_count": 3,
    "report_creation_time": "2025-11-29T11:04:43.305Z",
    "owner_account_id": "123456789012",
    "region": "us-east-1",
    "collected_at": "2025-11-29T12:30:00.000Z",
}

REPORT = {
    "schema_version": 1,
    "report_id": "amiur-0123456789abcdef0",
    "image_id": "ami-0123456789abcdef0",
    "owner_account_id": "123456789012",
    "region": "us-east-1",
    "state": "available",
    "state_reason": None,
    "resource_types": [
        {"resource_type": "ec2:Instance", "options": []},
        {"resource_type": "ec2:LaunchTemplate", "options": [{"name": "version-depth", "values": ["20"]}]},
    ],
    "account_ids": [],
    "report_creation_time": "2025-11-29T11:04:43.305Z",
    "report_expiration_time": "2025-12-29T11:04:43.305Z",
    "tags": {"CreatedBy": "ami-usage-reporter"},
    "image": {
        "name": "app-2025.11.01",
        "description": None,
        "creation_date": "2025-11-01T08:00:00.000Z",
        "state": "available",
        "architecture": "arm64",
        "platform_details": "Linux/UNIX",
        "usage_operation": "RunInstances",
        "tags": {"Family": "app"},
        "billing_products": [],
        "product_codes": [{"product_code_id": "abc123", "product_code_type": "marketplace"}],
        "block_devices": [
            {"device_name": "/dev/xvda", "snapshot_id": "snap-0123456789abcdef0", "volume_size_gib": 8},
            {"device_name": "/dev/sdb", "snapshot_id": None, "volume_size_gib": None},
        ],
        "snapshot_size_gib_total": 8,
    },
    "entry_count": 2,
    "account_count": 1,
    "total_usage": 4,
    "instance_usage": 3,
    "launch_template_usage": 1,
    "collected_at": "2025-11-29T12:30:00.000Z",
}


def test_valid_rows_have_no_problem(columns):
    deleted_ami = dict(
        REPORT,
        image=None,
        state="error",
        state_reason="Internal error",
        entry_count=0,
        account_count=0,
        total_usage=0,
        instance_usage=0,
        launch_template_usage=0,
    )
    assert check_rows(columns["entries"], [ENTRY, dict(ENTRY, resource_type="ec2:LaunchTemplate")]) == []
    assert check_rows(columns["reports"], [REPORT, deleted_ami]) == []


def _report(**changes):
    row = copy.deepcopy(REPORT)
    for path, value in changes.items():
        target = row
        *parents, last = path.split("__")
        for p in parents:
            target = target[int(p)] if isinstance(target, list) else target[p]
        if value is _DELETE:
            del target[last]
        else:
            target[int(last) if isinstance(target, list) else last] = value
    return row


_DELETE = object()


@pytest.mark.parametrize(
    "row,expected",
    [
        (dict(ENTRY, usage_count="3"), "row 0: usage_count: expected bigint (JSON integer), got JSON string '3'"),
        (dict(ENTRY, usage_count=True), "row 0: usage_count: expected bigint (JSON integer), got JSON boolean True"),
        (dict(ENTRY, usage_count=1.5), "row 0: usage_count: expected bigint (JSON integer), got JSON number 1.5"),
        (dict(ENTRY, schema_version=2**31), "row 0: schema_version: 2147483648 is out of range for int"),
        (dict(ENTRY, account_id=210987654321), "row 0: account_id: expected string, got JSON integer 210987654321"),
        (
            dict(ENTRY, collected_at="2025-11-29T12:30:00Z"),
            "row 0: collected_at: expected timestamp string YYYY-MM-DDTHH:MM:SS.mmmZ, "
            "got JSON string '2025-11-29T12:30:00Z'",
        ),
        (
            dict(ENTRY, collected_at="2025-11-29T12:30:00.000+00:00"),
            "row 0: collected_at: expected timestamp string YYYY-MM-DDTHH:MM:SS.mmmZ, "
            "got JSON string '2025-11-29T12:30:00.000+00:00'",
        ),
        (
            dict(ENTRY, collected_at="2025-02-30T12:30:00.000Z"),
            "row 0: collected_at: '2025-02-30T12:30:00.000Z' is not a valid date/time",
        ),
        (
            dict(ENTRY, collected_at=1764419400000),
            "row 0: collected_at: expected timestamp string YYYY-MM-DDTHH:MM:SS.mmmZ, got JSON integer 1764419400000",
        ),
        (
            {k: v for k, v in ENTRY.items() if k != "owner_account_id"},
            "row 0: owner_account_id: missing (declared as string)",
        ),
        (dict(ENTRY, reportId="x"), "row 0: reportId: not a declared column/field (value 'x')"),
    ],
)
def test_invalid_entry_rows(columns, row, expected):
    assert check_rows(columns["entries"], [ENTRY, row]) == [expected.replace("row 0", "row 1")]


@pytest.mark.parametrize(
    "changes,expected",
    [
        (
            {"image__block_devices__0__volume_size_gib": "8"},
            "image.block_devices[0].volume_size_gib: expected bigint (JSON integer), got JSON string '8'",
        ),
        (
            {"image__block_devices__1": {"device_name": "/dev/sdb", "volume_size_gib": None}},
            "image.block_devices[1].snapshot_id: missing (declared as string)",
        ),
        ({"image__tags": {"Family": 7}}, "image.tags['Family']: expected string, got JSON integer 7"),
        (
            {"image__tags": [{"Key": "Family", "Value": "app"}]},
            "image.tags: expected map<string,string> (JSON object), got JSON array [{'Key': 'Family', 'Value': 'app'}]",
        ),
        ({"tags": None}, None),
        (
            {"image__product_codes__0__ProductCodeId": "abc"},
            "image.product_codes[0].ProductCodeId: not a declared column/field (value 'abc')",
        ),
        (
            {"image__creation_date": "2025-11-01"},
            "image.creation_date: expected timestamp string YYYY-MM-DDTHH:MM:SS.mmmZ, got JSON string '2025-11-01'",
        ),
        ({"image__snapshot_size_gib_total": _DELETE}, "image.snapshot_size_gib_total: missing (declared as bigint)"),
        (
            {"resource_types__1__options__0__values": "20"},
            "resource_types[1].options[0].values: expected array<string> (JSON array), got JSON string '20'",
        ),
        ({"account_ids": ["210987654321", 42]}, "account_ids[1]: expected string, got JSON integer 42"),
        (
            {"image": "ami-0123456789abcdef0"},
            "image: expected struct (JSON object), got JSON string 'ami-0123456789abcdef0'",
        ),
        ({"region": "us-east-1"}, None),
    ],
)
def test_invalid_report_rows(columns, changes, expected):
    problems = check_rows(columns["reports"], [_report(**changes)])
    assert problems == ([] if expected is None else [f"row 0: {expected}"])


def test_several_problems_are_all_reported(columns):
    row = dict(ENTRY, usage_count=None, extra=1, image_id=5)
    del row["report_id"]
    assert check_rows(columns["entries"], [row, "not an object"]) == [
        "row 0: report_id: missing (declared as string)",
        "row 0: extra: not a declared column/field (value 1)",
        "row 0: image_id: expected string, got JSON integer 5",
        "row 1: expected a JSON object, got JSON string",
    ]


def test_region_is_ignored_only_because_it_is_the_partition_key(columns):
    assert check_rows(columns["entries"], [ENTRY], ignore=()) == [
        "row 0: region: not a declared column/field (value 'us-east-1')"
    ]


def test_parse_hive_type_round_trip():
    t = parse_hive_type("array<struct<a:string,b:map<string,array<bigint>>>>")
    assert t == (
        "array",
        (
            "struct",
            (
                ("a", ("primitive", "string")),
                ("b", ("map", ("primitive", "string"), ("array", ("primitive", "bigint")))),
            ),
        ),
    )
    with pytest.raises(ValueError):
        parse_hive_type("struct<a:string")
    with pytest.raises(ValueError):
        parse_hive_type("uuid")
