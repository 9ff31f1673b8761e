"""The boto3 S3 client the store uses: credentials, region, endpoint, timeouts and retries in one place."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import boto3
import botocore.exceptions
from botocore.config import Config

from cloudbackup.errors import UsageError
from cloudbackup.storage.credentials import read_credentials_file

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Transient failures (500, 503 SlowDown, resets, read timeouts) are retried by botocore's `standard` mode
# with jittered exponential backoff; permanent ones (403, 404, 301) are not retried.
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 120.0
DEFAULT_POOL = 16
_AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+-\d{1,2}$")
_OTHER_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


def check_region(region: str, *, custom_endpoint: bool) -> None:
    """An AWS region name like `us-east-1` (an S3-compatible endpoint may use its own name)."""
    pattern = _OTHER_REGION if custom_endpoint else _AWS_REGION
    if not pattern.match(region):
        raise UsageError(f"--backup-region {region!r} is not a region name (expected e.g. us-east-1)")


def s3_client(
    region: str,
    *,
    credential_file: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    max_pool_connections: int = DEFAULT_POOL,
    configured_endpoint: bool = True,
) -> S3Client:
    """An S3 client for `region`: keys from `credential_file` [profile], a named profile, or the chain.
    `configured_endpoint=False`: an `endpoint_url` of the AWS config file or environment is ignored,
    so only `endpoint_url` (or AWS) is reached."""
    check_region(region, custom_endpoint=endpoint_url is not None)
    if endpoint_url is not None and not re.match(r"^https?://[^\s/]+(/\S*)?$", endpoint_url):
        raise UsageError(f"--backup-endpoint {endpoint_url!r} is not a URL (expected http(s)://HOST[:PORT])")
    if credential_file is not None:
        creds = read_credentials_file(credential_file, profile)
        session = boto3.Session(
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            aws_session_token=creds.session_token,
            region_name=region,
        )
    else:
        try:
            session = boto3.Session(profile_name=profile, region_name=region)
        except botocore.exceptions.ProfileNotFound:
            raise UsageError(f"--backup-profile {profile}: no such profile in the AWS config") from None
    config = Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
        tcp_keepalive=True,
        ignore_configured_endpoint_urls=not configured_endpoint,  # type: ignore[call-arg]  # not in the stubs
        # S3-compatible stores (MinIO, emulators) are reached by path, not by bucket host names.
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    return session.client("s3", region_name=region, endpoint_url=endpoint_url, config=config)
