"""Streaming upload to S3 while the dump runs: multipart, several parts in flight, bounded memory.

Bytes are cut into parts (>= 8 MiB; the size doubles every 1000 parts so huge dumps stay within S3's
10,000-part limit). Parts upload on a small thread pool, each with its SHA-256 sent so S3 verifies it;
at most `max_buffered` parts wait or travel at once, so memory stays bounded however fast the dump is.
An object smaller than one part is a single PutObject at commit. A failed or abandoned upload is
aborted: no orphan parts are left by us, and nothing becomes visible.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from cloudbackup.errors import CloudBackupError, OperationError
from cloudbackup.storage.base import Sha256Counter, WrittenObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)

MIN_PART_SIZE = 8 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
PARTS_PER_SIZE_STEP = 1000

# Turns a botocore exception into the one-line error naming bucket, region and credentials.
FailureMapper = Callable[[Exception, str], CloudBackupError]


def sha256_b64(data: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def part_size_for(part_number: int, base: int = MIN_PART_SIZE) -> int:
    """Part n's size: `base` for the first 1000 parts, then doubling, capped at S3's 5 GiB."""
    return min(base << ((part_number - 1) // PARTS_PER_SIZE_STEP), MAX_PART_SIZE)


class MultipartWriter:
    """An ObjectWriter for one S3 key. Not thread-safe: one producer writes, the pool uploads."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        key: str,
        *,
        store_key: str,
        put_args: Mapping[str, Any],
        fail: FailureMapper,
        part_size: int = MIN_PART_SIZE,
        concurrency: int = 4,
        max_buffered: int | None = None,
    ) -> None:
        if part_size < 5 * 1024 * 1024:
            raise ValueError("S3 parts (but the last) must be at least 5 MiB")
        self._client = client
        self._bucket = bucket
        self._key = key
        self._store_key = store_key
        self._put_args = dict(put_args)
        self._fail = fail
        self._base_part_size = part_size
        self._concurrency = concurrency
        self._slots = threading.BoundedSemaphore(max_buffered or concurrency + 1)
        self._counter = Sha256Counter()
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[Future[None]] = []
        self._parts: dict[int, CompletedPartTypeDef] = {}
        self._lock = threading.Lock()
        self._error: Exception | None = None
        self._stopping = threading.Event()
        self._closed = False

    @property
    def upload_id(self) -> str | None:
        return self._upload_id

    def write(self, data: bytes) -> None:
        self._check_usable()
        self._counter.update(data)
        self._buffer += data
        while len(self._buffer) >= (size := part_size_for(len(self._futures) + 1, self._base_part_size)):
            part = bytes(memoryview(self._buffer)[:size])  # one copy, not two
            del self._buffer[:size]
            self._submit(part)

    def commit(self) -> WrittenObject:
        self._check_usable()
        try:
            if self._upload_id is None:
                self._put_whole()
            else:
                if self._buffer or not self._futures:
                    self._submit(bytes(self._buffer))
                    self._buffer = bytearray()
                wait(self._futures)
                self._raise_if_failed()
                self._complete()
        except Exception as exc:
            self.abort()
            raise self._as_failure(exc, "upload") from None
        self._closed = True
        self._shutdown_pool()
        return WrittenObject(key=self._store_key, size=self._counter.size, sha256=self._counter.hexdigest())

    def abort(self) -> None:
        """Stop uploading and abort the multipart upload. Never raises: it runs on error paths."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        self._buffer = bytearray()
        self._shutdown_pool()
        if self._upload_id is None:
            return
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
        except Exception as exc:
            # The bucket lifecycle rule removes it later; say which upload was left.
            log.warning(
                "could not abort upload %s of s3://%s/%s: %s", self._upload_id, self._bucket, self._key, exc
            )

    # -- internals ----------------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed:
            raise OperationError(f"upload of s3://{self._bucket}/{self._key} is already finished or aborted")
        try:
            self._raise_if_failed()
        except Exception as exc:
            self.abort()
            raise self._as_failure(exc, "upload") from None

    def _raise_if_failed(self) -> None:
        with self._lock:
            error = self._error
        if error is not None:
            raise error

    def _as_failure(self, exc: Exception, action: str) -> CloudBackupError:
        return self._fail(exc, action)

    def _put_whole(self) -> None:
        body = bytes(self._buffer)
        self._client.put_object(
            Bucket=self._bucket,
            Key=self._key,
            Body=body,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=sha256_b64(body),
            **self._put_args,
        )

    def _submit(self, part: bytes) -> None:
        if self._upload_id is None:
            try:
                created = self._client.create_multipart_upload(
                    Bucket=self._bucket, Key=self._key, ChecksumAlgorithm="SHA256", **self._put_args
                )
            except Exception as exc:
                self.abort()
                raise self._as_failure(exc, "start the upload of") from None
            self._upload_id = created["UploadId"]
            self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="s3-part")
        # Blocks while max_buffered parts are waiting or travelling: this bounds memory.
        self._slots.acquire()
        if self._pool is None or self._stopping.is_set():
            self._slots.release()
            return
        number = len(self._futures) + 1
        self._futures.append(self._pool.submit(self._upload_part, number, part))

    def _upload_part(self, number: int, data: bytes) -> None:
        try:
            if self._stopping.is_set() or self._error is not None:
                return
            assert self._upload_id is not None
            checksum = sha256_b64(data)
            response = self._client.upload_part(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=data,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
            )
            if response.get("ChecksumSHA256", checksum) != checksum:
                raise OperationError(f"S3 stored part {number} of s3://{self._bucket}/{self._key} altered")
            with self._lock:
                self._parts[number] = {
                    "PartNumber": number,
                    "ETag": response["ETag"],
                    "ChecksumSHA256": checksum,
                }
        except Exception as exc:
            with self._lock:
                if self._error is None:
                    self._error = exc
            self._stopping.set()
        finally:
            self._slots.release()

    def _complete(self) -> None:
        assert self._upload_id is not None
        parts = [self._parts[n] for n in sorted(self._parts)]
        if len(parts) != len(self._futures):
            raise OperationError(f"upload of s3://{self._bucket}/{self._key} lost parts")
        self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": parts},
        )

    def _shutdown_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
