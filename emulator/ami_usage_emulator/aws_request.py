"""Just enough understanding of an incoming AWS request to inject faults and log SNS publishes.

The wrapper must know, before moto sees a request, which service, action,
account and region it is for: throttling is per (account, region), S3 and
SNS faults target one operation, and the SNS log records the raw message.
Identification follows moto's own rules (SigV4 credential scope for service
and region; ``x-moto-account-id`` header, else the access key's account, for
the account), so the wrapper and moto always agree.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")
S3_SUBRESOURCES = {
    "uploadId",
    "partNumber",
    "tagging",
    "acl",
    "retention",
    "legal-hold",
    "torrent",
    "uploads",
    "restore",
    "select",
}
VIRTUAL_HOST_RE = re.compile(r"^.+\.s3[.-]")  # bucket.s3.amazonaws.com, bucket.s3-eu-west-1...
QUERY_SERVICES = {"ec2", "sns", "sts", "sqs", "autoscaling", "ce"}
NON_MUTATING_PREFIXES = ("Describe", "Get", "List")


def is_mutating(action: str) -> bool:
    """EC2's split of actions (token buckets, the call log): all but Describe*/Get*/List*."""
    return not action.startswith(NON_MUTATING_PREFIXES)


@dataclass
class AwsCall:
    service: str | None
    region: str
    account: str
    action: str | None
    params: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    path: str = "/"
    query: dict[str, list[str]] = field(default_factory=dict)
    host: str = ""
    headers_lower: dict[str, str] = field(default_factory=dict)

    def is_s3_put_object(self) -> bool:
        if self.service != "s3" or self.method != "PUT":
            return False
        if S3_SUBRESOURCES & set(self.query) or "x-amz-copy-source" in self.headers_lower:
            return False
        host = self.host.split(":")[0]
        virtual = host.endswith(".localhost") or VIRTUAL_HOST_RE.match(host) is not None
        parts = [p for p in self.path.split("/") if p != ""]
        return len(parts) >= 1 if virtual else len(parts) >= 2


def buffer_body(environ: dict[str, Any]) -> bytes:
    """Read the request body once and put it back so moto can read it too."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _account_for(access_key: str | None, environ: dict[str, Any]) -> str:
    header = environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    if header:
        return header
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key) if access_key else DEFAULT_ACCOUNT_ID


def identify(environ: dict[str, Any]) -> AwsCall:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    match = CREDENTIAL_RE.search(auth) or CREDENTIAL_RE.search(
        "Credential=" + unquote(query.get("X-Amz-Credential", [""])[0])
    )
    access_key, region, service = match.groups() if match else (None, "us-east-1", None)
    headers_lower = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    call = AwsCall(
        service=service,
        region=region,
        account=_account_for(access_key, environ),
        action=None,
        method=environ.get("REQUEST_METHOD", "GET"),
        path=environ.get("PATH_INFO", "/"),
        query=query,
        host=environ.get("HTTP_HOST", ""),
        headers_lower=headers_lower,
    )
    if service in QUERY_SERVICES or service is None:
        content_type = environ.get("CONTENT_TYPE", "")
        params = {k: v[0] for k, v in query.items()}
        if content_type.startswith("application/x-www-form-urlencoded"):
            body = buffer_body(environ)
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            params.update({k: v[0] for k, v in form.items()})
        elif content_type.startswith("application/x-amz-json"):
            target = headers_lower.get("x-amz-target", "")
            call.action = target.split(".")[-1] or None
            try:
                params = json.loads(buffer_body(environ) or b"{}")
            except ValueError:
                params = {}
        call.params = params
        call.action = call.action or params.get("Action")
        if service is None and params.get("Version") == "2016-11-15":
            call.service = "ec2"  # unsigned EC2 query request
    return call


def sns_message_attributes(params: dict[str, str], prefix: str) -> dict[str, dict[str, str]]:
    """Decode ``MessageAttributes.entry.N.Name/Value.*`` query members."""
    attrs: dict[str, dict[str, str]] = {}
    n = 1
    while f"{prefix}.entry.{n}.Name" in params:
        base = f"{prefix}.entry.{n}"
        value = {k.split(".")[-1]: v for k, v in params.items() if k.startswith(f"{base}.Value.")}
        attrs[params[f"{base}.Name"]] = value
        n += 1
    return attrs
