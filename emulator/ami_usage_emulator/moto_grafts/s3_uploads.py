"""S3 multipart uploads carry the time they were started, as S3 says in
ListMultipartUploads' ``Initiated``.

moto answers a fixed 2010 date for every upload, which would make any "abort the
uploads a killed run left behind" rule see every upload as ancient (and abort the
upload of a run still streaming).  Each upload is stamped with the emulator's clock
when it is created, so a test ages it by advancing the clock like everything else.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from moto.s3.models import FakeMultipart
from moto.s3.responses import S3Response

from ..clock import Clock, rfc3339
from ..once import once

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _stamp(body: bytes, initiated: dict[str, str]) -> bytes:
    root = ET.fromstring(body)
    ns = _NS if root.tag.startswith(_NS) else ""
    for upload in root.iter(f"{ns}Upload"):
        upload_id = upload.findtext(f"{ns}UploadId")
        stamp = upload.find(f"{ns}Initiated")
        if upload_id in initiated and stamp is not None:
            stamp.text = initiated[upload_id]
    if ns:
        ET.register_namespace("", ns.strip("{}"))
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)


@once
def install(clock: Clock) -> None:
    original_init = FakeMultipart.__init__
    original_list = S3Response.list_multipart_uploads

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.emulator_initiated = rfc3339(clock.now())

    def list_multipart_uploads(self: Any) -> Any:
        status, headers, body = original_list(self)
        if not str(status).startswith("2"):
            return status, headers, body
        bucket = self.backend.get_bucket(self.bucket_name)
        initiated = {u.id: getattr(u, "emulator_initiated", None) for u in bucket.multiparts.values()}
        raw = body.encode() if isinstance(body, str) else body
        return status, headers, _stamp(raw, {k: v for k, v in initiated.items() if v})

    FakeMultipart.__init__ = init
    S3Response.list_multipart_uploads = list_multipart_uploads
