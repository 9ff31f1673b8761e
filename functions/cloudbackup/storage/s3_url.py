"""`--backup-bucket s3://BUCKET[/PREFIX]`: the one accepted form, checked before anything runs."""

from __future__ import annotations

import re

from cloudbackup.errors import UsageError

EXPECTED = "s3://BUCKET[/PREFIX]"
# S3 general purpose bucket names: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_PREFIX_CHAR = re.compile(r"^[\x21-\x7e]*$")  # printable ASCII, no spaces or control characters


def parse_bucket_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` -> ("bucket", "some/prefix"); anything else is a usage error."""
    if not url.startswith("s3://"):
        raise UsageError(f"--backup-bucket {url!r} is not an S3 URL: expected {EXPECTED}")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise UsageError(f"--backup-bucket {url!r} names no bucket: expected {EXPECTED}")
    if not _BUCKET.match(bucket) or ".." in bucket or _IP_ADDRESS.match(bucket):
        raise UsageError(
            f"--backup-bucket {url!r}: {bucket!r} is not a valid bucket name "
            f"(3-63 characters a-z 0-9 . -): expected {EXPECTED}"
        )
    prefix = prefix.strip("/")
    if "//" in prefix or not _PREFIX_CHAR.match(prefix) or any(p in (".", "..") for p in prefix.split("/")):
        raise UsageError(f"--backup-bucket {url!r} has an unusable prefix {prefix!r}: expected {EXPECTED}")
    return bucket, prefix
