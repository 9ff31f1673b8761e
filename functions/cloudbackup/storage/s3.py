"""Backups in an S3 bucket under an optional prefix: the Storage protocol over boto3."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import botocore.exceptions
import urllib3.exceptions

from cloudbackup.errors import CloudBackupError, OperationError, UsageError
from cloudbackup.storage.base import ObjectInfo, StoreKind
from cloudbackup.storage.credentials import DEFAULT_CHAIN
from cloudbackup.storage.s3_client import s3_client
from cloudbackup.storage.s3_errors import S3Target, bucket_region_of, precondition_failed, s3_failure
from cloudbackup.storage.s3_upload import MIN_PART_SIZE, MultipartWriter, sha256_b64
from cloudbackup.storage.s3_url import parse_bucket_url

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["S3Storage", "parse_bucket_url", "s3_client"]

log = logging.getLogger(__name__)

READ_CHUNK = 1 << 20
# A download cut mid-stream (reset, timeout) resumes from the last byte received, this many times in a
# row without a byte received between: a long restore over a bad network may be cut any number of times.
READ_RESUMES = 5
_STREAM_ERRORS = (botocore.exceptions.BotoCoreError, urllib3.exceptions.HTTPError, OSError)


class S3Storage:
    kind: StoreKind = "s3"
    list_page_size = 1000  # S3's maximum; tests lower it to see paging

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        region: str,
        client: S3Client | None = None,
        kms_key_id: str | None = None,
        credentials: str = DEFAULT_CHAIN,
        endpoint_url: str | None = None,
        part_size: int = MIN_PART_SIZE,
        concurrency: int = 4,
        region_from: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.region = region
        self.client = client or s3_client(region, endpoint_url=endpoint_url)
        self.target = S3Target(
            bucket=bucket,
            region=region,
            credentials=credentials,
            endpoint=endpoint_url,
            region_from=region_from,
        )
        self._sse: dict[str, Any] = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id} if kms_key_id else {}
        )
        self._part_size = part_size
        self._concurrency = concurrency
        self._checked = False
        self._check_lock = threading.Lock()
        self._saw_delete_marker = False

    # -- Storage protocol ---------------------------------------------------------------------------

    def open_writer(self, key: str) -> MultipartWriter:
        self.check_bucket()
        full = self._full(key)
        location = self.location(key)
        return MultipartWriter(
            self.client,
            self.bucket,
            full,
            store_key=key,
            put_args=self._sse,
            fail=lambda exc, action: s3_failure(exc, self.target, action, location),
            holds=lambda body: self._holds(key, body),
            remove=lambda: self.delete(key),
            part_size=self._part_size,
            concurrency=self._concurrency,
        )

    def put_bytes(self, key: str, data: bytes) -> None:
        """One PutObject: S3 makes it visible whole or not at all (the manifest's commit point).
        Only if the key is absent (If-None-Match: *): an existing object is never replaced."""
        self.check_bucket()
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._full(key),
                Body=data,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=sha256_b64(data),
                ContentType="application/json" if key.endswith(".json") else "application/octet-stream",
                IfNoneMatch="*",
                **self._sse,
            )
        except Exception as exc:
            if precondition_failed(exc) and self._holds(key, data):
                return  # a retry of our own write whose first answer was lost: the object is ours
            raise s3_failure(exc, self.target, "write", self.location(key)) from None

    def get_bytes(self, key: str) -> bytes:
        return b"".join(self.iter_range(key))

    def iter_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Ranged GETs; a stream cut mid-way resumes at the next byte (same object version only)."""
        self.check_bucket()
        end = None if length is None else start + length  # exclusive
        position, resumes, etag = start, 0, None
        while end is None or position < end:
            args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._full(key)}
            if position > 0 or end is not None:
                args["Range"] = f"bytes={position}-" + ("" if end is None else str(end - 1))
            if etag is not None:
                args["IfMatch"] = etag
            try:
                response = self.client.get_object(**args)
            except botocore.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "InvalidRange" and end is None:
                    return  # start is at the end of the object: nothing more to read
                if etag is not None and precondition_failed(exc):  # If-Match: another version now
                    raise OperationError(
                        f"cannot read {self.location(key)}: it changed while it was being read "
                        f"(another version replaced it after {position:,} bytes) ({self.target.context()})"
                    ) from None
                raise s3_failure(exc, self.target, "read", self.location(key)) from None
            except Exception as exc:
                raise s3_failure(exc, self.target, "read", self.location(key)) from None
            etag = response.get("ETag")
            requested_at = position
            try:
                for chunk in response["Body"].iter_chunks(READ_CHUNK):
                    position += len(chunk)
                    yield chunk
                return
            except _STREAM_ERRORS as exc:
                resumes = 1 if position > requested_at else resumes + 1
                if resumes > READ_RESUMES:
                    raise s3_failure(exc, self.target, "read", self.location(key)) from None
                log.info("download of %s cut at byte %d (%s); resuming", self.location(key), position, exc)
                time.sleep(min(0.2 * 2**resumes, 5.0))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        self.check_bucket()
        base = self._full("")
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base + prefix, PaginationConfig={"PageSize": self.list_page_size}
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        key=item["Key"][len(base) :],
                        size=item["Size"],
                        last_modified=item.get("LastModified"),
                    )
        except CloudBackupError:
            raise
        except Exception as exc:
            raise s3_failure(exc, self.target, "list", f"s3://{self.bucket}/{base}{prefix}") from None

    def delete(self, key: str) -> None:
        self.check_bucket()
        try:
            response = self.client.delete_object(Bucket=self.bucket, Key=self._full(key))
        except Exception as exc:
            raise s3_failure(exc, self.target, "delete", self.location(key)) from None
        if response.get("DeleteMarker"):
            self._saw_delete_marker = True

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        return f"{where} ({self.region})"

    def abandoned_writes(self, untouched_since: datetime) -> tuple[ObjectInfo, ...]:
        # An unfinished write is a multipart upload nobody completed or aborted: the stack's bucket
        # aborts those after a day (infra/bucket.py), and nothing of one is ever listed as an object.
        return ()

    def drop_abandoned(self, key: str) -> None:
        return None

    def absence(self) -> str:
        return ""  # a missing bucket is an error of its own when listed (s3_errors)

    # -- S3 specifics -------------------------------------------------------------------------------

    def check_bucket(self) -> None:
        """On first use: the bucket exists, and --backup-region is its real region."""
        with self._check_lock:
            if self._checked:
                return
            try:
                response = self.client.head_bucket(Bucket=self.bucket)
                headers = response["ResponseMetadata"].get("HTTPHeaders", {})
                real = headers.get("x-amz-bucket-region")
            except botocore.exceptions.ClientError as exc:
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                real = bucket_region_of(exc)
                if real and real != self.region:
                    pass  # a 301/400 from the wrong region: said below
                elif status == 404:
                    raise UsageError(
                        f"S3 bucket {self.bucket} does not exist ({self.target.context()})"
                    ) from None
                elif status != 403:
                    raise s3_failure(exc, self.target, "open", f"s3://{self.bucket}") from None
                # 403 on HeadBucket: no ListBucket right on the bucket itself (a policy scoped to the
                # prefix); the real operations will say what is denied.
            except Exception as exc:
                raise s3_failure(exc, self.target, "open", f"s3://{self.bucket}") from None
            if real and real != self.region:
                raise UsageError(
                    f"S3 bucket {self.bucket} is in region {real}, not {self.region}: "
                    f"use --backup-region {real} ({self.target.context()})"
                )
            self._checked = True

    def versioning_enabled(self) -> bool | None:
        """Whether deleted objects stay as non-current versions (None: not allowed to ask)."""
        if self._saw_delete_marker:
            return True
        try:
            status = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
        except Exception:
            return None
        return status == "Enabled"

    def object_lock(self) -> str | None:
        """The bucket's default Object Lock retention, e.g. "GOVERNANCE, 30 days" ("" when Object Lock
        is on without a default; None when it is off or we may not ask)."""
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
        except Exception:
            return None
        if config.get("ObjectLockEnabled") != "Enabled":
            return None
        retention = config.get("Rule", {}).get("DefaultRetention", {})
        if not retention.get("Mode"):
            return ""
        days, years = retention.get("Days"), retention.get("Years")
        return f"{retention['Mode']}, {f'{days} days' if days else f'{years} years'}"

    def _holds(self, key: str, data: bytes) -> bool:
        """Whether `key` holds exactly `data`: botocore retried a conditional write whose answer was lost,
        and the key is taken by our own first attempt (put_bytes, and a small streamed object's PutObject)."""
        try:
            return self.get_bytes(key) == data
        except CloudBackupError:
            return False

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key
