"""Injected S3 faults through a proxy on loopback: transient ones are retried, fatal ones leave nothing."""

import hashlib
import threading
import time

import pytest

from cloudbackup.errors import OperationError
from cloudbackup.storage.s3 import READ_RESUMES, S3Storage, s3_client
from cloudbackup.storage.s3_upload import MIN_PART_SIZE
from tests.fixtures.faulty_proxy import Fault

MIB = 1024 * 1024
KEY = "src/db/2026/01/01/x.sql.zst"


def store_via(proxy, bucket, **client_args):
    client = s3_client("us-east-1", endpoint_url=proxy.url, **client_args)
    return S3Storage(bucket, "p", region="us-east-1", client=client, endpoint_url=proxy.url)


def upload(store, size):
    digest = hashlib.sha256()
    writer = store.open_writer(KEY)
    block = bytes(range(256)) * 4096  # 1 MiB
    written = 0
    while written < size:
        piece = block[: min(len(block), size - written)]
        digest.update(piece)
        writer.write(piece)
        written += len(piece)
    return writer, digest.hexdigest()


def upload_and_commit(store, size):
    writer, _sha = upload(store, size)
    return writer.commit()


def nothing_left(aws_client, bucket):
    s3 = aws_client("s3")
    return (
        s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
        and s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    )


def test_503_slowdown_on_parts_is_retried_and_the_object_is_whole(s3_bucket, faulty_proxy, aws_client):
    # Given S3 answering 503 SlowDown to the first three attempts at part 2
    faulty_proxy.add(Fault("503", pattern=r"partNumber=2\b", method="PUT", count=3))
    store = store_via(faulty_proxy, s3_bucket)
    # When a three-part object is uploaded
    writer, sha = upload(store, 2 * MIN_PART_SIZE + MIB)
    written = writer.commit()
    # Then the retries got through, and the stored object is the bytes written
    assert len(faulty_proxy.applied("503")) == 3
    assert written.sha256 == sha
    assert hashlib.sha256(b"".join(store.iter_range(KEY))).hexdigest() == sha


def test_connection_resets_are_retried(s3_bucket, faulty_proxy):
    faulty_proxy.add(Fault("reset", pattern=r"partNumber=1\b", method="PUT", count=2))
    faulty_proxy.add(Fault("reset", pattern=r"uploads", method="POST", count=1))  # CreateMultipartUpload
    faulty_proxy.add(Fault("500", pattern=r"manifest", method="PUT", count=2))
    store = store_via(faulty_proxy, s3_bucket)
    writer, sha = upload(store, MIN_PART_SIZE + MIB)
    assert writer.commit().sha256 == sha
    store.put_bytes("m.manifest.json", b'{"ok": 1}')
    assert store.get_bytes("m.manifest.json") == b'{"ok": 1}'
    assert len(faulty_proxy.applied("reset")) == 3
    assert len(faulty_proxy.applied("500")) == 2


def test_a_download_cut_mid_body_resumes_where_it_stopped(s3_bucket, faulty_proxy, aws_client):
    data = bytes(range(256)) * 40_000
    aws_client("s3").put_object(Bucket=s3_bucket, Key="p/blob", Body=data)
    faulty_proxy.add(Fault("cut_body", pattern=r"/p/blob", method="GET", count=2))
    store = store_via(faulty_proxy, s3_bucket)
    assert b"".join(store.iter_range("blob")) == data
    assert b"".join(store.iter_range("blob", 1000, 5000)) == data[1000:6000]
    ranges = [s for s in faulty_proxy.seen if s.method == "GET" and "/p/blob" in s.path]
    assert len(ranges) == 4  # two cut, each followed by one resumed request


def test_a_part_that_never_completes_aborts_the_upload_and_leaves_nothing(
    s3_bucket, faulty_proxy, aws_client
):
    # Given part 2 hanging on every attempt, and a client with a 1 s read timeout and 2 attempts
    faulty_proxy.add(Fault("hang", pattern=r"partNumber=2\b", method="PUT", count=100, hang_seconds=30))
    store = store_via(faulty_proxy, s3_bucket, read_timeout=1, max_attempts=2)
    started = time.monotonic()
    # When the upload runs
    with pytest.raises(OperationError) as info:
        upload_and_commit(store, 3 * MIN_PART_SIZE + MIB)
    # Then it fails with one line naming bucket and region, soon after the timeouts
    message = str(info.value)
    assert "\n" not in message
    assert f"bucket {s3_bucket}, region us-east-1" in message
    assert "after retries" in message
    assert time.monotonic() - started < 20
    assert len(faulty_proxy.applied("hang")) == 2
    # And S3 holds no upload of ours and no object
    assert nothing_left(aws_client, s3_bucket)
    assert [s for s in faulty_proxy.seen if s.method == "DELETE" and "uploadId=" in s.path]


def test_persistent_503_gives_up_and_aborts(s3_bucket, faulty_proxy, aws_client):
    faulty_proxy.add(Fault("503", pattern=r"partNumber=1\b", method="PUT", count=100))
    store = store_via(faulty_proxy, s3_bucket, max_attempts=3)
    with pytest.raises(OperationError, match="SlowDown"):
        upload_and_commit(store, 2 * MIN_PART_SIZE)
    assert len(faulty_proxy.applied("503")) == 3
    assert nothing_left(aws_client, s3_bucket)


def test_an_abort_while_the_upload_is_being_created_leaves_no_upload(s3_bucket, faulty_proxy, aws_client):
    # Given the creation of the multipart upload held up at S3 for a moment (one attempt hangs)
    faulty_proxy.add(Fault("hang", pattern=r"uploads", method="POST", count=1, hang_seconds=2))
    store = store_via(faulty_proxy, s3_bucket)
    writer = store.open_writer(KEY)
    failed: list[OperationError] = []

    def first_part() -> None:
        try:
            writer.write(bytes(MIN_PART_SIZE))
        except OperationError as exc:
            failed.append(exc)

    # When the backup's writing thread starts its first part, and the backup is aborted meanwhile
    writing = threading.Thread(target=first_part)
    writing.start()
    deadline = time.monotonic() + 30
    while not faulty_proxy.applied("hang") and time.monotonic() < deadline:
        time.sleep(0.02)
    writer.abort()
    writing.join(timeout=60)
    # Then the writing thread fails, and S3 holds neither an upload nor an object
    assert not writing.is_alive()
    assert len(failed) == 1
    assert nothing_left(aws_client, s3_bucket)


def test_a_download_resumed_after_the_object_changed_says_so(s3_bucket, faulty_proxy, aws_client):
    # Given an object whose download is cut half-way (beyond what socket buffers hold: the cut comes
    # only after the reader has taken its first chunk)
    s3 = aws_client("s3")
    s3.put_object(Bucket=s3_bucket, Key="p/blob", Body=bytes(32 * MIB))
    faulty_proxy.add(Fault("cut_body", pattern=r"/p/blob", method="GET", count=1))
    store = store_via(faulty_proxy, s3_bucket)
    chunks = store.iter_range("blob")
    next(chunks)
    # When the object is replaced by another version before the download resumes
    s3.put_object(Bucket=s3_bucket, Key="p/blob", Body=bytes(range(256)) * 4096)
    with pytest.raises(OperationError) as info:
        for _ in chunks:
            pass
    # Then the read fails saying the object changed while it was read, never that it "already exists"
    message = str(info.value)
    assert f"cannot read s3://{s3_bucket}/p/blob: it changed while it was being read" in message
    assert "already exists" not in message
    assert "\n" not in message


def test_a_long_download_cut_more_often_than_the_resume_limit_completes_while_each_resume_progresses(
    s3_bucket, faulty_proxy, aws_client
):
    # Given an object whose download is cut half-way on each of its first 7 requests (a bad network
    # over a long restore: big enough that each resumed request still brings bytes, whatever socket
    # buffers the reset throws away)
    data = bytes(range(256)) * (256 * 1024)  # 64 MiB
    aws_client("s3").put_object(Bucket=s3_bucket, Key="p/blob", Body=data)
    faulty_proxy.add(Fault("cut_body", pattern=r"/p/blob", method="GET", count=READ_RESUMES + 2))
    store = store_via(faulty_proxy, s3_bucket)
    # When it is read
    read = b"".join(store.iter_range("blob"))
    # Then every byte arrives: the limit counts cuts in a row without progress, not cuts in all
    assert read == data
    assert len(faulty_proxy.applied("cut_body")) == READ_RESUMES + 2
