"""Turn the STORAGE flags into the store new backups go to and the stores that are read.

Without --backup-bucket: the local data directory. With it: new backups go to S3, and the local data
directory (--data, $CLOUDBACKUP_DATA or ~/.cloudbackup) is still read, so backups made there before the
switch stay listed and restorable.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cloudbackup.errors import UsageError
from cloudbackup.storage.base import Storage
from cloudbackup.storage.local import LocalStorage

if TYPE_CHECKING:  # boto3 is imported only when a bucket is used: ~0.5 s off every local command
    from cloudbackup.storage.s3 import S3Storage

DEFAULT_DATA = "~/.cloudbackup"
# Flags that only mean something with a bucket: alone they would silently write to the local store.
_S3_ONLY_FLAGS = {
    "backup_region": "--backup-region",
    "backup_credential": "--backup-credential",
    "backup_profile": "--backup-profile",
    "backup_endpoint": "--backup-endpoint",
    "kms_key_id": "--kms-key-id",
}


@dataclass
class StoreSet:
    write: Storage
    read: list[Storage] = field(default_factory=list)


def data_dir(args: argparse.Namespace) -> str:
    return str(getattr(args, "data", None) or os.environ.get("CLOUDBACKUP_DATA") or DEFAULT_DATA)


def stores_from_args(args: argparse.Namespace) -> StoreSet:
    local = LocalStorage(data_dir(args))
    bucket_url = getattr(args, "backup_bucket", None)
    if not bucket_url:
        for attr, flag in _S3_ONLY_FLAGS.items():
            if getattr(args, attr, None):
                raise UsageError(f"{flag} needs --backup-bucket s3://BUCKET[/PREFIX]")
        return StoreSet(write=local, read=[local])
    s3 = s3_store_from_args(args)
    return StoreSet(write=s3, read=[s3, local])


def s3_store_from_args(args: argparse.Namespace) -> S3Storage:
    from cloudbackup.storage.credentials import CredentialSource
    from cloudbackup.storage.s3 import S3Storage, parse_bucket_url, s3_client

    bucket, prefix = parse_bucket_url(args.backup_bucket)
    region = getattr(args, "backup_region", None)
    if not region:
        raise UsageError("--backup-bucket needs --backup-region REGION (the bucket's region, e.g. us-east-1)")
    credential_file = getattr(args, "backup_credential", None)
    profile = getattr(args, "backup_profile", None)
    endpoint = getattr(args, "backup_endpoint", None)
    client = s3_client(region, credential_file=credential_file, profile=profile, endpoint_url=endpoint)
    return S3Storage(
        bucket,
        prefix,
        region=region,
        client=client,
        kms_key_id=getattr(args, "kms_key_id", None),
        credentials=CredentialSource(credential_file, profile).describe(),
        endpoint_url=endpoint,
    )
