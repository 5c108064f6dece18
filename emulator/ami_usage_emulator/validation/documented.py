"""Valid values that only the model's documentation states (the shapes leave them open).

Each rule reads the parsed request (and the emulator's settings) and returns its
violations; FIDELITY.md's "Requests" section lists every rule with the sentence it
comes from.  The EC2 ones answer ``InvalidParameterValue`` (``InvalidParameterCombination``
where the documentation pairs members), SNS's ``InvalidParameter``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from .shapes import INVALID, MISSING, Violation

INSTANCE, LAUNCH_TEMPLATE = "ec2:Instance", "ec2:LaunchTemplate"
IMAGE_RECIPE, CONTAINER_RECIPE = "imagebuilder:ImageRecipe", "imagebuilder:ContainerRecipe"
# CreateImageUsageReport's resource types: the EC2 API reference (and the model the
# product's SDK was built from) list two; the newest SDK docs (and botocore 1.44.5) four.
REPORT_RESOURCE_TYPES = {
    "api-reference": (INSTANCE, LAUNCH_TEMPLATE),
    "sdk-latest": (INSTANCE, LAUNCH_TEMPLATE, IMAGE_RECIPE, CONTAINER_RECIPE),
}
INSTANCE_STATES = ("pending", "running", "shutting-down", "terminated", "stopping", "stopped")
ACCOUNT_RE = re.compile(r"^\d{12}$")
REPORT_FILTERS = ("creation-time", "state", "tag-key")  # and tag:<key>
ENTRY_FILTERS = ("account-id", "creation-time", "resource-type")
SUBJECT_MAX = 99  # "less than 100 characters long"
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
ATTRIBUTE_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,256}$")
ATTRIBUTE_TYPES = ("String", "String.Array", "Number", "Binary")

Settings = dict[str, Any]  # what a rule may read: "report_resource_types", "sns_max_bytes"


def _bad(path: str, value: Any, why: str, code: str | None = None) -> Violation:
    return Violation(INVALID, path, value, why, code)


def _depth(path: str, values: list[Any]) -> Iterable[Violation]:
    if len(values) != 1 or not str(values[0]).isdigit() or not 1 <= int(values[0]) <= 10000:
        yield _bad(path, ",".join(map(str, values)), "version-depth takes one integer between 1 and 10000")


def create_image_usage_report(p: dict[str, Any], s: Settings) -> Iterable[Violation]:
    valid = REPORT_RESOURCE_TYPES[s["report_resource_types"]]
    for i, item in enumerate(p.get("ResourceTypes") or [], 1):
        rtype, path = item.get("ResourceType"), f"ResourceTypes.{i}"
        if rtype not in valid:
            yield _bad(f"{path}.ResourceType", rtype, "Valid values: " + " | ".join(valid))
        for j, opt in enumerate(item.get("ResourceTypeOptions") or [], 1):
            opath = f"{path}.ResourceTypeOptions.{j}"
            if rtype != LAUNCH_TEMPLATE:
                yield _bad(opath, rtype, f"ResourceTypeOptions are valid only when ResourceType is {LAUNCH_TEMPLATE}")
            elif opt.get("OptionName") != "version-depth":
                yield _bad(f"{opath}.OptionName", opt.get("OptionName"), "Valid value: version-depth")
            else:
                yield from _depth(f"{opath}.OptionValues", opt.get("OptionValues") or [])
    for i, account in enumerate(p.get("AccountIds") or [], 1):
        if not ACCOUNT_RE.match(str(account)):
            yield _bad(f"AccountIds.{i}", account, "An account ID is 12 digits")
    for i, spec in enumerate(p.get("TagSpecifications") or [], 1):
        if spec.get("ResourceType") != "image-usage-report":
            yield _bad(f"TagSpecifications.{i}.ResourceType", spec.get("ResourceType"), "must be image-usage-report")


def _filters(p: dict[str, Any], allowed: tuple[str, ...], tags: bool) -> Iterable[Violation]:
    for i, f in enumerate(p.get("Filters") or [], 1):
        name = f.get("Name")
        if name not in allowed and not (tags and str(name).startswith("tag:")):
            yield _bad(
                f"Filters.{i}.Name", name, "Valid filters: " + ", ".join(allowed + (("tag:<key>",) if tags else ()))
            )


def describe_image_usage_reports(p: dict[str, Any], s: Settings) -> Iterable[Violation]:
    yield from _filters(p, REPORT_FILTERS, True)


def describe_image_usage_report_entries(p: dict[str, Any], s: Settings) -> Iterable[Violation]:
    yield from _filters(p, ENTRY_FILTERS, False)


def describe_image_references(p: dict[str, Any], s: Settings) -> Iterable[Violation]:
    if not p.get("IncludeAllResourceTypes") and not p.get("ResourceTypes"):
        yield Violation(
            MISSING, "ResourceTypes", None, "Either IncludeAllResourceTypes or ResourceTypes must be specified"
        )
    allowed = {INSTANCE: "state-name", LAUNCH_TEMPLATE: "version-depth"}
    for i, item in enumerate(p.get("ResourceTypes") or [], 1):
        rtype, path = item.get("ResourceType"), f"ResourceTypes.{i}"
        for j, opt in enumerate(item.get("ResourceTypeOptions") or [], 1):
            opath, name, values = (
                f"{path}.ResourceTypeOptions.{j}",
                opt.get("OptionName"),
                opt.get("OptionValues") or [],
            )
            if allowed.get(rtype) != name:
                yield _bad(f"{opath}.OptionName", name, f"Option {name} is not valid for resource type {rtype}")
            elif name == "version-depth":
                yield from _depth(f"{opath}.OptionValues", values)
            elif not values or any(v not in INSTANCE_STATES for v in values):
                yield _bad(f"{opath}.OptionValues", ",".join(values), "Valid values: " + " | ".join(INSTANCE_STATES))


def publish(p: dict[str, Any], s: Settings) -> Iterable[Violation]:
    message, subject = p.get("Message"), p.get("Subject")
    if message == "":
        yield _bad("Message", message, "Empty message")
    if subject is not None and (len(subject) > SUBJECT_MAX or CONTROL_RE.search(subject)):
        yield _bad(
            "Subject",
            subject,
            "Subjects must be UTF-8 text with no line breaks or control characters, and less than 100 characters long",
        )
    if p.get("MessageStructure") is not None:
        yield from _structure(p.get("MessageStructure"), message)
    attributes = p.get("MessageAttributes") or {}
    yield from _attributes(attributes)
    size = len((message or "").encode()) + sum(_attribute_bytes(n, a) for n, a in attributes.items())
    if size > s["sns_max_bytes"]:
        yield _bad(
            "Message",
            f"{size} bytes",
            f"Message too long: the message and its attributes exceed {s['sns_max_bytes']} bytes",
        )


def _structure(structure: Any, message: Any) -> Iterable[Violation]:
    if structure != "json":
        yield _bad("MessageStructure", structure, "Valid value: json")
        return
    try:
        doc = json.loads(message or "")
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        yield _bad("Message", message, "Message Structure - JSON message body failed to parse")
    elif not isinstance(doc.get("default"), str):
        yield _bad("Message", message, "Message Structure - No default entry in JSON message body")


def _attributes(attributes: dict[str, Any]) -> Iterable[Violation]:
    for name, attr in attributes.items():
        path, kind = f"MessageAttributes.{name}", (attr or {}).get("DataType") or ""
        if not ATTRIBUTE_NAME_RE.match(name) or name.startswith(".") or name.endswith(".") or ".." in name:
            yield _bad(path, name, "Message attribute name is invalid")
        elif name.lower().startswith(("aws.", "amazon.")):
            yield _bad(path, name, "Message attribute names starting with AWS. or Amazon. are reserved")
        if kind.split(".")[0] not in ("String", "Number", "Binary"):
            yield _bad(
                f"{path}.DataType", kind, "The message attribute type must be String, String.Array, Number or Binary"
            )
        value = attr.get("StringValue") if attr.get("BinaryValue") is None else attr.get("BinaryValue")
        if value in (None, "", b""):
            yield _bad(path, name, f"The message attribute '{name}' must contain non-empty message attribute value")
        elif kind.startswith("Number") and not _is_number(str(value)):
            yield _bad(path, value, f"Could not cast message attribute '{name}' value to number")
        elif kind == "String.Array" and not _is_json_array(str(value)):
            yield _bad(path, value, f"The message attribute '{name}' with type 'String.Array' must be a JSON array")


def _attribute_bytes(name: str, attr: dict[str, Any]) -> int:
    value = attr.get("BinaryValue") if attr.get("BinaryValue") is not None else attr.get("StringValue") or ""
    raw = value if isinstance(value, bytes) else str(value).encode()
    return len(name.encode()) + len(str(attr.get("DataType") or "").encode()) + len(raw)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_json_array(text: str) -> bool:
    try:
        return isinstance(json.loads(text), list)
    except ValueError:
        return False


RULES: dict[tuple[str, str], Callable[[dict[str, Any], Settings], Iterable[Violation]]] = {
    ("ec2", "CreateImageUsageReport"): create_image_usage_report,
    ("ec2", "DescribeImageUsageReports"): describe_image_usage_reports,
    ("ec2", "DescribeImageUsageReportEntries"): describe_image_usage_report_entries,
    ("ec2", "DescribeImageReferences"): describe_image_references,
    ("sns", "Publish"): publish,
}


def documented_violations(service: str, operation: str, params: dict[str, Any], settings: Settings) -> list[Violation]:
    rule = RULES.get((service, operation))
    return list(rule(params, settings)) if rule else []
