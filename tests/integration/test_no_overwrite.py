"""A written object is never replaced: S3 writes carry `If-None-Match: *` (moto's server honours it on
PutObject and CompleteMultipartUpload), and the local store links the finished file, never renames over."""

import pytest

from cloudbackup.errors import OperationError
from cloudbackup.storage.local import LocalStorage
from cloudbackup.storage.s3 import S3Storage, s3_client
from cloudbackup.storage.s3_upload import MIN_PART_SIZE

KEY = "orders-db/shop/2026/06/15/20260615T120000Z-abc123.sql.zst"
ORIGINAL = b"the backup as first written"


@pytest.fixture
def s3(moto_endpoint, s3_bucket, aws_client):
    client = s3_client("us-east-1", endpoint_url=moto_endpoint)
    store = S3Storage(s3_bucket, "p", region="us-east-1", client=client, endpoint_url=moto_endpoint)
    store.put_bytes(KEY, ORIGINAL)
    return store


def versions(aws_client, bucket):
    return aws_client("s3").list_object_versions(Bucket=bucket).get("Versions", [])


def test_put_bytes_never_replaces_an_existing_s3_object(s3, aws_client):
    with pytest.raises(OperationError, match="already exists; backups are never overwritten"):
        s3.put_bytes(KEY, b"something else")
    assert s3.get_bytes(KEY) == ORIGINAL
    assert len(versions(aws_client, s3.bucket)) == 1  # not even as a new version


def test_put_bytes_of_the_same_bytes_again_is_a_retry_not_an_error(s3, aws_client):
    s3.put_bytes(KEY, ORIGINAL)  # a retry whose first answer was lost finds its own object
    assert len(versions(aws_client, s3.bucket)) == 1


def test_a_small_streamed_object_never_replaces_an_existing_one(s3, aws_client):
    writer = s3.open_writer(KEY)
    writer.write(b"small: one PutObject at commit")
    with pytest.raises(OperationError, match="already exists"):
        writer.commit()
    assert s3.get_bytes(KEY) == ORIGINAL


def test_a_multipart_upload_never_replaces_an_existing_object_and_leaves_no_parts(s3, aws_client):
    writer = s3.open_writer(KEY)
    writer.write(b"x" * (2 * MIN_PART_SIZE + 5))
    with pytest.raises(OperationError, match="already exists"):
        writer.commit()
    assert s3.get_bytes(KEY) == ORIGINAL
    assert len(versions(aws_client, s3.bucket)) == 1
    assert aws_client("s3").list_multipart_uploads(Bucket=s3.bucket).get("Uploads", []) == []


def test_the_local_store_never_replaces_an_existing_file(tmp_path):
    store = LocalStorage(tmp_path)
    store.put_bytes(KEY, ORIGINAL)
    with pytest.raises(OperationError, match="already exists; backups are never overwritten"):
        store.put_bytes(KEY, b"something else")
    writer = store.open_writer(KEY)
    writer.write(b"streamed")
    with pytest.raises(OperationError, match="already exists"):
        writer.commit()
    assert store.get_bytes(KEY) == ORIGINAL
    assert sorted(p.name for p in (tmp_path / KEY).parent.iterdir()) == [(tmp_path / KEY).name]
