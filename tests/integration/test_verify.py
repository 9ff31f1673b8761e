"""verify_backup checks what the manifest promises: frame index, size, SHA-256, every frame decodes."""

from __future__ import annotations

import dataclasses

import pytest

from cloudbackup.errors import IntegrityError
from cloudbackup.verify import verify_backup
from tests.integration.restore_helpers import back_up, make_shop

pytestmark = pytest.mark.integration


@pytest.fixture
def entry(db_settings, make_database, tmp_path):
    source = make_database("vf")
    make_shop(db_settings, source, rows=500)
    return back_up(db_settings, source, tmp_path)


def test_an_intact_backup_verifies(entry):
    result = verify_backup(entry)
    assert result.ok
    assert result.raw_bytes == sum(f.raw_length for f in entry.manifest.frames) > 0


def test_an_inconsistent_frame_index_is_reported(entry):
    frames = list(entry.manifest.frames)
    frames[3] = dataclasses.replace(frames[3], offset=frames[3].offset + 1)
    manifest = dataclasses.replace(entry.manifest, frames=frames)
    with pytest.raises(IntegrityError, match="frame index inconsistent"):
        verify_backup(dataclasses.replace(entry, manifest=manifest))


def test_bytes_appended_to_the_object_are_reported(entry):
    path = entry.store.root / entry.manifest.data.key
    path.write_bytes(path.read_bytes() + b"extra")
    with pytest.raises(IntegrityError, match="bytes, the manifest says"):
        verify_backup(entry)


def test_a_manifest_promising_other_content_is_reported(entry):
    data = dataclasses.replace(entry.manifest.data, sha256="0" * 64)
    manifest = dataclasses.replace(entry.manifest, data=data)
    with pytest.raises(IntegrityError, match="does not match the manifest"):
        verify_backup(dataclasses.replace(entry, manifest=manifest))
