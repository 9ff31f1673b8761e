import hashlib

import pytest

import cloudbackup.storage.local as local
from cloudbackup.errors import OperationError
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
