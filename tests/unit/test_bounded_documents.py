"""The store's small documents (manifests, segment indexes) are parsed whole, so read with a cap: an
object of GBs put in a manifest's or an index's place is refused as soon as the cap is passed."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from cloudbackup import catalog
from cloudbackup.binlog import segments
from cloudbackup.binlog.segments import index_key, read_indexes
from cloudbackup.catalog import list_backups
from cloudbackup.errors import OperationError
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.stores import NOW, put_backup

CAP = 64 << 10  # the cap, made small here
CHUNK = 16 << 10


class CountingStore(LocalStorage):
    """A local store that counts the bytes it hands out, in chunks of 16 KiB."""

    read = 0

    def get_bytes(self, key: str) -> bytes:
        data = super().get_bytes(key)
        self.read += len(data)
        return data

    def iter_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        for chunk in super().iter_range(key, start, length):
            for at in range(0, len(chunk), CHUNK):
                self.read += len(chunk[at : at + CHUNK])
                yield chunk[at : at + CHUNK]


def test_a_manifest_longer_than_any_is_skipped_in_one_line_without_being_read_whole(
    tmp_path, monkeypatch, caplog
):
    # Given a store holding a backup, and another whose manifest was replaced by 4 MiB of JSON spaces
    monkeypatch.setattr(catalog, "MANIFEST_MAX_BYTES", CAP)
    store = CountingStore(tmp_path / "store")
    kept = put_backup(store, "shop", NOW)
    put_backup(store, "shop", NOW.replace(hour=13), backup_id="b1g0000000001")
    (huge,) = [p for p in (tmp_path / "store").rglob("*.manifest.json") if "b1g0000000001" in p.name]
    huge.write_bytes(b" " * (4 << 20) + huge.read_bytes())
    # When the backups are listed
    with caplog.at_level(logging.WARNING):
        listed = list_backups([store])
    # Then the other backup is listed, the long one skipped with one line naming the cap
    assert [e.id for e in listed] == [kept.id]
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith(f"skipping unreadable manifest {huge}: it is more than 65,536 bytes")
    assert "\n" not in warning
    # And the long one was read no further than the cap and a chunk
    assert store.read < CAP + CHUNK + (8 << 10)  # (and the other manifest, of a few KB)


def test_a_segment_index_longer_than_any_is_refused_in_one_line_without_being_read_whole(
    tmp_path, monkeypatch
):
    # Given an archive whose one segment index is 4 MiB
    monkeypatch.setattr(segments, "INDEX_MAX_BYTES", CAP)
    store = CountingStore(tmp_path / "store")
    store.put_bytes(index_key("orders-db", 0), b"{" + b" " * (4 << 20) + b"}")
    # When the archive's indexes are read
    with pytest.raises(OperationError) as refused:
        read_indexes(store, "orders-db")
    # Then it is refused in one line naming the index and the cap, having read no further than the cap
    message = str(refused.value)
    assert message.startswith(f"{store.location(index_key('orders-db', 0))} is not a binlog segment index: ")
    assert "more than 65,536 bytes" in message
    assert "\n" not in message
    assert store.read <= CAP + CHUNK
