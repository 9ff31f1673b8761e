"""The bucket the functions write to and read from, through the engine's S3 storage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers.settings import Settings

if TYPE_CHECKING:
    from cloudbackup.storage.base import Storage


def open_store(settings: Settings) -> Storage:
    """S3 storage with the function role's credentials (the default AWS chain)."""
    # Imported on use: the S3 store pulls in boto3, which a cold start should not pay up front.
    from cloudbackup.storage.s3 import S3Storage

    return S3Storage(settings.bucket, settings.prefix, region=settings.region, kms_key_id=settings.kms_key_id)
