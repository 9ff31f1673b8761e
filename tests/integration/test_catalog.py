"""The catalog over both stores: labelled listing, latest, incomplete backups hidden, and prune."""

import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloudbackup.catalog import (
    CatalogEntry,
    delete_backup,
    find_backup,
    latest_per_database,
    list_backups,
    plan_prune,
    prune,
    scan_backups,
)
from cloudbackup.cli.main import main
from cloudbackup.errors import OperationError, UsageError
from cloudbackup.storage.base import WrittenObject
from cloudbackup.storage.local import LocalStorage
from cloudbackup.storage.s3 import S3Storage, s3_client
from tests.fixtures.faulty_proxy import Fault
from tests.fixtures.stores import NOW, make_manifest, put_backup, storage_flags


def test_both_stores_are_listed_newest_first_and_labelled(local_store, s3_store):
    # Given two old local backups and a newer one in S3
    put_backup(local_store, "shop", NOW - timedelta(days=3))
    put_backup(local_store, "crm", NOW - timedelta(days=2))
    put_backup(s3_store, "shop", NOW - timedelta(days=1))
    # When both stores are listed
    entries = list_backups([s3_store, local_store])
    # Then all three come back, newest first, each with its own store and location
    assert [(e.manifest.database, e.store.kind) for e in entries] == [
        ("shop", "s3"),
        ("crm", "local"),
        ("shop", "local"),
    ]
    assert entries[0].summary()["location"].startswith(f"s3://{s3_store.bucket}/team/backups/orders-db/shop/")
    assert entries[1].summary()["location"].startswith(str(local_store.root))
    assert [e.manifest.database for e in latest_per_database(entries)] == ["shop", "crm"]
    assert latest_per_database(entries)[0].store is s3_store


def test_incomplete_backups_are_never_listed(local_store, s3_store, aws_client):
    put_backup(s3_store, "shop", NOW, manifest=False)  # data object only: the manifest never came
    put_backup(local_store, "shop", NOW, manifest=False)
    s3 = aws_client("s3")
    s3.create_multipart_upload(Bucket=s3_store.bucket, Key="team/backups/orders-db/shop/x.sql.zst")
    s3.put_object(
        Bucket=s3_store.bucket, Key="team/backups/orders-db/shop/bad.manifest.json", Body=b"{not json"
    )
    assert list_backups([s3_store, local_store]) == []


def test_list_json_through_the_cli_has_the_documented_fields(local_store, s3_store, moto_endpoint, capsys):
    put_backup(local_store, "shop", NOW - timedelta(days=1))
    put_backup(s3_store, "shop", NOW)
    assert main(["list", "--json", *storage_flags(local_store, s3_store, moto_endpoint)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [b["store"] for b in listed] == ["s3", "local"]
    for field in (
        "id",
        "database",
        "created_at",
        "store",
        "location",
        "size",
        "sha256",
        "compression",
        "tables",
    ):
        assert all(field in b for b in listed), field
    assert listed[0]["created_at"] == "2026-06-15T12:00:00Z"
    assert listed[0]["location"].startswith("s3://")
    assert listed[1]["location"].startswith("/")


def test_list_table_for_humans_marks_the_latest(local_store, s3_store, moto_endpoint, capsys):
    put_backup(local_store, "shop", NOW - timedelta(days=1))
    put_backup(s3_store, "shop", NOW)
    assert main(["list", "--database", "shop", *storage_flags(local_store, s3_store, moto_endpoint)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["CREATED", "(UTC)", "STORE"]
    assert "s3" in lines[1].split()
    assert " *" in lines[1]
    assert "local" in lines[2].split()
    assert " *" not in lines[2]


def test_plan_keeps_last_n_per_source_and_database_and_always_the_newest():
    local = LocalStorage("/nonexistent")
    entries = []
    for source, database, days in [("a", "shop", 1), ("a", "shop", 5), ("a", "shop", 9), ("b", "shop", 30)]:
        written = WrittenObject(key="k", size=1, sha256="0" * 64)
        m = make_manifest(f"{source}{days:04d}00", source, database, NOW - timedelta(days=days), written)
        entries.append(CatalogEntry(manifest=m, store=local, manifest_key="k.manifest.json"))
    delete, _keep = plan_prune(entries, keep_last=2, keep_days=None, now=NOW)
    assert [e.id for e in delete] == ["a000900"]
    delete, _keep = plan_prune(entries, keep_last=None, keep_days=3, now=NOW)
    # b's only backup is 30 days old but it is b's newest: kept
    assert sorted(e.id for e in delete) == ["a000500", "a000900"]
    delete, _keep = plan_prune(entries, keep_last=1, keep_days=6, now=NOW)
    assert [e.id for e in delete] == ["a000900"]
    for bad in (
        {"keep_last": None, "keep_days": None},
        {"keep_last": 0, "keep_days": None},
        {"keep_last": None, "keep_days": -1},
    ):
        with pytest.raises(UsageError):
            plan_prune(entries, now=NOW, **bad)


def test_partial_backups_never_push_the_full_ones_out_of_keep_last():
    # Given one full backup and, after it, three schema-only ones of the same database
    local = LocalStorage("/nonexistent")
    written = WrittenObject(key="k", size=1, sha256="0" * 64)
    entries = []
    for days, schema_only in [(9, False), (3, True), (2, True), (1, True)]:
        m = make_manifest(f"x{days:04d}00", "a", "shop", NOW - timedelta(days=days), written)
        m = dataclasses.replace(m, schema_only=schema_only)
        entries.append(CatalogEntry(manifest=m, store=local, manifest_key="k.manifest.json"))
    # When pruned to the newest two
    delete, _keep = plan_prune(entries, keep_last=2, keep_days=None, now=NOW)
    # Then the only full backup stays (a restore of `latest` needs it); the oldest partial goes
    assert [e.id for e in delete] == ["x000300"]


@pytest.mark.parametrize("rules", [{"keep_last": 1, "keep_days": None}, {"keep_last": None, "keep_days": 0}])
def test_a_backup_dated_in_the_future_never_pushes_out_the_newest_real_one(local_store, rules):
    # Given the newest backup of an hour ago, an older one, and one whose clock said a year from now
    newest = put_backup(local_store, "shop", NOW - timedelta(hours=1))
    older = put_backup(local_store, "shop", NOW - timedelta(days=3))
    future = put_backup(local_store, "shop", NOW + timedelta(days=365))
    # When prune keeps only the newest (by count, or by an age of 0 days)
    seen = prune(local_store, now=NOW, dry_run=True, **rules)
    done = prune(local_store, now=NOW, **rules)
    # Then only the older one goes: the newest of an hour ago stays, and so does the future-dated one
    assert [e.id for e in seen.deleted] == [e.id for e in done.deleted] == [older.id]
    assert [e.id for e in list_backups([local_store])] == [future.id, newest.id]


def test_prune_deletes_the_manifest_before_the_data_object(local_store):
    put_backup(local_store, "shop", NOW - timedelta(days=2))
    entry = list_backups([local_store])[0]
    calls = []
    real_delete = local_store.delete

    def recording_delete(key):
        calls.append(key)
        real_delete(key)

    local_store.delete = recording_delete
    delete_backup(entry)
    assert calls == [entry.manifest_key, entry.manifest.data.key]
    assert list(local_store.list()) == []


def test_a_failed_data_delete_leaves_the_backup_unlisted_not_half_listed(local_store):
    put_backup(local_store, "shop", NOW - timedelta(days=9))
    put_backup(local_store, "shop", NOW)
    old = list_backups([local_store])[1]

    def failing_delete(key):
        if key == old.manifest.data.key:
            raise OperationError("disk says no")
        LocalStorage.delete(local_store, key)

    local_store.delete = failing_delete
    result = prune(local_store, keep_last=1, keep_days=None, now=NOW)
    assert [e.id for e, _ in result.failed] == [old.id]
    assert len(list_backups([local_store])) == 1
    assert old.id not in [e.id for e in list_backups([local_store])]


def test_prune_on_a_versioned_bucket_says_old_versions_stay_recoverable(
    local_store, s3_store, moto_endpoint, capsys, aws_client
):
    # Given three S3 backups of shop and one older local one of the same source
    for days in (1, 2, 3):
        put_backup(s3_store, "shop", NOW - timedelta(days=days))
    put_backup(local_store, "shop", NOW - timedelta(days=10))
    flags = storage_flags(local_store, s3_store, moto_endpoint)
    # When a dry run keeps the last 2, nothing goes
    assert main(["prune", "--keep-last", "2", "--dry-run", *flags]) == 0
    out = capsys.readouterr().out
    assert "would delete 1 backup(s), kept 2" in out
    assert "backups deleted by a real run stay recoverable" in out
    assert len(list_backups([s3_store, local_store])) == 4
    # When the real run keeps the last 2
    assert main(["prune", "--keep-last", "2", *flags]) == 0
    out = capsys.readouterr().out
    # Then the oldest S3 one is gone (prune works on the bucket only), and S3 keeps old versions
    assert "deleted 1 backup(s), kept 2" in out
    remaining = list_backups([s3_store, local_store])
    assert [(e.store.kind, e.manifest.started_at.day) for e in remaining] == [
        ("s3", 14),
        ("s3", 13),
        ("local", 5),
    ]
    assert "the bucket is versioned; deleted backups stay recoverable as non-current versions" in out
    versions = aws_client("s3").list_object_versions(Bucket=s3_store.bucket)
    assert len(versions["DeleteMarkers"]) == 2  # manifest + data object of the pruned S3 backup


def test_prune_needs_a_rule(local_store, capsys):
    assert main(["prune", "--data", str(local_store.root)]) == 2
    assert "--keep-last" in capsys.readouterr().err


def test_an_unreadable_newest_manifest_stops_latest_instead_of_picking_an_older_one(s3_bucket, faulty_proxy):
    # Given two backups, and S3 failing every read of the newer one's manifest
    client = s3_client("us-east-1", endpoint_url=faulty_proxy.url, max_attempts=2)
    store = S3Storage(s3_bucket, "p", region="us-east-1", client=client, endpoint_url=faulty_proxy.url)
    put_backup(store, "shop", NOW - timedelta(days=1))
    newer = put_backup(store, "shop", NOW)
    faulty_proxy.add(Fault("503", pattern=rf"{newer.id}\.manifest\.json$", method="GET", count=100))
    # When `latest` is looked up, Then it fails rather than restoring the older backup
    with pytest.raises(OperationError, match="SlowDown"):
        find_backup([store], "latest", database="shop")


def test_a_manifest_deleted_after_the_listing_is_skipped(local_store):
    put_backup(local_store, "shop", NOW - timedelta(days=1))
    put_backup(local_store, "shop", NOW)
    newest = list_backups([local_store])[0]
    real_read = local_store.iter_range  # (a manifest is streamed, its size capped as it is read)

    def read_after_prune(key, start=0, length=None):
        if key == newest.manifest_key:
            LocalStorage.delete(local_store, key)  # a concurrent prune got there first
        return real_read(key, start, length)

    local_store.iter_range = read_after_prune
    entries = list_backups([local_store])  # listed two manifests, one vanished before it was read
    assert len(entries) == 1
    assert entries[0].id != newest.id


@pytest.mark.parametrize("damage", ["gone", "cut short"])
@pytest.mark.parametrize("store_kind", ["local", "s3"])
def test_a_backup_whose_data_object_is_gone_or_cut_short_is_refused_and_latest_picks_the_one_before(
    local_store, s3_store, store_kind, damage
):
    # Given two backups of a database, the newer one's data object deleted or cut short
    store = local_store if store_kind == "local" else s3_store
    older = put_backup(store, "shop", NOW - timedelta(days=1))
    newer = put_backup(store, "shop", NOW)
    if damage == "gone":
        store.delete(newer.data.key)
    else:
        store.delete(newer.data.key)
        store.put_bytes(newer.data.key, b"\x28\xb5\x2f\xfd")  # a zstd frame's magic, and nothing after it
    # When the store is scanned, and `latest` is asked for
    catalog = scan_backups([store], database="shop")
    latest = find_backup([store], "latest", database="shop")
    # Then the newer one is refused, saying why, and `latest` is the one that can restore
    assert [e.id for e in catalog.entries] == [older.id]
    (refused,) = catalog.refused
    assert refused.manifest.id == newer.id
    expected = (
        "its data object is missing"
        if damage == "gone"
        else f"its data object has 4 bytes, the manifest says {newer.data.size:,}"
    )
    assert refused.line().endswith(f": {expected}")
    assert latest.id == older.id


def test_prune_removes_what_killed_backups_left_and_nothing_a_live_one_writes(local_store):
    # Given a backup, the half-written files of two backups killed two days ago (of two databases),
    # and the file of a backup being written now
    put_backup(local_store, "shop", NOW)
    source = list_backups([local_store])[0].manifest.source
    now = datetime.now(UTC)
    keys = {
        "dead": f"{source}/shop/2026/12/04/20261204T000000Z-dead00000001.sql.zst",
        "dead_other": f"{source}/other/2026/12/04/20261204T000000Z-dead00000002.sql.zst",
        "live": f"{source}/shop/2026/12/06/20261206T000000Z-live00000001.sql.zst",
    }
    for name, key in keys.items():
        local_store.open_writer(key).write(b"x" * 1000)  # never committed nor aborted: killed
        if name != "live":
            two_days_ago = (now - timedelta(days=2)).timestamp()
            os.utime(partial_file(local_store, key), (two_days_ago, two_days_ago))
    # When a prune of one database is dry-run, then run
    seen = prune(local_store, keep_last=1, keep_days=None, now=now, database="shop", dry_run=True)
    assert [a.key for a in seen.abandoned] == [keys["dead"]]
    assert partial_file(local_store, keys["dead"]).exists()
    done = prune(local_store, keep_last=1, keep_days=None, now=now, database="shop")
    # Then only that database's dead file is gone: the live write and the backup stay
    assert [(a.key, a.size) for a in done.abandoned] == [(keys["dead"], 1000)]
    assert not partial_file(local_store, keys["dead"]).exists()
    assert partial_file(local_store, keys["live"]).exists()
    assert partial_file(local_store, keys["dead_other"]).exists()
    assert len(list_backups([local_store])) == 1
    # and a prune of the whole store takes the other one too
    everything = prune(local_store, keep_last=1, keep_days=None, now=now)
    assert [a.key for a in everything.abandoned] == [keys["dead_other"]]


def partial_file(store: LocalStorage, key: str) -> Path:
    return Path(store.location(key) + ".partial")


def test_a_live_backup_finishing_while_prune_looks_for_dead_writes_is_not_counted(local_store, monkeypatch):
    # Given a backup being written now, which finishes (its partial file renamed) right after prune has
    # listed the folder and before it looks at the file
    put_backup(local_store, "shop", NOW)
    source = list_backups([local_store])[0].manifest.source
    live = local_store.open_writer(f"{source}/shop/2026/12/06/20261206T000000Z-live00000002.sql.zst")
    live.write(b"x" * 1000)
    real_walk = os.walk

    def walk_then_finish(top, *args, **kwargs):
        for folder, dirs, names in real_walk(top, *args, **kwargs):
            if any(name.endswith(".partial") for name in names):
                live.commit()
            yield folder, dirs, names

    monkeypatch.setattr(os, "walk", walk_then_finish)
    # When a prune runs
    done = prune(local_store, keep_last=1, keep_days=None, now=datetime.now(UTC))
    # Then it goes through: the vanished file is simply not a dead write
    assert done.abandoned == []
    assert len(list_backups([local_store])) == 1


def test_a_backup_pruned_elsewhere_while_list_reads_its_folder_is_not_a_crash(local_store, monkeypatch):
    # Given two backups, the older one deleted by another process's prune right after `list` has read
    # its folder and before it looks at the files
    older = put_backup(local_store, "shop", NOW - timedelta(days=1))
    newer = put_backup(local_store, "shop", NOW)
    older_files = [Path(local_store.location(older.data.key))]
    older_files += [
        p for p in older_files[0].parent.iterdir() if p.name.endswith(".manifest.json") and older.id in p.name
    ]
    real_scandir = os.scandir

    def scandir_then_prune(path):
        entries = list(real_scandir(path))
        if any(entry.path == str(older_files[0]) for entry in entries):
            for file in older_files:  # as delete_backup does: the manifest and the data object
                file.unlink(missing_ok=True)
        return iter(entries)

    monkeypatch.setattr(os, "scandir", scandir_then_prune)
    # When the backups are listed
    listed = list_backups([local_store])
    # Then the list goes through, without the deleted backup
    assert [e.id for e in listed] == [newer.id]


def test_a_manifest_of_a_newer_format_is_skipped_in_one_line_saying_a_newer_cloudbackup_wrote_it(
    local_store, caplog
):
    # Given a backup whose manifest a newer cloudbackup wrote (format 2, with a field this one lacks)
    put_backup(local_store, "shop", NOW)
    (path,) = local_store.root.rglob("*.manifest.json")
    document = json.loads(path.read_text())
    document["format_version"] = 2
    document["something_new"] = {"kind": "later"}
    path.write_text(json.dumps(document))
    # When the store is listed
    assert main(["list", "--data", str(local_store.root)]) == 0
    # Then it is skipped with one warning saying a newer cloudbackup wrote it, and which format it has
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "\n" not in warning
    assert warning.startswith(f"skipping {path}: ")
    assert "written by a newer cloudbackup (backup format 2; this one reads format 1)" in warning
    assert "Input should be" not in warning


def test_a_store_given_without_its_prefix_names_the_prefix_once_instead_of_refusing_each_backup(
    local_store, s3_store, moto_endpoint, capsys, caplog
):
    # Given three backups in s3://BUCKET/team/backups
    for days in (3, 2, 1):
        put_backup(s3_store, "shop", NOW - timedelta(days=days))
    flags = [
        "--backup-bucket", f"s3://{s3_store.bucket}", "--backup-region", "us-east-1",
        "--backup-endpoint", moto_endpoint, "--data", str(local_store.root),
    ]  # fmt: skip
    # When the bucket is listed, and pruned, without the prefix
    assert main(["list", *flags]) == 0
    listed = capsys.readouterr()
    caplog.clear()
    assert main(["prune", "--keep-last", "1", *flags]) == 0
    # Then none is listed or pruned, and one line names where they are, not three refusals
    line = (
        f"3 backup(s) under s3://{s3_store.bucket}/team/backups/ are not listed: another store's "
        "(give that location as the store to see them)"
    )
    assert "no complete backups" in listed.out
    assert [x for x in listed.err.splitlines() if "warning" in x] == [f"cloudbackup: warning: {line}"]
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [line]
    assert len(list_backups([s3_store])) == 3


def test_a_refused_backup_named_by_a_prefix_of_its_id_says_why_it_is_refused(local_store):
    # Given a backup whose data object is gone, beside a whole one
    put_backup(local_store, "shop", NOW - timedelta(days=1))
    gone = put_backup(local_store, "shop", NOW)
    local_store.delete(gone.data.key)
    # When the operator names it by the first characters of its id, as `list` and logs show ids
    with pytest.raises(OperationError) as raised:
        find_backup([local_store], gone.id[:6], database="shop")
    # Then the answer says it is refused and why, as for its whole id, not that no such backup exists
    assert f"backup {gone.id} is refused" in str(raised.value)
    assert "its data object is missing" in str(raised.value)
