"""S3 conditional writes and deletes as S3 documents them (``moto_grafts/s3_conditional.py``).

PutObject / CompleteMultipartUpload ``If-None-Match: *`` and ``If-Match``: 412
``PreconditionFailed`` when the condition fails, 404 ``NoSuchKey`` for ``If-Match`` on a
missing key, 409 ``ConditionalRequestConflict`` when a delete of the key succeeded
while the write was in flight (or on request, fault ``s3_conditional_conflict``).
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

BUCKET = "conditional-bucket"


def _s3(aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket=BUCKET)
    return s3


def _error(call, **kwargs) -> tuple[int, str]:
    with pytest.raises(ClientError) as err:
        call(Bucket=BUCKET, **kwargs)
    return err.value.response["ResponseMetadata"]["HTTPStatusCode"], err.value.response["Error"]["Code"]


def _multipart(s3, key: str) -> tuple[str, list[dict]]:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    part = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"p" * 10)
    return upload, [{"PartNumber": 1, "ETag": part["ETag"]}]


def test_put_if_none_match_and_if_match(aws):
    s3 = _s3(aws)
    etag = s3.put_object(Bucket=BUCKET, Key="k", Body=b"one", IfNoneMatch="*")["ETag"]
    assert _error(s3.put_object, Key="k", Body=b"two", IfNoneMatch="*") == (412, "PreconditionFailed")
    assert s3.head_object(Bucket=BUCKET, Key="k")["ETag"] == etag == s3.get_object(Bucket=BUCKET, Key="k")["ETag"]
    assert _error(s3.put_object, Key="k", Body=b"two", IfMatch='"0000"') == (412, "PreconditionFailed")
    assert _error(s3.put_object, Key="missing", Body=b"two", IfMatch=etag) == (404, "NoSuchKey")
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"two", IfMatch=etag)  # the ETag as S3 returned it
    assert s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"two"


def test_complete_multipart_upload_conditions(aws):
    s3 = _s3(aws)
    upload, parts = _multipart(s3, "m")
    assert _error(
        s3.complete_multipart_upload, Key="m", UploadId=upload, MultipartUpload={"Parts": parts}, IfMatch='"x"'
    ) == (404, "NoSuchKey")
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key="m", UploadId=upload, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
    )
    upload, parts = _multipart(s3, "m")
    assert _error(
        s3.complete_multipart_upload, Key="m", UploadId=upload, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
    ) == (412, "PreconditionFailed")
    assert _error(
        s3.complete_multipart_upload, Key="m", UploadId=upload, MultipartUpload={"Parts": parts}, IfMatch='"x"'
    ) == (412, "PreconditionFailed")
    etag = s3.head_object(Bucket=BUCKET, Key="m")["ETag"]
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key="m", UploadId=upload, MultipartUpload={"Parts": parts}, IfMatch=etag
    )


def test_a_delete_during_a_conditional_upload_answers_409(aws):
    s3 = _s3(aws)
    s3.put_object(Bucket=BUCKET, Key="raced", Body=b"old")
    upload, parts = _multipart(s3, "raced")
    s3.delete_object(Bucket=BUCKET, Key="raced")  # succeeds while the upload is in flight
    assert _error(
        s3.complete_multipart_upload, Key="raced", UploadId=upload, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
    ) == (409, "ConditionalRequestConflict")
    upload, parts = _multipart(s3, "raced")  # "initiate another CreateMultipartUpload": then it succeeds
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key="raced", UploadId=upload, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
    )
    s3.put_object(Bucket=BUCKET, Key="raced-again", Body=b"x", IfNoneMatch="*")  # no delete in between


def test_the_conflict_fault(aws, control):
    s3 = _s3(aws)
    control.post("/faults", {"s3_conditional_conflict": {"fail_next": 1, "key_contains": "/state/"}})
    s3.put_object(Bucket=BUCKET, Key="other/k", Body=b"x", IfNoneMatch="*")
    s3.put_object(Bucket=BUCKET, Key="state/k", Body=b"x")  # not conditional: not matched
    assert _error(s3.put_object, Key="state/k2", Body=b"x", IfNoneMatch="*") == (409, "ConditionalRequestConflict")
    s3.put_object(Bucket=BUCKET, Key="state/k2", Body=b"x", IfNoneMatch="*")  # a retry succeeds
    assert control.get("/faults")["counters"]["s3_conditional_conflict"] == {"calls": 3, "failed": 1}


def test_delete_if_match(aws):
    s3 = _s3(aws)
    etag = s3.put_object(Bucket=BUCKET, Key="d", Body=b"x")["ETag"]
    assert _error(s3.delete_object, Key="d", IfMatch='"nope"') == (412, "PreconditionFailed")
    assert _error(s3.delete_object, Key="gone", IfMatch=etag) == (404, "NoSuchKey")
    s3.delete_object(Bucket=BUCKET, Key="d", IfMatch="*")  # '*' matches any ETag
    s3.put_object(Bucket=BUCKET, Key="d", Body=b"x")
    s3.delete_object(Bucket=BUCKET, Key="d", IfMatch=etag)
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
