"""S3 conditional writes and deletes beyond what moto answers, in front of moto.

moto answers PutObject's ``If-None-Match: *`` (412 when the key exists) and
``If-Match`` (412 on another ETag, 404 ``NoSuchKey`` without the key), DeleteObject's
``If-Match``, and CompleteMultipartUpload's ``If-None-Match: *``.  The rest, as S3
documents it:

* **CompleteMultipartUpload ``If-Match``**: 404 ``NoSuchKey`` when the key is missing,
  412 ``PreconditionFailed`` when its ETag differs (moto ignores the header).
* **DeleteObject ``If-Match: *``** matches any ETag (moto compared ``*`` as an ETag: 412).
* **409 ``ConditionalRequestConflict``** when "a delete request to an object succeeds
  before a conditional write operation on that object completes": a conditional write
  began when its request arrived (PutObject) or when its multipart upload was created
  (CompleteMultipartUpload); a DeleteObject of the key that succeeded since answers the
  write with 409.  The order of events is a sequence number, not a clock.  (Two
  conditional writes of one key never overlap inside the emulator: moto's calls are
  serialised, so the first to finish wins and the second gets 412, as S3 documents.)
  The fault ``s3_conditional_conflict`` forces a 409 on request.
"""

from __future__ import annotations

import itertools
import re
import threading
from typing import Any

from ..aws_request import S3_SUBRESOURCES, AwsCall
from .bucket_region import bucket_of

CONFLICT = (
    409,
    "ConditionalRequestConflict",
    "A conflicting operation occurred. If using PutObject you can retry the request. If using multipart "
    "upload you should initiate another CreateMultipartUpload request and re-upload each part.",
)
PRECONDITION = (412, "PreconditionFailed", "At least one of the preconditions that you specified did not hold.")
NO_SUCH_KEY = (404, "NoSuchKey", "The specified key does not exist.")
UPLOAD_ID_RE = re.compile(rb"<UploadId>([^<]+)</UploadId>")


def object_of(call: AwsCall) -> tuple[str, str] | None:
    """(bucket, key) of an object request (path-style or virtual-hosted), else None."""
    bucket, virtual = bucket_of(call)
    parts = call.path.lstrip("/").split("/", 0 if virtual else 1)
    key = parts[0] if virtual else (parts[1] if len(parts) > 1 else "")
    return (bucket, key) if bucket and key else None


def is_conditional_write(call: AwsCall) -> bool:
    """A PutObject or CompleteMultipartUpload carrying If-Match or If-None-Match."""
    if call.service != "s3" or not ({"if-match", "if-none-match"} & set(call.headers_lower)):
        return False
    if call.method == "POST":
        return "uploadId" in call.query and object_of(call) is not None
    return call.is_s3_put_object()


def _is_plain_delete(call: AwsCall) -> bool:
    return call.method == "DELETE" and not (S3_SUBRESOURCES & set(call.query)) and object_of(call) is not None


class S3ConditionalWrites:
    """When each conditional write began, and when each key was last deleted (sequence numbers)."""

    def __init__(self) -> None:
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._deleted: dict[tuple[str, str, str], int] = {}
        self._uploads: dict[str, int] = {}

    def arrived(self) -> int:
        """A request's place in the order of events (taken before it waits for moto)."""
        return next(self._seq)

    def check(self, call: AwsCall, began: int, environ: dict[str, Any]) -> tuple[int, str, str] | None:
        """Under moto's lock, before moto serves ``call``: the answer S3 gives instead, if any."""
        if call.service != "s3":
            return None
        target = object_of(call)
        if target is None:
            return None
        if call.method == "DELETE" and call.headers_lower.get("if-match") == "*":
            if _object(call.account, *target) is not None:
                environ.pop("HTTP_IF_MATCH", None)  # '*' matches any ETag
            return None
        if not is_conditional_write(call):
            return None
        if call.method == "POST":
            began = self._uploads.get(call.query["uploadId"][0], began)
        with self._lock:
            deleted = self._deleted.get((call.account, *target), 0)
        if deleted > began:
            return CONFLICT
        if call.method == "POST" and "if-match" in call.headers_lower:
            return _complete_if_match(call, target, call.headers_lower["if-match"])
        return None

    def served(self, call: AwsCall, status: str, body: bytes) -> None:
        """After moto answered: note successful deletes and new multipart uploads."""
        if call.service != "s3" or not status.startswith("2"):
            return
        if _is_plain_delete(call):
            target = object_of(call)
            with self._lock:
                self._deleted[(call.account, *target)] = next(self._seq)  # type: ignore[misc]
        elif call.method == "POST" and "uploads" in call.query:
            found = UPLOAD_ID_RE.search(body)
            if found:
                self._uploads[found.group(1).decode()] = next(self._seq)


def _object(account: str, bucket: str, key: str) -> Any:
    from moto.s3.models import s3_backends

    try:
        return s3_backends[account]["aws"].get_object(bucket, key)
    except Exception:  # noqa: BLE001 - a missing bucket: moto answers it itself
        return None


def _complete_if_match(call: AwsCall, target: tuple[str, str], etag: str) -> tuple[int, str, str] | None:
    current = _object(call.account, *target)
    if current is None:
        return NO_SUCH_KEY
    if etag != "*" and etag.strip('"') != current.etag.strip('"'):
        return PRECONDITION
    return None
