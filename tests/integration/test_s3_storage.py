"""The S3 store against a real HTTP endpoint (moto server on loopback): multipart, checksums, KMS, reads."""

import base64
import hashlib
import threading
import time

import pytest

from cloudbackup.errors import OperationError
from cloudbackup.storage.s3 import S3Storage, s3_client
from cloudbackup.storage.s3_upload import MIN_PART_SIZE

MIB = 1024 * 1024


def stream_chunks(total, seed=b"cbt", chunk=MIB):
    """Deterministic pseudo-random bytes, generated chunk by chunk (never all in memory)."""
    produced, counter = 0, 0
    while produced < total:
        block = b"".join(
            hashlib.sha256(seed + (counter * 256 + i).to_bytes(8, "big")).digest() for i in range(256)
        )
        counter += 1
        piece = (block * (chunk // len(block) + 1))[: min(chunk, total - produced)]
        produced += len(piece)
        yield piece


def make_store(endpoint, bucket, prefix="backups", **kwargs):
    client = s3_client("us-east-1", endpoint_url=endpoint, **kwargs.pop("client_args", {}))
    return S3Storage(bucket, prefix, region="us-east-1", client=client, endpoint_url=endpoint, **kwargs)


def test_a_multipart_object_streams_up_and_reads_back_exactly(moto_endpoint, s3_bucket, aws_client):
    # Given a store and an object of three and a half parts, produced one chunk at a time
    store = make_store(moto_endpoint, s3_bucket)
    total = 3 * MIN_PART_SIZE + 3 * MIB + 17
    expected = hashlib.sha256()
    writer = store.open_writer("src/db/x.sql.zst")
    for chunk in stream_chunks(total):
        expected.update(chunk)
        writer.write(chunk)
    # When it is committed
    written = writer.commit()
    # Then size and SHA-256 are those of the bytes written; S3 holds 4 parts with SHA-256 checksums
    assert (written.size, written.sha256) == (total, expected.hexdigest())
    head = aws_client("s3").head_object(
        Bucket=s3_bucket, Key="backups/src/db/x.sql.zst", ChecksumMode="ENABLED"
    )
    assert head["ContentLength"] == total
    assert head["ETag"].strip('"').endswith("-4")
    assert "ChecksumSHA256" in head
    # And it reads back whole and by range, across part boundaries
    whole = hashlib.sha256()
    for chunk in store.iter_range("src/db/x.sql.zst"):
        whole.update(chunk)
    assert whole.hexdigest() == written.sha256
    start = MIN_PART_SIZE - 10
    ranged = b"".join(store.iter_range("src/db/x.sql.zst", start, 20))
    reference = b"".join(stream_chunks(MIN_PART_SIZE + 10))[start:]
    assert ranged == reference
    assert [(o.key, o.size) for o in store.list("src/")] == [("src/db/x.sql.zst", total)]


def test_a_small_object_is_one_put_with_its_sha256(moto_endpoint, s3_bucket, aws_client, faulty_proxy):
    # Through a pass-through proxy: it records every request
    store = make_store(faulty_proxy.url, s3_bucket)
    writer = store.open_writer("a/small.sql")
    writer.write(b"CREATE TABLE t (a int);\n")
    written = writer.commit()
    assert not [s for s in faulty_proxy.seen if "uploads" in s.path]  # no multipart upload started
    head = aws_client("s3").head_object(Bucket=s3_bucket, Key="backups/a/small.sql", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(bytes.fromhex(written.sha256)).decode()


def test_an_aborted_upload_leaves_no_parts_and_no_object(moto_endpoint, s3_bucket, aws_client):
    store = make_store(moto_endpoint, s3_bucket)
    writer = store.open_writer("a/big.sql.zst")
    for chunk in stream_chunks(2 * MIN_PART_SIZE + MIB):
        writer.write(chunk)
    assert writer.upload_id is not None
    writer.abort()
    s3 = aws_client("s3")
    assert s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert s3.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0
    with pytest.raises(OperationError):
        writer.write(b"more")


def test_parts_in_flight_are_bounded(moto_endpoint, s3_bucket):
    # Given an S3 client whose part uploads are slow, and a writer allowing 2 parallel + 1 waiting part
    client = s3_client("us-east-1", endpoint_url=moto_endpoint)
    state = {"now": 0, "peak": 0}
    lock = threading.Lock()
    real_upload_part = client.upload_part

    def slow_upload_part(**kwargs):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.3)
        try:
            return real_upload_part(**kwargs)
        finally:
            with lock:
                state["now"] -= 1

    client.upload_part = slow_upload_part
    store = S3Storage(s3_bucket, region="us-east-1", client=client, endpoint_url=moto_endpoint, concurrency=2)
    writer = store.open_writer("bounded")
    # When six parts are written faster than they upload
    for chunk in stream_chunks(6 * MIN_PART_SIZE, chunk=4 * MIB):
        writer.write(chunk)
        # Then at most 3 parts wait or travel, and less than one more part sits in the buffer
        assert writer.in_memory_parts() <= 3
        assert len(writer._buffer) < MIN_PART_SIZE
    written = writer.commit()
    assert state["peak"] == 2
    assert written.size == 6 * MIN_PART_SIZE


def test_sse_kms_with_a_given_key(moto_endpoint, s3_bucket, aws_client):
    key_id = aws_client("kms").create_key(Description="cbt backup key")["KeyMetadata"]["KeyId"]
    store = make_store(moto_endpoint, s3_bucket, kms_key_id=key_id)
    writer = store.open_writer("k/multi")
    for chunk in stream_chunks(MIN_PART_SIZE + MIB):
        writer.write(chunk)
    writer.commit()
    store.put_bytes("k/m.manifest.json", b"{}")
    s3 = aws_client("s3")
    for key in ("backups/k/multi", "backups/k/m.manifest.json"):
        head = s3.head_object(Bucket=s3_bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"].endswith(key_id)


def test_listing_pages_and_stays_inside_the_prefix(s3_bucket, aws_client, faulty_proxy):
    # Given 23 objects under the store's prefix and one outside it
    s3 = aws_client("s3")
    s3.put_object(Bucket=s3_bucket, Key="other/outside", Body=b"x")
    s3.put_object(Bucket=s3_bucket, Key="backupsX/near-miss", Body=b"x")
    for i in range(23):
        s3.put_object(Bucket=s3_bucket, Key=f"backups/p/{i:05d}", Body=b"x")
    # When a store listing 5 keys per request lists them (through a recording proxy)
    store = make_store(faulty_proxy.url, s3_bucket)
    store.list_page_size = 5
    keys = [o.key for o in store.list()]
    # Then all 23 come back, relative to the prefix, over 5 requests
    assert keys == [f"p/{i:05d}" for i in range(23)]
    assert len([s for s in faulty_proxy.seen if "list-type=2" in s.path]) == 5


def test_delete_on_a_versioned_bucket_keeps_the_old_version(moto_endpoint, s3_bucket, aws_client):
    store = make_store(moto_endpoint, s3_bucket)
    store.put_bytes("d/x.manifest.json", b"{}")
    store.delete("d/x.manifest.json")
    assert list(store.list()) == []
    assert store.versioning_enabled() is True
    versions = aws_client("s3").list_object_versions(Bucket=s3_bucket)["Versions"]
    assert [v["Key"] for v in versions] == ["backups/d/x.manifest.json"]


def test_reading_a_missing_key_is_a_failed_operation(moto_endpoint, s3_bucket):
    store = make_store(moto_endpoint, s3_bucket)
    with pytest.raises(OperationError, match="does not exist"):
        store.get_bytes("nope.manifest.json")
