"""Restores from S3 (a local S3 endpoint): the whole object in one streamed read, a subset by ranged
reads, a damaged object refused before anything changes, and an object S3 will not give back named as
such (never as a damaged backup)."""

from __future__ import annotations

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.catalog import find_backup
from cloudbackup.errors import IntegrityError, OperationError
from cloudbackup.restore import restore_backup
from cloudbackup.storage.s3 import S3Storage, s3_client
from cloudbackup.verify import verify_backup
from tests.fixtures.compare import assert_databases_equal
from tests.fixtures.faulty_proxy import Fault
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
    restore_backup(db_settings, entry, target_database=part, tables=["child", "audit"])
    # Then both match the source
    assert_databases_equal(db_settings, source, whole)
    assert_databases_equal(db_settings, source, part, tables=["child", "audit"])


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


def test_a_download_s3_keeps_refusing_is_a_read_failure_not_a_damaged_backup(
    db_settings, make_database, s3_bucket, faulty_proxy
):
    # Given an intact backup in S3, and S3 answering 503 SlowDown to every read of its data object
    source = make_database("rs3f")
    make_shop(db_settings, source)
    client = s3_client("us-east-1", endpoint_url=faulty_proxy.url, max_attempts=2)
    store = S3Storage(s3_bucket, "restore", region="us-east-1", client=client, endpoint_url=faulty_proxy.url)
    manifest = backup_database(db_settings, source, store, source="test")
    entry = find_backup([store], manifest.id)
    faulty_proxy.add(Fault("503", pattern=r"\.sql\.zst", method="GET", count=1000))
    # When it is verified, and restored
    with pytest.raises(OperationError) as verified:
        verify_backup(entry)
    with pytest.raises(OperationError) as restored:
        restore_backup(db_settings, entry, target_database=source + "_x")
    # Then both say S3 could not be read, in one line, and never that the backup is damaged
    for failure in (verified.value, restored.value):
        assert not isinstance(failure, IntegrityError), failure
        assert f"cannot read {store.location(manifest.data.key)}" in str(failure)
        assert "SlowDown" in str(failure)
        assert "\n" not in str(failure)
    # And nothing was created on the server
    assert schemas_like(db_settings, source + "_x") == []


def test_a_data_object_moved_to_glacier_is_named_as_unreadable_not_damaged(
    db_settings, make_database, s3_store, aws_client, s3_bucket
):
    # Given a backup whose data object a lifecycle rule moved to the GLACIER storage class
    source = make_database("rs3g")
    make_shop(db_settings, source)
    manifest = backup_database(db_settings, source, s3_store, source="test")
    key = "restore/" + manifest.data.key
    aws_client("s3").copy_object(
        Bucket=s3_bucket, Key=key, CopySource={"Bucket": s3_bucket, "Key": key}, StorageClass="GLACIER"
    )
    entry = find_backup([s3_store], manifest.id)
    # When it is restored
    with pytest.raises(OperationError) as info:
        restore_backup(db_settings, entry, target_database=source + "_x")
    # Then the error names the object and S3's reason (its storage class), not a damaged backup
    assert not isinstance(info.value, IntegrityError), info.value
    assert f"cannot read {s3_store.location(manifest.data.key)}" in str(info.value)
    assert "InvalidObjectState" in str(info.value)
    assert schemas_like(db_settings, source + "_x") == []
