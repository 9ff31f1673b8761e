import hashlib
import os
import stat

import pytest

import cloudbackup.storage.local as local
from cloudbackup.errors import OperationError, UsageError
from cloudbackup.storage.local import LocalStorage


def test_an_object_is_invisible_until_commit_and_then_has_size_and_sha256(tmp_path):
    store = LocalStorage(tmp_path)
    writer = store.open_writer("src/db/2026/01/01/x.sql.zst")
    writer.write(b"hello ")
    assert list(store.list()) == []  # the .partial file is never listed
    writer.write(b"world")
    written = writer.commit()
    assert written.size == 11
    assert written.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert [o.key for o in store.list("src/")] == ["src/db/2026/01/01/x.sql.zst"]
    assert b"".join(store.iter_range(written.key, 6, 3)) == b"wor"


def test_listing_reads_only_folders_that_can_hold_the_prefix(tmp_path, monkeypatch):
    # Given objects in sibling folders
    store = LocalStorage(tmp_path)
    for key in ("src/_binlog/index/000001.json", "src/db/a.sql", "src/dbx/b.sql", "other/c.sql"):
        store.put_bytes(key, b"x")
    read = []
    scandir = os.scandir
    monkeypatch.setattr(local.os, "scandir", lambda folder: read.append(folder) or scandir(folder))
    # When one key, a partial name, and prefixes no key has are listed
    one = [o.key for o in store.list("src/_binlog/index/000001.json")]
    partial = [o.key for o in store.list("src/d")]
    missing = [*store.list("nowhere/x"), *store.list("/etc/x"), *store.list("../x")]
    # Then each lists what starts with it, reading only the folders such keys can be in
    assert one == ["src/_binlog/index/000001.json"]
    assert partial == ["src/db/a.sql", "src/dbx/b.sql"]
    assert missing == []
    assert read == [
        tmp_path / "src/_binlog/index",
        tmp_path / "src",
        tmp_path / "src/db",
        tmp_path / "src/dbx",
        tmp_path / "nowhere",
    ]
    # And everything is listed from the top
    assert sorted(o.key for o in store.list()) == sorted(
        ["src/_binlog/index/000001.json", "src/db/a.sql", "src/dbx/b.sql", "other/c.sql"]
    )


def test_abort_leaves_nothing_behind(tmp_path):
    store = LocalStorage(tmp_path)
    writer = store.open_writer("a/b.sql")
    writer.write(b"partial")
    writer.abort()
    assert list(tmp_path.rglob("*.*")) == []


def test_reading_a_missing_object_is_a_clear_error(tmp_path):
    with pytest.raises(OperationError, match="does not exist"):
        LocalStorage(tmp_path).get_bytes("nope.manifest.json")


def test_a_long_object_is_synced_to_disk_as_it_is_written(tmp_path, monkeypatch):
    # Given a writer, and a count of the data syncs it asks the OS for
    synced: list[int] = []
    real_sync = local.os.fdatasync
    monkeypatch.setattr(local.os, "fdatasync", lambda fd: (synced.append(fd), real_sync(fd)))
    store = LocalStorage(tmp_path)
    writer = store.open_writer("a/long.sql.zst")
    # When 2.5 sync intervals of data are written
    chunk = bytes(range(256)) * 4096
    for _ in range(local.SYNC_EVERY * 5 // 2 // len(chunk)):
        writer.write(chunk)
    # Then two syncs happened on the way, and the committed object is whole
    assert len(synced) == 2
    written = writer.commit()
    assert written.size == local.SYNC_EVERY * 5 // 2
    assert (tmp_path / "a" / "long.sql.zst").stat().st_size == written.size


def test_new_directories_are_0700_and_files_0600_whatever_the_umask(tmp_path):
    # Given a permissive umask (a shared machine's default is often 022 or 002)
    old = os.umask(0o002)
    try:
        store = LocalStorage(tmp_path / "data")
        store.check_writable()
        store.put_bytes("src/db/2026/01/01/x.sql.zst", b"every row of the database")
        writer = store.open_writer("src/db/2026/01/01/y.sql.zst")
        partial = next(tmp_path.rglob("*.partial"))
        partial_mode = stat.S_IMODE(partial.stat().st_mode)
        writer.abort()
    finally:
        os.umask(old)
    # Then nothing the store made is readable by anyone else, not even while being written
    made = [tmp_path / "data", *(tmp_path / "data").rglob("*")]
    dirs = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in made if p.is_dir()}
    files = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in made if p.is_file()}
    assert set(dirs.values()) == {0o700}, dirs
    assert len(dirs) == 6
    assert files == {"data/src/db/2026/01/01/x.sql.zst": 0o600}
    assert partial_mode == 0o600


def test_a_data_directory_that_is_a_file_is_said_to_be_one_before_a_backup(tmp_path):
    # Given --data naming an existing file (a dump, say), and a path under that file
    a_file = tmp_path / "backups.tar"
    a_file.write_bytes(b"")
    for data in (a_file, a_file / "daily"):
        # When a backup checks it can write there, then it is said not to be a directory
        with pytest.raises(UsageError, match=r"^--data \S+ is not a directory$"):
            LocalStorage(data).check_writable()
    assert a_file.read_bytes() == b""


def test_a_small_object_write_interrupted_leaves_no_partial_file(tmp_path, monkeypatch):
    # Given a store, and Ctrl-C or SIGTERM arriving while a manifest is synced to disk
    store = LocalStorage(tmp_path)

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(local.os, "fsync", interrupted)
    # When the manifest is written
    with pytest.raises(KeyboardInterrupt):
        store.put_bytes("src/db/x.manifest.json", b"{}")
    # Then the interrupt goes on, and neither the object nor its partial file is left
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []
