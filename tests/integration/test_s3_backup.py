"""Backups to S3 with the operator's flags, through the real CLI and engine, against the local endpoint."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.catalog import list_backups, prune
from cloudbackup.errors import OperationError
from cloudbackup.storage.s3 import S3Storage, s3_client
from tests.fixtures.aws import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, write_key_file
from tests.fixtures.faulty_proxy import Fault
from tests.fixtures.mariadb import admin_connect, db_url
from tests.fixtures.processes import stop


def cli(*args):
    result = subprocess.run(
        [sys.executable, "-m", "cloudbackup.cli.main", *args], capture_output=True, text=True, timeout=300
    )
    assert TEST_SECRET_ACCESS_KEY not in result.stdout + result.stderr
    return result


def fill(settings, database, *, rows=2000, blob_bytes=0):
    """A small table, plus (when asked) incompressible blobs so the dump spans several S3 parts."""
    with admin_connect(settings, database) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(8,2))")
        cur.executemany(
            "INSERT INTO items VALUES (%s, %s, %s)", [(i, f"item-{i}", i * 1.25) for i in range(rows)]
        )
        if blob_bytes:
            cur.execute("CREATE TABLE blobs (id INT PRIMARY KEY, b LONGBLOB)")
            chunk = 256 * 1024
            for i in range(blob_bytes // chunk):
                cur.execute("INSERT INTO blobs VALUES (%s, %s)", (i, os.urandom(chunk)))


def table_rows(settings, database, table="items"):
    with admin_connect(settings, database) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM `{table}` ORDER BY 1")
        return cur.fetchall()


def restore(settings, backup, database, target, flags):
    result = cli(
        "restore", "--db-url", db_url(settings), "--backup", backup, "--database", database,
        "--target-database", target, "--json", *flags,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def creds_file(tmp_path, moto_endpoint):
    return write_key_file(tmp_path / "aws-credentials", TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY)


def s3_flags(bucket, endpoint, creds_file, prefix="prod"):
    return [
        "--backup-bucket",
        f"s3://{bucket}/{prefix}",
        "--backup-region",
        "us-east-1",
        "--backup-credential",
        creds_file,
        "--backup-endpoint",
        endpoint,
    ]


def test_backup_with_the_operators_flags_lands_in_s3_and_lists(
    db_settings, make_database, tmp_path, s3_bucket, moto_endpoint, creds_file, aws_client
):
    # Given a database and the operator's flags with a generated credentials file
    database = make_database("s3cli")
    fill(db_settings, database)
    flags = [*s3_flags(s3_bucket, moto_endpoint, creds_file), "--data", str(tmp_path / "data")]
    # When it is backed up through the CLI
    backup = cli("backup", "--db-url", db_url(db_settings), "--database", database, "--json", *flags)
    assert backup.returncode == 0, backup.stderr
    made = json.loads(backup.stdout)[0]
    # Then list --json shows it in S3 with the documented fields
    listed = cli("list", "--json", "--database", database, *flags)
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [(e["id"], e["store"], e["tables"]) for e in entries] == [(made["id"], "s3", 1)]
    assert entries[0]["location"].startswith(f"s3://{s3_bucket}/prod/")
    # And the object in the bucket has the size and SHA-256 the manifest records
    key = entries[0]["location"].removeprefix(f"s3://{s3_bucket}/")
    body = aws_client("s3").get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    assert (len(body), hashlib.sha256(body).hexdigest()) == (entries[0]["size"], entries[0]["sha256"])
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.json"))
    # And restoring `latest` through the CLI with the same flags gives back every row
    target = database + "_restored"
    restored = restore(db_settings, "latest", database, target, flags)
    assert restored["backup_id"] == made["id"]
    assert table_rows(db_settings, target) == table_rows(db_settings, database)


def test_local_backups_stay_listed_after_the_switch_and_new_ones_go_to_s3(
    db_settings, make_database, tmp_path, s3_bucket, moto_endpoint, creds_file
):
    database = make_database("switch")
    fill(db_settings, database, rows=50)
    data = ["--data", str(tmp_path / "data")]
    url = db_url(db_settings)
    # Given a backup made to the local data directory
    first = cli("backup", "--db-url", url, "--database", database, "--json", *data)
    assert first.returncode == 0, first.stderr
    local_id = json.loads(first.stdout)[0]["id"]
    # When the operator switches to S3 and backs up again
    flags = [*data, *s3_flags(s3_bucket, moto_endpoint, creds_file)]
    second = cli("backup", "--db-url", url, "--database", database, "--json", *flags)
    assert second.returncode == 0, second.stderr
    s3_id = json.loads(second.stdout)[0]["id"]
    # Then the new backup went to S3, and both are listed, labelled, newest first
    listed = json.loads(cli("list", "--json", "--database", database, *flags).stdout)
    assert [(e["id"], e["store"]) for e in listed] == [(s3_id, "s3"), (local_id, "local")]
    assert listed[1]["location"].startswith(str(tmp_path / "data"))
    # And without --backup-bucket only the local one is seen
    local_only = json.loads(cli("list", "--json", "--database", database, *data).stdout)
    assert [e["id"] for e in local_only] == [local_id]
    # And with S3 configured, the earlier local backup is still restorable by id, as is the S3 one
    with admin_connect(db_settings, database) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM items WHERE id >= 25")  # so the two backups differ
    third = cli("backup", "--db-url", url, "--database", database, "--json", *flags)
    assert third.returncode == 0, third.stderr
    restore(db_settings, local_id, database, database + "_local", flags)
    assert len(table_rows(db_settings, database + "_local")) == 50
    restore(db_settings, "latest", database, database + "_s3", flags)
    assert table_rows(db_settings, database + "_s3") == table_rows(db_settings, database)
    assert len(table_rows(db_settings, database + "_s3")) == 25


def test_a_part_upload_that_never_completes_leaves_no_backup(
    db_settings, make_database, s3_bucket, faulty_proxy, aws_client
):
    # Given a database whose dump needs several S3 parts, and part 2 hanging on every attempt
    database = make_database("hang")
    fill(db_settings, database, rows=10, blob_bytes=12 * 1024 * 1024)
    faulty_proxy.add(Fault("hang", pattern=r"partNumber=2\b", method="PUT", count=100, hang_seconds=30))
    client = s3_client("us-east-1", endpoint_url=faulty_proxy.url, read_timeout=1, max_attempts=2)
    store = S3Storage(s3_bucket, "prod", region="us-east-1", client=client, endpoint_url=faulty_proxy.url)
    # When the engine backs it up
    with pytest.raises(OperationError) as info:
        backup_database(db_settings.with_database(database), database, store, source="hang-test")
    # Then the failure is one line naming the bucket, the upload was aborted, and nothing is listed
    assert f"bucket {s3_bucket}" in str(info.value)
    assert len(faulty_proxy.applied("hang")) == 2
    s3 = aws_client("s3")
    assert s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert s3.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0
    assert list_backups([store]) == []


def test_a_multipart_backup_survives_503s_and_resets(
    db_settings, make_database, s3_bucket, faulty_proxy, aws_client
):
    database = make_database("flaky")
    fill(db_settings, database, rows=10, blob_bytes=12 * 1024 * 1024)
    faulty_proxy.add(Fault("503", pattern=r"partNumber=1\b", method="PUT", count=2))
    faulty_proxy.add(Fault("reset", pattern=r"partNumber=2\b", method="PUT", count=1))
    faulty_proxy.add(Fault("503", pattern=r"manifest\.json$", method="PUT", count=1))
    client = s3_client("us-east-1", endpoint_url=faulty_proxy.url)
    store = S3Storage(s3_bucket, "prod", region="us-east-1", client=client, endpoint_url=faulty_proxy.url)
    manifest = backup_database(db_settings.with_database(database), database, store, source="flaky")
    assert len(faulty_proxy.applied("503")) == 3
    assert len(faulty_proxy.applied("reset")) == 1
    [entry] = list_backups([store])
    assert entry.id == manifest.id
    digest = hashlib.sha256()
    for chunk in store.iter_range(manifest.data.key):
        digest.update(chunk)
    assert digest.hexdigest() == manifest.data.sha256
    head = aws_client("s3").head_object(Bucket=s3_bucket, Key=f"prod/{manifest.data.key}")
    assert int(head["ETag"].strip('"').rsplit("-", 1)[1]) >= 2  # a multipart object


def test_a_small_backup_whose_upload_answer_is_lost_is_written_once_and_listed(
    db_settings, make_database, s3_bucket, faulty_proxy, aws_client
):
    # Given a database whose dump is one PutObject, and the answer to that PutObject lost on the way
    # back (S3 stored the object; the connection dropped before the client heard so)
    database = make_database("lost")
    fill(db_settings, database, rows=50)
    faulty_proxy.add(Fault("lose_reply", pattern=r"\.sql\.zst$", method="PUT", count=1))
    client = s3_client("us-east-1", endpoint_url=faulty_proxy.url)
    store = S3Storage(s3_bucket, "prod", region="us-east-1", client=client, endpoint_url=faulty_proxy.url)
    # When the engine backs it up
    manifest = backup_database(db_settings.with_database(database), database, store, source="lost")
    # Then the retry found its own object: the backup is listed, and its data is what the dump wrote
    assert len(faulty_proxy.applied("lose_reply")) == 1
    [entry] = list_backups([store])
    assert entry.id == manifest.id
    assert hashlib.sha256(store.get_bytes(manifest.data.key)).hexdigest() == manifest.data.sha256
    # And S3 holds one version of it: nothing was written twice
    versions = aws_client("s3").list_object_versions(Bucket=s3_bucket, Prefix=f"prod/{manifest.data.key}")
    assert len(versions["Versions"]) == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_backup_stopped_mid_upload_aborts_it_and_leaves_nothing(
    db_settings, make_database, tmp_path, s3_bucket, faulty_proxy, creds_file, aws_client, signum
):
    # Given a backup through the CLI whose second part hangs at S3
    database = make_database("killed")
    fill(db_settings, database, rows=10, blob_bytes=12 * 1024 * 1024)
    faulty_proxy.add(Fault("hang", pattern=r"partNumber=2\b", method="PUT", count=100, hang_seconds=60))
    flags = [*s3_flags(s3_bucket, faulty_proxy.url, creds_file), "--data", str(tmp_path / "data")]
    command = [sys.executable, "-m", "cloudbackup.cli.main", "backup", "--db-url", db_url(db_settings)]
    process = subprocess.Popen(
        [*command, "--database", database, *flags],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not faulty_proxy.applied("hang") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert faulty_proxy.applied("hang"), "the upload never reached part 2"
    # When the operator (or the container runtime) stops it
    seconds, _, stderr = stop(process, signum, timeout=30)
    # Then it exits promptly, saying nothing half-written was kept, and S3 holds nothing of it
    assert seconds < 15
    assert process.returncode == 130, stderr
    assert "nothing half-written was kept" in stderr
    s3 = aws_client("s3")
    assert s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert s3.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0


def test_a_manifest_written_whose_answers_are_lost_never_leaves_a_backup_without_its_data(
    db_settings, make_database, s3_bucket, faulty_proxy, aws_client
):
    # Given S3 that stores the manifest but loses the answer, then fails every retry of it with 500
    database = make_database("lostmanifest")
    fill(db_settings, database, rows=20)
    faulty_proxy.add(Fault("lose_reply", pattern=r"manifest\.json$", method="PUT", count=1))
    faulty_proxy.add(Fault("500", pattern=r"manifest\.json$", method="PUT", count=100))
    client = s3_client("us-east-1", endpoint_url=faulty_proxy.url)
    store = S3Storage(s3_bucket, "prod", region="us-east-1", client=client, endpoint_url=faulty_proxy.url)
    # When the engine backs it up
    with pytest.raises(OperationError, match=r"cannot write .*manifest\.json: InternalError"):
        backup_database(db_settings.with_database(database), database, store, source="lost")
    # Then the failed backup is gone whole: no manifest is left pointing at a deleted data object
    faulty_proxy.clear()
    assert aws_client("s3").list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0
    assert list_backups([store]) == []


@pytest.mark.parametrize(
    ("written_by", "blob_bytes"),
    [("CompleteMultipartUpload", 12 * 1024 * 1024), ("PutObject", 0)],
    ids=["multipart", "single-put"],
)
def test_a_backup_stopped_right_after_its_data_object_is_written_leaves_nothing_listed(
    db_settings, make_database, s3_bucket, moto_endpoint, aws_client, written_by, blob_bytes
):
    # Given a backup to a versioned bucket, stopped (SIGINT/SIGTERM: KeyboardInterrupt) the moment S3
    # has made its data object whole, before the manifest is written
    database = make_database("stopcommit")
    fill(db_settings, database, rows=20, blob_bytes=blob_bytes)
    client = s3_client("us-east-1", endpoint_url=moto_endpoint)

    def stopped(**_):
        client.meta.events.unregister(f"after-call.s3.{written_by}", stopped)  # the data object's only
        raise KeyboardInterrupt

    client.meta.events.register(f"after-call.s3.{written_by}", stopped)
    store = S3Storage(s3_bucket, "prod", region="us-east-1", client=client, endpoint_url=moto_endpoint)
    # When the engine backs it up
    with pytest.raises(KeyboardInterrupt):
        backup_database(db_settings.with_database(database), database, store, source="stopcommit")
    # Then no object of it is current (the data's delete marker hides it), nothing is listed, and prune
    # finds nothing to delete or sweep
    s3 = aws_client("s3")
    assert s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert s3.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0
    assert list_backups([store]) == []
    pruned = prune(store, keep_last=1, keep_days=None, now=datetime.now(UTC) + timedelta(days=400))
    assert (pruned.deleted, pruned.failed, pruned.abandoned, pruned.orphaned) == ([], [], [], [])
