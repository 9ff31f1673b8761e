"""Streaming upload to S3 while the dump runs: multipart, several parts in flight, bounded memory.

Bytes are cut into parts (>= 8 MiB; the size doubles every 1000 parts so huge dumps stay within S3's
10,000-part limit). `concurrency` worker threads upload parts from a queue of depth `queue_depth`,
each part with its SHA-256 sent so S3 verifies it; the producer blocks when the queue is full, so at
most concurrency + queue_depth parts (plus the one being filled) are in memory however fast the dump
is. An object smaller than one part is a single PutObject at commit.

Every object is written only if its key is absent (`If-None-Match: *` on the PutObject or the
CompleteMultipartUpload): a backup, once written, is never replaced, and the bucket policy denies writes
without that condition.

A failed or abandoned upload is aborted (AbortMultipartUpload), again after any part that was still
travelling lands, so no parts of ours are left. The workers are daemon threads: a request hung on the
network never keeps an interrupted process alive (the bucket lifecycle removes what S3 still holds).
An abort that comes once the request making the object whole was sent but before commit() returned it
(a SIGTERM while CompleteMultipartUpload or the small PutObject is answered, or right after) deletes the
object if S3 made it: nobody would write the manifest that lists it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from cloudbackup import stopping
from cloudbackup.errors import CloudBackupError, OperationError
from cloudbackup.storage.base import Sha256Counter, WrittenObject
from cloudbackup.storage.s3_errors import no_such_upload, precondition_failed

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)

MIN_PART_SIZE = 8 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
PARTS_PER_SIZE_STEP = 1000
ABORT_GRACE_SECONDS = 5.0  # how long abort() waits for travelling parts before aborting again

# Turns a botocore exception into the one-line error naming bucket, region and credentials.
FailureMapper = Callable[[Exception, str], CloudBackupError]
# Whether the key already holds exactly these bytes (the store's read-back: see S3Storage._holds).
HoldsCheck = Callable[[bytes], bool]
# Deletes the key (the store's delete: on a versioned bucket, a delete marker over it).
Remove = Callable[[], None]
_Part = tuple[int, bytes]


def sha256_b64(data: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def part_size_for(part_number: int, base: int = MIN_PART_SIZE) -> int:
    """Part n's size: `base` for the first 1000 parts, then doubling, capped at S3's 5 GiB."""
    return min(base << ((part_number - 1) // PARTS_PER_SIZE_STEP), MAX_PART_SIZE)


class MultipartWriter:
    """An ObjectWriter for one S3 key. One producer thread writes; worker threads upload."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        key: str,
        *,
        store_key: str,
        put_args: Mapping[str, Any],
        fail: FailureMapper,
        holds: HoldsCheck,
        remove: Remove,
        part_size: int = MIN_PART_SIZE,
        concurrency: int = 4,
        queue_depth: int = 1,
    ) -> None:
        if part_size < 5 * 1024 * 1024:
            raise ValueError("S3 parts (but the last) must be at least 5 MiB")
        self._client = client
        self._bucket = bucket
        self._key = key
        self._store_key = store_key
        self._put_args = dict(put_args)
        self._fail = fail
        self._holds = holds
        self._remove = remove
        self._base_part_size = part_size
        self._concurrency = concurrency
        self._queue: queue.Queue[_Part | None] = queue.Queue(maxsize=queue_depth)
        self._workers: list[threading.Thread] = []
        self._counter = Sha256Counter()
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._submitted = 0
        self._finished = 0
        self._parts: dict[int, CompletedPartTypeDef] = {}
        self._changed = threading.Condition()
        self._error: Exception | None = None
        self._stopping = threading.Event()
        self._landed_after_stop = False
        self._closed = False
        self._completed = False  # S3 holds the whole object: from here, aborting means deleting it
        # The request that makes the object whole (PutObject or CompleteMultipartUpload) was sent
        self._whole_sent = False
        self._single_body = b""  # what that PutObject carried

    @property
    def upload_id(self) -> str | None:
        return self._upload_id

    def in_memory_parts(self) -> int:
        """Parts queued or travelling (not counting the buffer being filled): what bounds memory."""
        with self._changed:
            return self._submitted - self._finished

    def write(self, data: bytes) -> None:
        self._check_usable()
        self._counter.update(data)
        self._buffer += data
        while len(self._buffer) >= (size := part_size_for(self._submitted + 1, self._base_part_size)):
            part = bytes(memoryview(self._buffer)[:size])  # one copy, not two
            del self._buffer[:size]
            self._guarded(self._submit, part)

    def commit(self) -> WrittenObject:
        self._check_usable()
        self._guarded(self._finish)
        self._closed = True
        return WrittenObject(key=self._store_key, size=self._counter.size, sha256=self._counter.hexdigest())

    def abort(self) -> None:
        """Stop, and abort the multipart upload. Never raises: it runs on error paths."""
        if self._closed:
            return
        self._closed = True
        with self._changed:  # with _start: exactly one of the two aborts an upload being created now
            self._stopping.set()
            upload_id = self._upload_id
        self._buffer = bytearray()
        self._drain_queue()
        self._stop_workers()
        if self._whole_sent and not self._completed:
            self._completed = self._made_whole_unanswered(upload_id)
        if self._completed:
            self._remove_object()
            return
        if upload_id is None:
            return
        self._abort_upload()
        # A part travelling during the abort may still land (S3 documents the race): abort once more
        # when the workers are done, or leave the rest to the lifecycle rule if they hang.
        deadline = time.monotonic() + ABORT_GRACE_SECONDS
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        if self._landed_after_stop:
            self._abort_upload()

    # -- producer side --------------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed:
            raise OperationError(f"upload of s3://{self._bucket}/{self._key} is already finished or aborted")
        self._guarded(self._raise_if_failed)

    def _guarded(self, step: Callable[..., None], *args: Any) -> None:
        """Run a producer step; on any failure abort everything and raise the one-line error."""
        try:
            step(*args)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, Exception):
                raise self._fail(exc, "upload") from None
            raise

    def _raise_if_failed(self) -> None:
        with self._changed:
            error = self._error
        if error is not None:
            raise error

    def _raise_if_stopped(self) -> None:
        """What a part waiting for room must give way to: a failed part, or abort() from another
        thread (an interrupted backup)."""
        self._raise_if_failed()
        if self._stopping.is_set():
            raise self._aborted()

    def _submit(self, part: bytes) -> None:
        if self._upload_id is None:
            self._start()
        number = self._submitted + 1
        # Blocks while the queue is full: this bounds memory, whatever the dump's pace.
        stopping.put(self._queue, (number, part), check=self._raise_if_stopped)
        with self._changed:
            self._submitted = number

    def _start(self) -> None:
        created = self._client.create_multipart_upload(
            Bucket=self._bucket, Key=self._key, ChecksumAlgorithm="SHA256", **self._put_args
        )
        with self._changed:
            self._upload_id = created["UploadId"]
            aborted = self._stopping.is_set()
        if aborted:  # abort() came from another thread while S3 created it, and saw no upload
            self._abort_upload()
            raise self._aborted()
        for n in range(self._concurrency):
            worker = threading.Thread(target=self._work, name=f"s3-part-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def _finish(self) -> None:
        if self._upload_id is None:
            body = self._single_body = bytes(self._buffer)
            self._whole_sent = True
            try:
                self._client.put_object(
                    Bucket=self._bucket,
                    Key=self._key,
                    Body=body,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=sha256_b64(body),
                    IfNoneMatch="*",
                    **self._put_args,
                )
            except Exception as exc:
                # botocore retried a PutObject whose answer was lost: the key is taken by our own first
                # attempt when it holds these very bytes (less than a part: cheap to read back).
                if not (precondition_failed(exc) and self._holds(body)):
                    raise
            self._completed = True
            return
        if self._buffer:
            self._submit(bytes(self._buffer))
            self._buffer = bytearray()
        with self._changed:
            stopping.wait_for(
                self._changed, lambda: self._finished >= self._submitted or self._error is not None
            )
        self._raise_if_failed()
        self._stop_workers()
        parts = [self._parts[n] for n in sorted(self._parts)]
        if len(parts) != self._submitted:
            raise OperationError(f"upload of s3://{self._bucket}/{self._key} lost parts")
        self._whole_sent = True
        self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": parts},
            IfNoneMatch="*",
        )
        self._completed = True

    def _drain_queue(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def _stop_workers(self) -> None:
        for _ in self._workers:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break  # stopping is set: the workers exit on their next item anyway

    def _aborted(self) -> OperationError:
        return OperationError(f"upload of s3://{self._bucket}/{self._key} was aborted")

    def _abort_upload(self) -> bool:
        """Abort the upload; False when S3 says there is no such upload (completed, or aborted before)."""
        assert self._upload_id is not None
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
        except Exception as exc:
            if no_such_upload(exc):
                return False
            # The bucket lifecycle rule removes it later; say which upload was left.
            log.warning(
                "could not abort upload %s of s3://%s/%s: %s", self._upload_id, self._bucket, self._key, exc
            )
        return True

    def _made_whole_unanswered(self, upload_id: str | None) -> bool:
        """Whether S3 made the object whole, though the request's answer never came (an interrupt)."""
        if upload_id is None:
            return self._holds(self._single_body)  # less than a part: cheap to read back
        # No such upload once CompleteMultipartUpload was sent: S3 completed it, as nothing else ends an
        # upload of ours that soon (the lifecycle rule takes a day). Otherwise this aborted it.
        return not self._abort_upload()

    def _remove_object(self) -> None:
        try:
            self._remove()
        except Exception as exc:
            # Never listed without its manifest; prune deletes it once it is old (ORPHANED_AFTER).
            log.warning("could not delete s3://%s/%s, written but not kept: %s", self._bucket, self._key, exc)

    # -- worker side ----------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None or self._stopping.is_set():
                return
            number, data = item
            try:
                self._upload_part(number, data)
            except Exception as exc:
                with self._changed:
                    self._error = self._error or exc
                self._stopping.set()
            finally:
                with self._changed:
                    self._finished += 1
                    self._changed.notify_all()

    def _upload_part(self, number: int, data: bytes) -> None:
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
        if self._stopping.is_set():
            self._landed_after_stop = True
        if response.get("ChecksumSHA256", checksum) != checksum:
            raise OperationError(f"S3 stored part {number} of s3://{self._bucket}/{self._key} altered")
        with self._changed:
            self._parts[number] = {"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": checksum}
