"""The manifest's `excluded_views` (views left out with the excluded tables they read) only extends
format 1: older manifests read as leaving out no view, and a reader ignores fields it does not know."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cloudbackup.format.manifest import FORMAT_VERSION, DataObject, Frame, Manifest, ServerInfo


def a_manifest(**fields: object) -> Manifest:
    moment = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    return Manifest(
        id="abc123def456",
        source="db1",
        database="shop",
        charset="utf8mb4",
        collation="utf8mb4_general_ci",
        server=ServerInfo(version="10.11.19-MariaDB", flavour="mariadb"),
        started_at=moment,
        finished_at=moment,
        compression="zstd",
        data=DataObject(key="k.sql.zst", size=10, sha256="0" * 64),
        frames=[Frame(kind="header", offset=0, length=10)],
        **fields,  # type: ignore[arg-type]
    )


def test_the_views_left_out_are_written_and_read_back_and_make_the_backup_partial():
    # Given a backup without table item, whose view v_item was left out with it
    written = a_manifest(excluded_tables=["item"], excluded_views=["v_item"])
    # When its manifest is read back
    read = Manifest.from_json(written.to_json())
    # Then it lists the view, in the same format version
    assert read.excluded_views == ["v_item"]
    assert read.format_version == FORMAT_VERSION == 1
    assert read.partial


def test_an_older_manifest_without_the_field_leaves_out_no_view():
    # Given a manifest written before views were left out (no excluded_views field)
    document = json.loads(a_manifest(excluded_tables=["item"]).to_json())
    del document["excluded_views"]
    # When it is read
    read = Manifest.from_json(json.dumps(document))
    # Then no view is said to be left out, and it is as partial as it was
    assert read.excluded_views == []
    assert read.partial
    assert not a_manifest().partial


def test_a_field_this_reader_does_not_know_is_ignored_not_refused():
    # Given a manifest of format 1 holding a field added after this reader (as excluded_views was)
    document = {**json.loads(a_manifest().to_json()), "some_later_field": ["x"]}
    # When it is read, Then it reads as the backup it is
    assert Manifest.from_json(json.dumps(document)).id == "abc123def456"
