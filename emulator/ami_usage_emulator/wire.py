"""Wire helpers: how the emulator's own answers look on the wire (a leaf: it imports none of
the emulator's modules, so every module may use it).

* ``AwsError``: an error to answer in a service's own format (its code and message).
* Error bodies as each service writes them: EC2's ``<Response><Errors>…``, S3's
  ``<Error>``, SNS's ``<ErrorResponse>``, and rest-json's ``X-Amzn-Errortype`` with
  ``{"message": …}``; ``error_response`` picks the one of a service.
* ``serialized_response``: an answer (or error) moto's botocore-model serializer wrote,
  sent with its status, a request id and its length.
* ``json_response``: the control API's JSON answers.
* ``iso_millis``: EC2's timestamps with their milliseconds.
* ``opaque_token`` / ``read_token``: the opaque, base64url-encoded JSON paging tokens.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

QUERY_NAMESPACES = {
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "autoscaling": "http://autoscaling.amazonaws.com/doc/2011-01-01/",
}
JSON_SERVICES = ("ssm", "ce")


class AwsError(Exception):
    """An error answered in the service's own format; ``code`` is its error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_response(
    start_response: Any, status: int, body: str, extra: list[tuple[str, str]] | None = None
) -> list[bytes]:
    data = body.encode()
    headers = [
        ("Content-Type", "text/xml;charset=UTF-8"),
        ("Content-Length", str(len(data))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ] + (extra or [])
    reasons = {
        400: "Bad Request",
        404: "Not Found",
        409: "Conflict",
        412: "Precondition Failed",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }
    start_response(f"{status} {reasons.get(status, 'Error')}", headers)
    return [data]


def ec2_error_xml(code: str, message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>{code}</Code><Message>{xml_escape(message)}</Message></Error></Errors>"
        f"<RequestID>{uuid.uuid4()}</RequestID></Response>"
    )


def error_response(service: str | None, status: int, code: str, message: str, start_response: Any) -> list[bytes]:
    """An error answer in ``service``'s format: S3's, the query services' (SNS, STS, Auto
    Scaling), JSON 1.1 (SSM, Cost Explorer), rest-json (rbin, Image Builder), else EC2's."""
    if service == "s3":
        rid = uuid.uuid4().hex[:16].upper()
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
            f"<Code>{code}</Code><Message>{xml_escape(message)}</Message>"
            f"<RequestId>{rid}</RequestId><HostId>emulator</HostId></Error>"
        )
        return xml_response(start_response, status, body, [("x-amz-request-id", rid)])
    if service in QUERY_NAMESPACES:
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            f'<ErrorResponse xmlns="{QUERY_NAMESPACES[service]}"><Error>'
            f"<Type>{kind}</Type><Code>{code}</Code><Message>{xml_escape(message)}"
            f"</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        )
        return xml_response(start_response, status, body)
    if service in JSON_SERVICES:  # JSON 1.1: the code in __type
        data = json.dumps({"__type": code, "Message": message}).encode()
        start_response(
            f"{status} Error",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("x-amzn-RequestId", str(uuid.uuid4())),
                ("Content-Length", str(len(data))),
            ],
        )
        return [data]
    if service in ("rbin", "imagebuilder"):  # rest-json
        data = json.dumps({"message": message}).encode()
        start_response(
            f"{status} Error",
            [
                ("Content-Type", "application/json"),
                ("X-Amzn-Errortype", code),
                ("x-amzn-RequestId", str(uuid.uuid4())),
                ("Content-Length", str(len(data))),
            ],
        )
        return [data]
    return xml_response(start_response, status, ec2_error_xml(code, message))


def serialized_response(resp: dict[str, Any], start_response: Any, error_reason: str = "Error") -> list[bytes]:
    """Send what moto's serializer wrote (``status_code``, ``headers``, ``body``), with a
    request id; a 204 goes without a body (one would corrupt a kept-alive connection)."""
    body = resp["body"].encode() if isinstance(resp["body"], str) else resp["body"]
    status = int(resp["status_code"])
    if status == 204:
        body = b""
    headers = {**resp["headers"], "x-amzn-RequestId": str(uuid.uuid4()), "Content-Length": str(len(body))}
    start_response(f"{status} {'OK' if status < 300 else error_reason}", list(headers.items()))
    return [body]


def json_response(start_response: Any, status: int, payload: Any) -> list[bytes]:
    data = json.dumps(payload, indent=None, default=str).encode()
    reasons = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
    start_response(
        f"{status} {reasons.get(status, '')}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


def iso_millis(when: Any) -> str:
    """``2025-11-29T11:04:43.305Z``: the datetime as given (no zone conversion), milliseconds kept."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def opaque_token(payload: dict[str, Any], compact: bool = False) -> str:
    """An opaque paging token: ``payload`` as base64url JSON."""
    raw = json.dumps(payload, separators=(",", ":")) if compact else json.dumps(payload)
    return base64.urlsafe_b64encode(raw.encode()).decode()


def read_token(text: str) -> Any:
    """The JSON inside a token; raises ``ValueError`` (or ``TypeError``/``AttributeError``
    for a token that is no string) when it is not one of ours."""
    return json.loads(base64.urlsafe_b64decode(text.encode()).decode())
