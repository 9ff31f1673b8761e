"""S3 streaming upload: our multipart writer beside boto3's own transfer manager, same stream, same run.

`.venv/bin/python -m bench.s3_upload [MiB]` uploads a generated stream (never all in memory) to a local
S3 endpoint (a moto server process on loopback) both ways and prints throughput and the peak of Python memory
allocated during the upload (tracemalloc). The endpoint is the bottleneck for both; the point is the
side-by-side, and that our memory stays bounded by the parts in flight.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator

import boto3
from boto3.s3.transfer import TransferConfig

from cloudbackup.storage.s3 import S3Storage, s3_client
from tests.fixtures.aws import create_versioned_bucket, isolated_aws_environment, moto_server_process

MIB = 1024 * 1024


def chunks(total: int) -> Iterator[bytes]:
    block = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(MIB // 32))
    sent = 0
    while sent < total:
        piece = block[: min(MIB, total - sent)]
        sent += len(piece)
        yield piece


class StreamReader(io.RawIOBase):
    """The same generated stream as a file object, for boto3's upload_fileobj."""

    def __init__(self, total: int) -> None:
        self._chunks = chunks(total)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def measure(label: str, total: int, run: object) -> tuple[str, float, float]:
    tracemalloc.start()
    started = time.perf_counter()
    run()  # type: ignore[operator]
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return label, total / MIB / seconds, peak / MIB


def main() -> int:
    total = int(sys.argv[1]) * MIB if len(sys.argv) > 1 else 256 * MIB
    with tempfile.TemporaryDirectory() as tmp, moto_server_process() as endpoint:
        os.environ.update(isolated_aws_environment(tmp))
        client = s3_client("us-east-1", endpoint_url=endpoint)
        bucket = create_versioned_bucket(client)
        store = S3Storage(bucket, region="us-east-1", client=client, endpoint_url=endpoint)

        def ours() -> None:
            writer = store.open_writer("ours")
            for piece in chunks(total):
                writer.write(piece)
            writer.commit()

        plain = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
        config = TransferConfig(multipart_chunksize=8 * MIB, max_concurrency=4)

        def boto3_transfer() -> None:
            plain.upload_fileobj(io.BufferedReader(StreamReader(total), MIB), bucket, "boto3", Config=config)

        rows = [measure("cloudbackup S3Storage (8 MiB parts, 4 in flight)", total, ours)]
        rows.append(measure("boto3 upload_fileobj (8 MiB parts, 4 threads)", total, boto3_transfer))
    print(f"upload of {total // MIB} MiB to a local S3 endpoint (moto server on loopback)")
    print(f"{'uploader':<52} {'MiB/s':>8} {'peak MiB':>9}")
    for label, rate, peak in rows:
        print(f"{label:<52} {rate:>8.1f} {peak:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
