"""A damaged backup never changes the target: a flipped byte or a cut object is refused."""

from __future__ import annotations

import pytest

from cloudbackup.errors import IntegrityError
from cloudbackup.restore import restore_backup
from cloudbackup.verify import verify_backup
from tests.fixtures.compare import assert_snapshots_equal, snapshot
from tests.integration.restore_helpers import back_up, change_live_data, make_shop, schemas_like

pytestmark = pytest.mark.integration


def damage(entry, how: str) -> None:
    path = entry.store.root / entry.manifest.data.key
    data = bytearray(path.read_bytes())
    table = next(f for f in entry.manifest.frames if f.kind == "table" and f.name == "child")
    if how == "flip":
        data[table.offset + table.length // 2] ^= 0x01
    else:
        del data[table.offset + table.length - 7 :]
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("compression", ["zstd", "gzip", "none"])
@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_a_damaged_object_leaves_the_target_untouched(db_settings, make_database, tmp_path, how, compression):
    # Given a backup whose data object was damaged after it was written, and a live database that moved on
    source = make_database("ri")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path, compression)
    change_live_data(db_settings, source)
    before = snapshot(db_settings, source)
    damage(entry, how)
    # When it is verified, or restored in place; Then both refuse, and the target is exactly as it was
    with pytest.raises(IntegrityError):
        verify_backup(entry)
    with pytest.raises(IntegrityError, match="was left as it was"):
        restore_backup(db_settings, entry, in_place=True)
    assert_snapshots_equal(before, snapshot(db_settings, source))
    assert schemas_like(db_settings, source) == [source]  # no staging, no _before_ copy


def test_a_damaged_object_does_not_create_a_new_target(db_settings, make_database, tmp_path):
    source = make_database("rj")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    damage(entry, "flip")
    with pytest.raises(IntegrityError):
        restore_backup(db_settings, entry, target_database=source + "_new")
    assert schemas_like(db_settings, source + "_new") == []


def test_verify_accepts_an_intact_backup(db_settings, make_database, tmp_path):
    source = make_database("rv")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    result = verify_backup(entry)
    assert result.ok
    assert result.size == entry.manifest.data.size
    assert result.frames == len(entry.manifest.frames)
