"""Restores from S3 (a local S3 endpoint): the whole object in one streamed read, a subset by ranged
reads, and a damaged object refused before anything changes."""

from __future__ import annotations

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.catalog import find_backup
from cloudbackup.errors import IntegrityError
from cloudbackup.restore import restore_backup
from cloudbackup.storage.s3 import S3Storage, s3_client
from tests.fixtures.compare import assert_databases_equal
from tests.integration.restore_helpers import make_shop, schemas_like

pytestmark = pytest.mark.integration


@pytest.fixture
def s3_store(moto_endpoint, s3_bucket):
    client = s3_client("us-east-1", endpoint_url=moto_endpoint)
    return S3Storage(s3_bucket, "restore", region="us-east-1", client=client, endpoint_url=moto_endpoint)


def test_restore_from_s3_whole_and_subset(db_settings, make_database, s3_store):
    # Given a backup in S3
    source = make_database("rs3")
    make_shop(db_settings, source)
    manifest = backup_database(db_settings, source, s3_store, source="test")
    entry = find_backup([s3_store], manifest.id)
    # When it is restored whole, and one table of it alone
    whole, part = make_database("rs3w"), make_database("rs3p")
    restore_backup(db_settings, entry, target_database=whole)
    restore_backup(db_settings, entry, target_database=part, tables=["child"])
    # Then both match the source
    assert_databases_equal(db_settings, source, whole)
    assert_databases_equal(db_settings, source, part, tables=["child"])


def test_a_damaged_s3_object_is_refused(db_settings, make_database, s3_store, aws_client, s3_bucket):
    source = make_database("rs3d")
    make_shop(db_settings, source)
    manifest = backup_database(db_settings, source, s3_store, source="test")
    s3 = aws_client("s3")
    key = "restore/" + manifest.data.key
    body = bytearray(s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0x20
    s3.put_object(Bucket=s3_bucket, Key=key, Body=bytes(body))
    entry = find_backup([s3_store], manifest.id)
    with pytest.raises(IntegrityError):
        restore_backup(db_settings, entry, target_database=source + "_x")
    assert schemas_like(db_settings, source + "_x") == []
