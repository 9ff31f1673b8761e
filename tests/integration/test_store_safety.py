"""Nothing lost by a prune or a planted manifest: prune works in one store, and a manifest is trusted only
at its own key with its own data object beside it."""

import contextlib
import dataclasses
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloudbackup.binlog.segments import SegmentIndex, index_key
from cloudbackup.binlog.status import binlog_status
from cloudbackup.catalog import CatalogEntry, delete_backup, find_backup, list_backups, prune
from cloudbackup.cli import stores as cli_stores
from cloudbackup.cli.main import main
from cloudbackup.errors import OperationError
from cloudbackup.format.keys import backup_stem, data_key, manifest_key
from cloudbackup.format.manifest import SnapshotPosition
from cloudbackup.storage.s3 import S3Storage, s3_client
from cloudbackup.storage.s3_upload import MIN_PART_SIZE
from tests.fixtures.faulty_proxy import Fault
from tests.fixtures.mariadb import admin_connect, db_url
from tests.fixtures.stores import NOW, make_manifest, put_backup, storage_flags

# -- prune works on the one store it is pointed at -----------------------------------------------------


def test_prune_with_a_bucket_never_deletes_the_only_s3_copy_for_a_newer_local_one(
    local_store, s3_store, moto_endpoint, capsys
):
    # Given the only S3 backup of shop, and a newer one in the local data directory
    in_s3 = put_backup(s3_store, "shop", NOW - timedelta(days=2))
    in_local = put_backup(local_store, "shop", NOW - timedelta(days=1))
    flags = storage_flags(local_store, s3_store, moto_endpoint)
    # When prune keeps the last 1, with the bucket flags and --data (a dry run first, in JSON)
    assert main(["prune", "--keep-last", "1", "--dry-run", "--json", *flags]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert (planned["store"], planned["deleted"]) == (s3_store.describe(), [])
    assert main(["prune", "--keep-last", "1", *flags]) == 0
    # Then it pruned the bucket only, where that backup is the newest: both stay
    out = capsys.readouterr().out
    assert f"deleted 0 backup(s), kept 1 in {s3_store.describe()}" in out
    assert [e.id for e in list_backups([s3_store])] == [in_s3.id]
    assert [e.id for e in list_backups([local_store])] == [in_local.id]


def test_prune_without_a_bucket_works_on_the_data_directory_only(local_store, s3_store):
    # Given two local backups and a newer S3 one
    put_backup(local_store, "shop", NOW - timedelta(days=3))
    newest_local = put_backup(local_store, "shop", NOW - timedelta(days=2))
    put_backup(s3_store, "shop", NOW - timedelta(days=1))
    # When the local store is pruned to 1
    assert main(["prune", "--keep-last", "1", "--data", str(local_store.root)]) == 0
    # Then its own newest stays (the S3 one is not its business)
    assert [e.id for e in list_backups([local_store])] == [newest_local.id]
    assert len(list_backups([s3_store])) == 1


def test_the_newest_backup_of_each_source_and_database_in_the_store_is_kept_whatever_the_age(local_store):
    put_backup(local_store, "shop", NOW - timedelta(days=90))
    put_backup(local_store, "shop", NOW - timedelta(days=60), source="crm-db")
    result = prune(local_store, keep_last=None, keep_days=1, now=NOW)
    assert result.deleted == []
    assert len(result.kept) == 2


# -- a manifest's data object is its own -------------------------------------------------------------


def plant(store, source, database, started_at, backup_id, *, data_of, claims_source=None):
    """A manifest at `source`'s key whose data key is another backup's (`data_of`), optionally claiming
    to be of `claims_source` (as an attacker with write access to one source's prefix would write it)."""
    manifest = make_manifest(backup_id, claims_source or source, database, started_at, data_of.data)
    key = manifest_key(backup_stem(source, database, started_at, backup_id))
    store.put_bytes(key, manifest.to_json())
    return manifest, key


@pytest.fixture
def victim_and_planted(local_store):
    """orders-db/shop has one real backup; `planted/shop` has an old and a new manifest pointing at it."""
    victim = put_backup(local_store, "shop", NOW - timedelta(days=5))
    old, old_key = plant(local_store, "planted", "shop", NOW - timedelta(days=9), "bad0001", data_of=victim)
    plant(local_store, "planted", "shop", NOW - timedelta(days=8), "bad0002", data_of=victim)
    return victim, old, old_key


def test_list_refuses_a_manifest_pointing_at_another_backups_data(local_store, victim_and_planted, capsys):
    victim, _old, old_key = victim_and_planted
    # When the store is listed
    assert main(["list", "--json", "--data", str(local_store.root)]) == 0
    captured = capsys.readouterr()
    # Then the planted manifests are not listed, and stderr says which and why (one line each)
    assert '"bad0001"' not in captured.out
    assert victim.id in captured.out
    refused = [line for line in captured.err.splitlines() if "refusing" in line]
    assert len(refused) == 2
    assert local_store.location(old_key) in captured.err
    assert f"its data key {victim.data.key!r} is not its own" in captured.err


def test_prune_of_the_planted_source_leaves_the_other_sources_data_alone(local_store, victim_and_planted):
    victim, _old, _key = victim_and_planted
    # When the planted source is pruned to its newest backup
    assert main(["prune", "--keep-last", "1", "--source", "planted", "--data", str(local_store.root)]) == 0
    # Then the victim's data object is still there and still verifies
    assert local_store.get_bytes(victim.data.key)
    assert main(["verify", "--backup", victim.id, "--data", str(local_store.root)]) == 0


def test_a_manifest_claiming_another_source_does_not_push_its_newest_backup_out(local_store):
    # Given the real newest backup of orders-db/shop, and a newer manifest under `planted/` claiming to be
    # orders-db's (pointing at the real one's data)
    real = put_backup(local_store, "shop", NOW - timedelta(days=2))
    plant(
        local_store,
        "planted",
        "shop",
        NOW - timedelta(days=1),
        "bad0003",
        data_of=real,
        claims_source="orders-db",
    )
    # When every source is pruned to 1
    assert main(["prune", "--keep-last", "1", "--data", str(local_store.root)]) == 0
    # Then the real backup is still the newest of orders-db/shop, and `latest` picks it
    assert [e.id for e in list_backups([local_store])] == [real.id]
    assert find_backup([local_store], "latest", database="shop").id == real.id


def plant_linked(store, victim, started_at, backup_id):
    """A manifest at its own key, of the victim's source and database, whose own data key is a symbolic link
    to the victim's data object (as anyone who can write in the data directory could make it)."""
    stem = backup_stem(victim.source, victim.database, started_at, backup_id)
    link = store.root / data_key(stem, "zstd")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(store.root / victim.data.key, link.parent))
    written = dataclasses.replace(victim.data, key=data_key(stem, "zstd"))
    manifest = make_manifest(backup_id, victim.source, victim.database, started_at, written)
    store.put_bytes(manifest_key(stem), manifest.to_json())
    return manifest, link


def test_a_data_object_linked_to_another_backups_is_never_its_backup_nor_deleted_through(local_store, capsys):
    # Given the newest backup of shop, an older one, and an old manifest whose data key links to the newest's
    older = put_backup(local_store, "shop", NOW - timedelta(days=3))
    newest = put_backup(local_store, "shop", NOW - timedelta(days=1))
    planted, link = plant_linked(local_store, newest, NOW - timedelta(days=300), "bad0004")
    # When the store is listed, and pruned to its newest backup
    assert main(["list", "--json", "--data", str(local_store.root)]) == 0
    listed = [b["id"] for b in json.loads(capsys.readouterr().out)]
    assert main(["prune", "--keep-last", "1", "--data", str(local_store.root)]) == 0
    # Then the linked manifest was never a backup (refused: its own data object is not there), the older
    # backup went, and the newest is whole: its data object was not deleted through the link
    assert listed == [newest.id, older.id]
    assert planted.id not in capsys.readouterr().out
    assert [e.id for e in list_backups([local_store])] == [newest.id]
    assert main(["verify", "--backup", newest.id, "--data", str(local_store.root)]) == 0
    assert link.is_symlink()


def test_deleting_a_key_that_is_a_link_removes_the_link_only(local_store):
    # Given a backup, and a key that is a symbolic link to its data object
    victim = put_backup(local_store, "shop", NOW - timedelta(days=1))
    _planted, link = plant_linked(local_store, victim, NOW - timedelta(days=300), "bad0005")
    # When the link's key is deleted
    local_store.delete(link.relative_to(local_store.root).as_posix())
    # Then the link is gone, and the data object it pointed at is still there
    assert not link.is_symlink()
    assert local_store.get_bytes(victim.data.key)


def test_verify_refuses_a_planted_manifest_by_id(local_store, victim_and_planted, capsys):
    assert main(["verify", "--backup", "bad0001", "--data", str(local_store.root)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "backup bad0001 is refused" in err
    assert "is not its own" in err


def test_restore_refuses_a_planted_manifest_before_touching_the_server(
    local_store, victim_and_planted, db_settings, capsys
):
    target = "cbt_planted_target"
    url = db_url(db_settings)
    code = main(
        [
            "restore",
            "--db-url",
            url,
            "--backup",
            "bad0001",
            "--target-database",
            target,
            "--data",
            str(local_store.root),
        ]
    )
    assert code == 1
    assert "backup bad0001 is refused" in capsys.readouterr().err
    conn = admin_connect(db_settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES LIKE %s", (target,))
            assert cur.fetchall() == ()
    finally:
        conn.close()


def test_delete_refuses_an_entry_whose_data_key_is_not_its_own(local_store):
    # Even an entry built by hand (not from a listing) never deletes another backup's data object
    victim = put_backup(local_store, "shop", NOW - timedelta(days=5))
    manifest, key = plant(local_store, "planted", "shop", NOW, "bad0004", data_of=victim)
    with pytest.raises(OperationError, match="not deleting"):
        delete_backup(CatalogEntry(manifest=manifest, store=local_store, manifest_key=key))
    assert local_store.get_bytes(victim.data.key)


# -- prune on an Object-Locked bucket ------------------------------------------------------------------


@pytest.fixture
def locked_store(moto_endpoint, aws_client):
    """A bucket created with Object Lock, GOVERNANCE for 1 day by default (as the stack's bucket is)."""
    s3 = aws_client("s3")
    bucket = f"cbt-lock-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    client = s3_client("us-east-1", endpoint_url=moto_endpoint)
    return S3Storage(bucket, "", region="us-east-1", client=client, endpoint_url=moto_endpoint)


def test_prune_on_an_object_locked_bucket_says_the_versions_stay_locked(
    locked_store, local_store, moto_endpoint, aws_client, capsys
):
    # Given two backups in a bucket with Object Lock (every version under GOVERNANCE retention)
    put_backup(locked_store, "shop", NOW - timedelta(days=2))
    newest = put_backup(locked_store, "shop", NOW - timedelta(days=1))
    flags = ["--data", str(local_store.root), "--backup-bucket", f"s3://{locked_store.bucket}"]
    flags += ["--backup-region", "us-east-1", "--backup-endpoint", moto_endpoint]
    # When prune keeps the last 1
    assert main(["prune", "--keep-last", "1", *flags]) == 0
    out = capsys.readouterr().out
    # Then the old backup is no longer listed (delete markers), its locked versions stay, and one note says so
    assert [e.id for e in list_backups([locked_store])] == [newest.id]
    assert "the bucket has Object Lock (default retention GOVERNANCE, 1 days)" in out
    versions = aws_client("s3").list_object_versions(Bucket=locked_store.bucket)
    assert len(versions["Versions"]) == 4
    assert len(versions["DeleteMarkers"]) == 2


def test_a_delete_refused_by_object_lock_is_one_line_and_exit_1(
    locked_store, local_store, moto_endpoint, capsys, monkeypatch
):
    # Given a backup whose versions S3 refuses to delete while the lock holds (prune deletes without a
    # version id, which only adds a delete marker; this forces the version delete that the lock refuses)
    put_backup(locked_store, "shop", NOW - timedelta(days=2))
    put_backup(locked_store, "shop", NOW - timedelta(days=1))
    s3 = locked_store.client
    real_delete = s3.delete_object

    def delete_the_version(**kwargs):
        version = s3.head_object(Bucket=kwargs["Bucket"], Key=kwargs["Key"])["VersionId"]
        return real_delete(**kwargs, VersionId=version)

    monkeypatch.setattr(s3, "delete_object", delete_the_version)
    monkeypatch.setattr(cli_stores, "s3_store_from_args", lambda args: locked_store)
    flags = ["--data", str(local_store.root), "--backup-bucket", f"s3://{locked_store.bucket}"]
    flags += ["--backup-region", "us-east-1", "--backup-endpoint", moto_endpoint]
    # When prune tries, Then it fails in one line for the backup (moto says only "Access Denied"; S3's
    # own message maps to "Object Lock protects it", tests/unit/test_s3_errors.py), and nothing is lost
    assert main(["prune", "--keep-last", "1", *flags]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "could not delete" in line]) == 1
    assert "access denied: cannot delete" in err
    assert len(list_backups([locked_store])) == 2


def test_a_multipart_object_and_a_manifest_write_into_an_object_locked_bucket(locked_store, aws_client):
    # Object Lock (the stack's default) needs a checksum on every write: the parts and puts carry SHA-256
    writer = locked_store.open_writer("orders-db/shop/big.sql.zst")
    writer.write(b"x" * (MIN_PART_SIZE + 1))
    assert writer.commit().size == MIN_PART_SIZE + 1
    locked_store.put_bytes("orders-db/shop/big.manifest.json", b"{}")
    # (moto applies the bucket's default retention to PutObject only, not to a completed multipart upload;
    # S3 applies it to every new version)
    head = aws_client("s3").head_object(Bucket=locked_store.bucket, Key="orders-db/shop/big.manifest.json")
    assert head["ObjectLockMode"] == "GOVERNANCE"


# -- a delete that fails half-way ------------------------------------------------------------------------


@contextlib.contextmanager
def undeletable(path: Path) -> Iterator[None]:
    """`path` cannot be deleted inside: its folder read-only, or (root ignores that) the file immutable."""
    if os.geteuid() != 0:
        path.parent.chmod(0o500)
        try:
            yield
        finally:
            path.parent.chmod(0o700)
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False).returncode != 0:
        pytest.skip("running as root on a filesystem without immutable files: nothing refuses a delete")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_local_file_prune_cannot_delete_is_one_line_and_the_rest_is_reported(local_store, capsys):
    # Given three local backups, the oldest one's manifest in a place that refuses deletes
    oldest = put_backup(local_store, "shop", NOW - timedelta(days=3))
    middle = put_backup(local_store, "shop", NOW - timedelta(days=2))
    newest = put_backup(local_store, "shop", NOW - timedelta(days=1))
    stem = backup_stem(oldest.source, oldest.database, oldest.started_at, oldest.id)
    # When prune keeps the last 1
    with undeletable(Path(local_store.location(manifest_key(stem)))):
        code = main(["prune", "--keep-last", "1", "--data", str(local_store.root)])
    out, err = capsys.readouterr()
    # Then it says what it deleted, and in one line (exit 1) what it could not: that backup stays whole
    assert code == 1
    assert f"deleted {middle.id} " in out
    assert "deleted 1 backup(s), kept 1" in out
    assert "internal error" not in err
    refused = [line for line in err.splitlines() if "could not delete" in line]
    assert len(refused) == 1
    assert oldest.id in refused[0]
    assert "cannot delete" in refused[0]
    assert [e.id for e in list_backups([local_store])] == [newest.id, oldest.id]


def test_a_backup_whose_data_object_cannot_be_deleted_is_reported_as_half_deleted(local_store, capsys):
    # Given two local backups, the older one's data object in a place that refuses deletes
    older = put_backup(local_store, "shop", NOW - timedelta(days=2))
    newest = put_backup(local_store, "shop", NOW - timedelta(days=1))
    data = local_store.location(older.data.key)
    # When prune keeps the last 1 (in JSON, as a script reads it)
    with undeletable(Path(data)):
        code = main(["prune", "--keep-last", "1", "--json", "--data", str(local_store.root)])
    out, err = capsys.readouterr()
    # Then the report says the truth: the manifest went (the backup is no longer listed), the data stayed
    assert code == 1
    failed = json.loads(out)["failed"]
    assert [f["id"] for f in failed] == [older.id]
    assert "its manifest is deleted" in failed[0]["error"]
    assert data in failed[0]["error"]
    assert "its manifest is deleted" in err
    assert [e.id for e in list_backups([local_store])] == [newest.id]


def test_a_half_deleted_s3_backup_is_reported_as_such(
    faulty_proxy, s3_bucket, local_store, capsys, monkeypatch
):
    # Given two backups in a bucket that answers every DELETE of the older data object with an error
    client = s3_client("us-east-1", endpoint_url=faulty_proxy.url)
    store = S3Storage(s3_bucket, "p", region="us-east-1", client=client, endpoint_url=faulty_proxy.url)
    older = put_backup(store, "shop", NOW - timedelta(days=2))
    newest = put_backup(store, "shop", NOW - timedelta(days=1))
    faulty_proxy.add(Fault("500", pattern=rf"{older.id}\.sql\.zst", method="DELETE", count=100))
    monkeypatch.setattr(cli_stores, "s3_store_from_args", lambda args: store)
    flags = ["--data", str(local_store.root), "--backup-bucket", f"s3://{s3_bucket}/p"]
    flags += ["--backup-region", "us-east-1", "--backup-endpoint", faulty_proxy.url]
    # When prune keeps the last 1
    code = main(["prune", "--keep-last", "1", *flags])
    err = capsys.readouterr().err
    # Then one line says its manifest is deleted and where its data object is left; it is not listed
    assert code == 1
    refused = [line for line in err.splitlines() if "could not delete" in line]
    assert len(refused) == 1
    assert "its manifest is deleted" in refused[0]
    assert store.location(older.data.key) in refused[0]
    assert [e.id for e in list_backups([store])] == [newest.id]


def test_a_later_prune_deletes_the_data_object_a_half_deleted_backup_left_and_nothing_else(
    local_store, capsys
):
    # Given two backups, and a prune that could delete the older one's manifest but not its data object
    older = put_backup(local_store, "shop", NOW - timedelta(days=3))
    put_backup(local_store, "shop", NOW - timedelta(days=2))
    flags = ["--data", str(local_store.root)]
    orphan = Path(local_store.location(older.data.key))
    with undeletable(orphan):
        assert main(["prune", "--keep-last", "1", *flags]) == 1
    capsys.readouterr()
    # a day later; beside it a backup finishing now (no manifest yet), a backup this version cannot read,
    # and files that are not data objects
    finishing = put_backup(local_store, "shop", NOW - timedelta(days=1), manifest=False)
    newer_format = put_backup(local_store, "shop", NOW - timedelta(hours=36))
    (newer_manifest,) = [p for p in local_store.root.rglob("*.manifest.json") if newer_format.id in p.name]
    newer_manifest.write_text(json.dumps({**json.loads(newer_manifest.read_text()), "format_version": 2}))
    strays = [
        local_store.root / "orders-db/shop/2026/06/10/notes.sql.zst.txt",
        local_store.root / "orders-db/shop/old-dump.sql",
        local_store.root / "orders-db/shop/2026/06/10/20260611T000000Z-abcdef.sql",  # date is not its folder
    ]
    for stray in strays:
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(b"x")
    for path in [orphan, *strays, Path(local_store.location(newer_format.data.key)), newer_manifest]:
        os.utime(path, (0, 0))
    # When a dry run, then a real prune runs
    assert main(["prune", "--keep-last", "1", "--dry-run", "--json", *flags]) == 0
    seen = json.loads(capsys.readouterr().out)["orphaned"]
    assert orphan.exists()
    assert main(["prune", "--keep-last", "1", *flags]) == 0
    out = capsys.readouterr().out
    # Then both name the data object left without a manifest, and only the real run deletes it
    assert [(o["key"], o["location"]) for o in seen] == [(older.data.key, str(orphan))]
    assert f"deleted {orphan}: a data object without a manifest" in out
    assert not orphan.exists()
    # and nothing else is touched: the finishing backup, the unreadable one's data, the other files
    assert Path(local_store.location(finishing.data.key)).exists()
    assert Path(local_store.location(newer_format.data.key)).exists()
    assert all(stray.exists() for stray in strays)


def test_a_data_object_without_a_manifest_is_left_alone_for_a_week(local_store):
    # Given a data object without a manifest, written two days ago: a big backup may upload for longer
    # than a day before it writes its manifest (and S3 dates a multipart object from the upload's start)
    started = datetime.now(UTC) - timedelta(days=2)
    uploading = put_backup(local_store, "shop", started, manifest=False)
    data = Path(local_store.location(uploading.data.key))
    os.utime(data, (started.timestamp(), started.timestamp()))
    # When prune runs now, and again a week later
    now_result = prune(local_store, keep_last=1, keep_days=None, now=datetime.now(UTC))
    assert data.exists()
    later_result = prune(local_store, keep_last=1, keep_days=None, now=started + timedelta(days=8))
    # Then only the second takes it for the leftover of a half-deleted backup
    assert now_result.orphaned == []
    assert [o.key for o in later_result.orphaned] == [uploading.data.key]
    assert not data.exists()


def test_a_later_prune_deletes_the_data_object_a_half_deleted_s3_backup_left(faulty_proxy, s3_bucket):
    # Given two backups in a bucket, and a prune whose DELETE of the older data object failed
    client = s3_client("us-east-1", endpoint_url=faulty_proxy.url)
    store = S3Storage(s3_bucket, "p", region="us-east-1", client=client, endpoint_url=faulty_proxy.url)
    older = put_backup(store, "shop", NOW - timedelta(days=3))
    put_backup(store, "shop", NOW - timedelta(days=2))
    store.put_bytes("orders-db/shop/readme.sql", b"not a backup")
    faulty_proxy.add(Fault("500", pattern=rf"{older.id}\.sql\.zst", method="DELETE", count=100))
    now = datetime.now(UTC)
    assert len(prune(store, keep_last=1, keep_days=None, now=now).failed) == 1
    faulty_proxy.clear()
    # When a week has passed, a dry run and then a real prune run
    later = now + timedelta(days=8)
    seen = prune(store, keep_last=1, keep_days=None, now=later, dry_run=True)
    after_dry_run = {o.key for o in store.list()}
    done = prune(store, keep_last=1, keep_days=None, now=later)
    # Then both report the data object left without a manifest, and only the real run deletes it
    assert [o.key for o in seen.orphaned] == [older.data.key]
    assert older.data.key in after_dry_run
    assert [o.key for o in done.orphaned] == [older.data.key]
    keys = {o.key for o in store.list()}
    assert older.data.key not in keys
    assert "orders-db/shop/readme.sql" in keys
    assert len(list_backups([store])) == 1


# -- the backup a point-in-time restore starts from ----------------------------------------------------


def put_backup_at(store, started_at, snapshot):
    """A backup (put_backup) whose manifest records the binlog position `snapshot`."""
    written = put_backup(store, "shop", started_at, manifest=False)
    m = dataclasses.replace(written, snapshot=snapshot)
    store.put_bytes(manifest_key(backup_stem(m.source, m.database, m.started_at, m.id)), m.to_json())
    return m


def put_archived_segment(store, first_pos, end_pos, first_event, last_event):
    """The index of one archived binlog segment of source orders-db, binlog.000001 [first_pos, end_pos]."""
    index = SegmentIndex(
        seq=0,
        source="orders-db",
        flavour="mysql",
        server_id=1,
        binlog_file="binlog.000001",
        first_pos=first_pos,
        end_pos=end_pos,
        rotated_to=None,
        first_event_time=first_event.isoformat(),
        last_event_time=last_event.isoformat(),
        first_gtid=None,
        last_gtid=None,
        events=100,
        key="orders-db/_binlog/0000000000-feed.binlog",
        size=end_pos - first_pos,
        sha256="0" * 64,
        format_description="",
        archived_at=last_event.isoformat(),
    )
    store.put_bytes(index_key("orders-db", 0), index.to_json())


@pytest.mark.parametrize(
    "newer_snapshot",
    [
        SnapshotPosition(gtid="3e11fa47-71ca-11e1-9e33-c80aa9429562:1-90"),  # no right to read the file
        SnapshotPosition(binlog_file="binlog.000001", binlog_pos=2_000_000),  # the archiver lags behind
    ],
    ids=["no-position", "not-archived-yet"],
)
@pytest.mark.parametrize("store_kind", ["local", "s3"])
def test_prune_keeps_the_backup_the_point_in_time_window_starts_from(
    store_kind, newer_snapshot, request, local_store, moto_endpoint, capsys
):
    # Given a backup whose binlog position the archive holds, and a newer one whose position it does not
    store = request.getfixturevalue(f"{store_kind}_store")
    held = put_backup_at(
        store, NOW - timedelta(days=2), SnapshotPosition(binlog_file="binlog.000001", binlog_pos=1000)
    )
    newer = put_backup_at(store, NOW - timedelta(days=1), newer_snapshot)
    put_archived_segment(store, 4, 900_000, NOW - timedelta(days=3), NOW - timedelta(minutes=5))
    (before,) = binlog_status([store])
    assert before.backup_id == held.id
    flags = (
        storage_flags(local_store, store, moto_endpoint)
        if store_kind == "s3"
        else ["--data", str(local_store.root)]
    )
    # When prune keeps the last 1, dry-run first (in JSON), then for real
    assert main(["prune", "--keep-last", "1", "--dry-run", "--json", *flags]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert main(["prune", "--keep-last", "1", *flags]) == 0
    out = capsys.readouterr().out
    # Then both stay: the newer as the newest, the older as the one a restore --to-time now starts from
    assert planned["deleted"] == []
    assert sorted(b["id"] for b in planned["kept"]) == sorted([held.id, newer.id])
    assert any(held.id in note and "binlog position is archived" in note for note in planned["notes"])
    assert "deleted 0 backup(s), kept 2" in out
    assert f"note: kept {held.id} " in out
    assert [e.id for e in list_backups([store])] == [newer.id, held.id]
    (after,) = binlog_status([store])
    assert (after.backup_id, after.recoverable_from) == (held.id, before.recoverable_from)


def test_prune_reads_the_archive_only_when_it_would_delete_a_backup_a_replay_could_start_from(local_store):
    # Given an archive with a damaged index, and two backups of which only the older one records no
    # binlog position (so no rule could delete a backup a point-in-time restore might start from)
    store = local_store
    older = put_backup_at(
        store, NOW - timedelta(days=2), SnapshotPosition(gtid="3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9")
    )
    newer = put_backup_at(
        store, NOW - timedelta(days=1), SnapshotPosition(binlog_file="binlog.000001", binlog_pos=1000)
    )
    store.put_bytes(index_key("orders-db", 0), b"{ not an index")
    # When prune keeps the last 1
    result = prune(store, keep_last=1, keep_days=None, now=NOW)
    # Then the older backup goes without the archive being read (it could not have kept it)
    assert [e.id for e in result.deleted] == [older.id]
    assert [e.id for e in result.kept] == [newer.id]
    # And when the older backup is one a replay could start from, the damaged archive stops the prune
    # before anything is deleted, rather than deleting what a point-in-time restore may need
    oldest = put_backup_at(
        store, NOW - timedelta(days=3), SnapshotPosition(binlog_file="binlog.000001", binlog_pos=10)
    )
    with pytest.raises(OperationError, match="is not a binlog segment index"):
        prune(store, keep_last=1, keep_days=None, now=NOW)
    assert sorted(e.id for e in list_backups([store])) == sorted([newer.id, oldest.id])


def test_a_dead_write_prune_cannot_remove_is_a_warning_and_the_deletions_are_reported(
    local_store, capsys, caplog
):
    # Given two local backups, and the half-written file of a backup killed days ago, which refuses deletes
    older = put_backup(local_store, "shop", NOW - timedelta(days=2))
    put_backup(local_store, "shop", NOW - timedelta(days=1))
    key = f"{older.source}/shop/2026/06/10/20260610T000000Z-dead00000001.sql.zst"
    local_store.open_writer(key).write(b"x" * 1000)  # never committed nor aborted: killed
    dead = Path(local_store.location(key) + ".partial")
    os.utime(dead, (0, 0))
    # When prune keeps the last 1
    with undeletable(dead):
        code = main(["prune", "--keep-last", "1", "--data", str(local_store.root)])
    out, err = capsys.readouterr()
    # Then the deleted backup is reported, and one warning line names the file it could not remove
    assert code == 0
    assert f"deleted {older.id} " in out
    assert "removed" not in out
    assert "internal error" not in err
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1
    assert str(dead) in warned[0]
    assert dead.exists()


def test_a_prune_whose_look_for_leftovers_fails_still_reports_its_deletions(faulty_proxy, s3_bucket, caplog):
    # Given two backups in a bucket, and S3 failing every listing after the first (the catalog's)
    client = s3_client("us-east-1", endpoint_url=faulty_proxy.url, max_attempts=2)
    store = S3Storage(s3_bucket, "p", region="us-east-1", client=client, endpoint_url=faulty_proxy.url)
    older = put_backup(store, "shop", NOW - timedelta(days=3))
    newer = put_backup(store, "shop", NOW - timedelta(days=2))
    faulty_proxy.add(Fault("503", pattern=r"list-type=2", method="GET", skip=1, count=1000))
    # When prune keeps the last 1
    result = prune(store, keep_last=1, keep_days=None, now=datetime.now(UTC))
    # Then the deletion it made is in its result (what the CLI reports), and one warning line says
    # that the look for data objects left without a manifest failed
    assert [e.id for e in result.deleted] == [older.id]
    assert result.failed == []
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1
    assert "SlowDown" in warned[0]
    assert "\n" not in warned[0]
    faulty_proxy.clear()
    assert [e.id for e in list_backups([store])] == [newer.id]
