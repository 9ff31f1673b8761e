"""Turn the STORAGE flags into the store new backups go to and the stores that are read.

Without a bucket: the local data directory. With one: new backups go to S3, and the local data
directory (--data, $CLOUDBACKUP_DATA or ~/.cloudbackup) is still read, so backups made there before the
switch stay listed and restorable. `--store local|s3` narrows what is read to one of them.

Each S3 flag may also come from the environment (`CLOUDBACKUP_BACKUP_BUCKET`, ...), so a shell or a
cron job sets them once; a flag always wins over its variable. The region falls back to the AWS
variables last, as the AWS tools do.
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
# The environment variable behind each storage flag (the flag wins).
ENV_SETTINGS = {
    "backup_bucket": "CLOUDBACKUP_BACKUP_BUCKET",
    "backup_region": "CLOUDBACKUP_BACKUP_REGION",
    "backup_credential": "CLOUDBACKUP_BACKUP_CREDENTIAL",
    "backup_profile": "CLOUDBACKUP_BACKUP_PROFILE",
    "backup_endpoint": "CLOUDBACKUP_BACKUP_ENDPOINT",
}
AWS_REGION_ENV = ("AWS_REGION", "AWS_DEFAULT_REGION")
# boto3 would send every S3 call to the endpoint these name. Set for another tool (a local emulator),
# they would make `--backup-bucket s3://B` list, prune or fill that emulator's bucket B as if it were
# AWS's, saying nothing: the store's endpoint comes from --backup-endpoint (or its variable) only.
AWS_ENDPOINT_ENV = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


@dataclass
class StoreSet:
    write: Storage
    read: list[Storage] = field(default_factory=list)


def data_dir(args: argparse.Namespace) -> str:
    given = getattr(args, "data", None)
    if given is not None and not given.strip():
        # `--data "$BACKUP_DIR"` with the variable unset: falling back to ~/.cloudbackup would make
        # a prune or a restore act on another store than the one the script names
        raise UsageError("--data is empty (an unset variable?): name the backup directory")
    return str(given or _store_variable("CLOUDBACKUP_DATA") or DEFAULT_DATA)


def _store_variable(name: str) -> str | None:
    """A variable choosing the store; set but blank is refused as the flag is: `CLOUDBACKUP_DATA=$DIR
    cloudbackup prune …` with DIR unset would prune ~/.cloudbackup, and an empty bucket variable
    would send backups to the local disk (of a container that goes away) instead of S3."""
    value = os.environ.get(name)
    if value is not None and not value.strip():
        raise UsageError(f"${name} is set but empty (an unset variable?): give its value or unset it")
    return value or None


def setting(args: argparse.Namespace, attr: str) -> str | None:
    """A storage setting: its flag, else its environment variable, else None."""
    value = getattr(args, attr, None)
    if value is not None and not str(value).strip():  # as for --data: never another store than named
        raise UsageError(
            f"--{attr.replace('_', '-')} is empty (an unset variable?): give its value or leave it out"
        )
    if value:
        return str(value)
    env = ENV_SETTINGS.get(attr)
    return os.environ.get(env) or None if env else None


def stores_from_args(args: argparse.Namespace) -> StoreSet:
    local = LocalStorage(data_dir(args))
    chosen = getattr(args, "store", None)
    if not getattr(args, "backup_bucket", None):  # (a flag wins over its variable, even a blank one)
        _store_variable(ENV_SETTINGS["backup_bucket"])
    bucket_url = setting(args, "backup_bucket")
    if not bucket_url:
        for attr, flag in _S3_ONLY_FLAGS.items():
            if getattr(args, attr, None):  # flags only: a variable set for the shell is no mistake here
                raise UsageError(f"{flag} needs --backup-bucket s3://BUCKET[/PREFIX]")
        if chosen == "s3":
            raise UsageError(
                "--store s3 needs --backup-bucket s3://BUCKET[/PREFIX] (or $CLOUDBACKUP_BACKUP_BUCKET)"
            )
        return StoreSet(write=local, read=[local])
    if chosen == "local":  # never build (or reach) the S3 client when only the local store is wanted
        return StoreSet(write=local, read=[local])
    s3 = s3_store_from_args(args)
    return StoreSet(write=s3, read=[s3] if chosen == "s3" else [s3, local])


def bucket_only_from_environment(args: argparse.Namespace) -> str | None:
    """The bucket's variable when the environment alone names a bucket (no --backup-bucket), else None."""
    if getattr(args, "backup_bucket", None):
        return None
    return ENV_SETTINGS["backup_bucket"] if os.environ.get(ENV_SETTINGS["backup_bucket"]) else None


def region_setting(args: argparse.Namespace) -> str | None:
    region = setting(args, "backup_region")
    if region:
        return region
    return next((os.environ[name] for name in AWS_REGION_ENV if os.environ.get(name)), None)


def region_variable(args: argparse.Namespace) -> str | None:
    """The environment variable region_setting took the region from; None when a flag gave it."""
    if getattr(args, "backup_region", None):
        return None
    names = (ENV_SETTINGS["backup_region"], *AWS_REGION_ENV)
    return next((name for name in names if os.environ.get(name)), None)


def s3_store_from_args(args: argparse.Namespace) -> S3Storage:
    try:
        return _s3_store_from_args(args)
    except UsageError as exc:
        raise UsageError(_naming_variables(str(exc), args)) from None


def _naming_variables(message: str, args: argparse.Namespace) -> str:
    """A refusal of a storage value that came from the environment names its variable, not the flag the
    operator's command line does not hold (a stale `$CLOUDBACKUP_BACKUP_CREDENTIAL` read as
    "--backup-credential … does not exist" sends them looking for a flag that is not there)."""
    for attr, variable in ENV_SETTINGS.items():
        if getattr(args, attr, None) or not os.environ.get(variable):
            continue
        flag = "--" + attr.replace("_", "-")
        if message.startswith(flag + " "):
            message = f"${variable}{message.removeprefix(flag)}"
        elif attr == "backup_profile" and f"[{os.environ[variable]}]" in message:
            message += f" (the profile from ${variable})"
    return message


def _s3_store_from_args(args: argparse.Namespace) -> S3Storage:
    from cloudbackup.storage.credentials import CredentialSource
    from cloudbackup.storage.s3 import S3Storage, parse_bucket_url, s3_client

    bucket, prefix = parse_bucket_url(str(setting(args, "backup_bucket")))
    region = region_setting(args)
    if not region:
        raise UsageError(
            "--backup-bucket needs --backup-region REGION (the bucket's region, e.g. us-east-1; "
            "or $CLOUDBACKUP_BACKUP_REGION, $AWS_REGION)"
        )
    credential_file = setting(args, "backup_credential")
    profile = setting(args, "backup_profile")
    endpoint = setting(args, "backup_endpoint")
    stray = next((name for name in AWS_ENDPOINT_ENV if os.environ.get(name)), None)
    if endpoint is None and stray:
        raise UsageError(
            f"${stray} is set ({os.environ[stray]}) but no --backup-endpoint: give that endpoint as "
            "--backup-endpoint (or $CLOUDBACKUP_BACKUP_ENDPOINT) to use it, or unset it for AWS"
        )
    client = s3_client(
        region,
        credential_file=credential_file,
        profile=profile,
        endpoint_url=endpoint,
        configured_endpoint=False,
    )
    return S3Storage(
        bucket,
        prefix,
        region=region,
        client=client,
        kms_key_id=getattr(args, "kms_key_id", None),
        credentials=CredentialSource(credential_file, profile).describe(),
        endpoint_url=endpoint,
        region_from=region_variable(args),
    )
