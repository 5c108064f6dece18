"""S3's answer to a request signed for another Region than the bucket's.

Why: moto serves every bucket to a request signed for any Region, but S3 does
not.  A client reaches a regional endpoint (``s3.<region>.amazonaws.com``, path
style or virtual-hosted) and signs for that Region; when the bucket lives in
another one, that endpoint answers **HTTP 301 ``PermanentRedirect``** with the
bucket's endpoint in ``<Endpoint>`` and its Region in the
``x-amz-bucket-region`` header (HEAD: the same, without a body).  A request
that does reach the bucket's Region but is signed for another one (the legacy
global endpoint, routed by DNS) gets **HTTP 400
``AuthorizationHeaderMalformed``** with ``<Region>`` instead.  The SDK for Rust
follows neither, so a reporter whose S3 client is in the wrong Region must fail
with one clear error; tests need an emulator that answers the way S3 does.

The emulator's single address stands for the regional endpoint of the Region a
request is signed for, so the default answer is the redirect
(``s3_wrong_region: "redirect"``); ``"authorization_header_malformed"`` gives
the other answer and ``"ignore"`` moto's own (serve it anyway).
"""

from __future__ import annotations

import uuid
from typing import Any

from ..aws_request import VIRTUAL_HOST_RE, AwsCall

MODES = ("redirect", "authorization_header_malformed", "ignore")
REDIRECT_MESSAGE = (
    "The bucket you are attempting to access must be addressed using the specified "
    "endpoint. Please send all future requests to this endpoint."
)


def bucket_of(call: AwsCall) -> tuple[str | None, bool]:
    """(bucket name, virtual-hosted?) of an S3 request, as moto routes it."""
    host = call.host.split(":")[0]
    if host.endswith(".localhost"):
        return host[: -len(".localhost")], True
    if VIRTUAL_HOST_RE.match(host):
        return host.split(".s3", 1)[0], True
    parts = [p for p in call.path.split("/") if p]
    return (parts[0] if parts else None), False


def _bucket_region(name: str) -> str | None:
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(name)
    if owner is None:
        return None
    partition, account = owner
    bucket = s3_backends[account][partition].buckets.get(name)
    return bucket.region_name if bucket is not None else None


def _exempt(call: AwsCall, virtual: bool) -> bool:
    """Calls S3 answers whatever the signing Region: GetBucketLocation (how a client
    finds the Region out) and CreateBucket (its own conflict rules)."""
    if "location" in call.query:
        return True
    key = call.path.strip("/") if virtual else "/".join(call.path.strip("/").split("/")[1:])
    return call.method == "PUT" and not key and not call.query


def wrong_region_answer(call: AwsCall, mode: str) -> tuple[int, str, list[tuple[str, str]]] | None:
    """(status, body, headers) S3 would send instead of serving ``call``, or None."""
    if mode == "ignore" or call.service != "s3":
        return None
    name, virtual = bucket_of(call)
    if not name or _exempt(call, virtual):
        return None
    region = _bucket_region(name)
    if region is None or region == call.region:
        return None
    rid = uuid.uuid4().hex[:16].upper()
    headers = [("x-amz-bucket-region", region), ("x-amz-request-id", rid), ("x-amz-id-2", "emulator")]
    if mode == "redirect":
        endpoint = f"{name}.s3.{region}.amazonaws.com" if virtual else f"s3.{region}.amazonaws.com"
        status, code, extra = (
            301,
            "PermanentRedirect",
            (f"<Message>{REDIRECT_MESSAGE}</Message><Endpoint>{endpoint}</Endpoint><Bucket>{name}</Bucket>"),
        )
    else:
        status, code, extra = (
            400,
            "AuthorizationHeaderMalformed",
            (
                f"<Message>The authorization header is malformed; the region '{call.region}' is wrong; "
                f"expecting '{region}'</Message><Region>{region}</Region>"
            ),
        )
    body = (
        ""
        if call.method == "HEAD"
        else f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>{extra}'
        f"<RequestId>{rid}</RequestId><HostId>emulator</HostId></Error>"
    )
    return status, body, headers


def respond(answer: tuple[int, str, list[tuple[str, str]]], start_response: Any) -> list[bytes]:
    status, body, headers = answer
    data = body.encode()
    reason = {301: "Moved Permanently", 400: "Bad Request"}[status]
    start_response(
        f"{status} {reason}", [("Content-Type", "application/xml"), ("Content-Length", str(len(data)))] + headers
    )
    return [data]
