"""The request validator: botocore's model of the operation, then the documented values.

``RequestValidator.check`` runs on every AWS request before it is served (``app.py``)
and answers the first refusal as the service would: EC2 ``MissingParameter`` /
``InvalidParameterValue`` / ``InvalidParameterCombination`` / ``UnknownParameter``
("Error codes for the Amazon EC2 API"), SNS ``InvalidParameter``, the query services'
``ValidationError``, the JSON services' ``ValidationException`` ("1 validation error
detected: Value … at '…' failed to satisfy constraint: …"), Image Builder's
``InvalidRequestException``, S3's ``InvalidArgument``.  Models and routes are cached
per process; a request costs one parse of its members.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..aws_request import AwsCall
from ..config import Config
from . import catalog
from .documented import documented_violations
from .shapes import MISSING, Violation, violations

# S3 operations checked: the object calls the product makes (path-style requests).
S3_OPERATIONS = {
    "PutObject",
    "GetObject",
    "HeadObject",
    "DeleteObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "ListObjectsV2",
    "ListMultipartUploads",
}
EC2_ENVELOPE = ("Action", "Version", "AWSAccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "Timestamp")
DEFAULT_SNS_MAX_BYTES = 262144


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str


class RequestValidator:
    """Checks requests against botocore's models and the documented values; ``config``
    gives the documented settings (``report_resource_types``)."""

    def __init__(self, config: Config) -> None:
        self._config = config

    def check(self, call: AwsCall, environ: dict[str, Any]) -> Refusal | None:
        op, labels = catalog.operation(call)
        if op is None or (call.service == "s3" and op.name not in S3_OPERATIONS):
            return None
        protocol = op.service_model.protocol
        if protocol == "ec2":
            unknown = _unknown_ec2_parameter(op, call.params)
            if unknown is not None:
                return Refusal(400, "UnknownParameter", f"The parameter {unknown} is not recognized")
        try:
            params = catalog.parse(op, labels, call, environ)
        except (ValueError, TypeError, KeyError, AttributeError) as err:  # not even the member's type
            return _refusal(call.service or "", protocol, [Violation("invalid", "request", "", str(err))])
        found = violations(op.input_shape, params)
        found += documented_violations(call.service or "", op.name, params, self._settings(call, params))
        return _refusal(call.service or "", protocol, found) if found else None

    def _settings(self, call: AwsCall, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "report_resource_types": self._config.get("report_resource_types"),
            "sns_max_bytes": _sns_max_bytes(call, params.get("TopicArn")) if call.service == "sns" else 0,
        }


def _ec2_wire_name(name: str, shape: Any) -> str:
    ser = shape.serialization
    if "queryName" in ser:
        return ser["queryName"]
    if "name" in ser:
        return ser["name"][0].upper() + ser["name"][1:]
    return name


def _unknown_ec2_parameter(op: Any, params: dict[str, Any]) -> str | None:
    members = op.input_shape.members if op.input_shape is not None else {}
    known = {_ec2_wire_name(n, s) for n, s in members.items()}
    for key in params:
        top = key.split(".")[0]
        if top not in known and top not in EC2_ENVELOPE and not top.startswith("X-Amz-"):
            return top
    return None


def _sns_max_bytes(call: AwsCall, topic_arn: Any) -> int:
    """The topic's MaximumMessageSize (up to 1 MiB), else SNS's default of 256 KiB."""
    from moto.sns.models import sns_backends

    try:
        topic = sns_backends[call.account][call.region].topics.get(topic_arn)
    except KeyError:
        topic = None
    value = getattr(topic, "MaximumMessageSize", None) or getattr(topic, "maximum_message_size", None)
    return int(value) if str(value or "").isdigit() else DEFAULT_SNS_MAX_BYTES


def _refusal(service: str, protocol: str, found: list[Violation]) -> Refusal:
    first = found[0]
    if protocol == "ec2":
        return _ec2_refusal(first)
    if service == "sns":
        return Refusal(400, "InvalidParameter", f"Invalid parameter: {first.path} Reason: {first.constraint}")
    if service == "s3":
        code = "InvalidRequest" if first.kind == MISSING else "InvalidArgument"
        return Refusal(400, code, f"{first.path}: {first.constraint}")
    if service == "imagebuilder":
        return Refusal(400, "InvalidRequestException", _smithy_message(found))
    code = "ValidationError" if protocol == "query" else "ValidationException"
    return Refusal(400, first.code or code, _smithy_message(found))


def _ec2_refusal(first: Violation) -> Refusal:
    if first.code:
        return Refusal(400, first.code, f"{first.constraint} ({first.path})")
    if first.kind == MISSING:
        return Refusal(400, "MissingParameter", f"The request must contain the parameter {first.path}")
    return Refusal(
        400, "InvalidParameterValue", f"Value ({first.value}) for parameter {first.path} is invalid. {first.constraint}"
    )


def _camel(path: str) -> str:
    return ".".join(p[:1].lower() + p[1:] for p in path.split("."))


def _smithy_message(found: list[Violation]) -> str:
    parts = [
        f"Value {_show(v.value)} at '{_camel(v.path)}' failed to satisfy constraint: {v.constraint}" for v in found
    ]
    noun = "error" if len(parts) == 1 else "errors"
    return f"{len(parts)} validation {noun} detected: " + "; ".join(parts)


def _show(value: Any) -> str:
    return "null" if value is None else f"'{value}'"
