"""Restore drills: a good backup is proven, a damaged or tampered one fails naming the table, and no
scratch database is ever left behind (a killed drill's is dropped by the next)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.catalog import find_backup
from cloudbackup.drill.proof import DrillFailed
from cloudbackup.drill.redump import redump
from cloudbackup.drill.run import DRILL_MARK, run_drill
from cloudbackup.errors import Stopped
from cloudbackup.format.manifest import Manifest
from cloudbackup.mysql.staging import StagingDatabase
from cloudbackup.restore import restore_backup
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.mariadb import admin_connect, flavour, run_sql
from tests.integration.drill_helpers import (
    flip_byte,
    make_store_db,
    tamper_rows,
    without_digests,
    write_manifest,
)
from tests.integration.restore_helpers import back_up, schemas_like

pytestmark = pytest.mark.integration


@pytest.fixture
def store_backup(db_settings, make_database, tmp_path):
    source = make_database("dr")
    make_store_db(db_settings, source)
    return source, back_up(db_settings, source, tmp_path)


def test_a_good_backup_is_restored_proven_and_dropped(db_settings, store_backup):
    source, entry = store_backup
    assert all(t.sha256 for t in entry.manifest.tables)  # the backup recorded each table's digest
    result = run_drill(db_settings, entry)
    assert result.verified
    assert (result.backup_id, result.database, result.tables) == (entry.id, source, 3)
    assert result.rows == 290 + 2 + 300  # items, tags, and the trigger's log rows
    assert result.tables_proven_by_digest == 3
    assert result.scratch_database.startswith(source + DRILL_MARK)
    assert 0 < result.restore_seconds <= result.seconds
    assert schemas_like(db_settings, source) == [source]


def test_a_manifest_without_digests_is_proven_against_the_backup_object(db_settings, store_backup):
    source, entry = store_backup
    old = without_digests(entry)
    assert all(t.sha256 is None for t in old.manifest.tables)
    result = run_drill(db_settings, old)
    assert result.verified
    assert result.tables_proven_by_digest == 0
    assert schemas_like(db_settings, source) == [source]


def test_a_flipped_byte_fails_at_the_restore(db_settings, store_backup):
    source, entry = store_backup
    flip_byte(entry, "item")
    with pytest.raises(DrillFailed, match=r"failed at the restore.*SHA-256"):
        run_drill(db_settings, entry)
    assert schemas_like(db_settings, source) == [source]


def test_rows_tampered_inside_the_object_fail_the_content_proof(db_settings, store_backup):
    # Given a backup whose `tag` rows were rewritten inside the object (same length, valid compression),
    # with the frame index, size and SHA-256 in the manifest redone to match
    source, entry = store_backup
    tampered = tamper_rows(entry, "tag", b"'alpha'", b"'alphb'")
    # When it is drilled; Then the content proof names the table, and nothing is left behind
    with pytest.raises(
        DrillFailed, match="table 'tag': the restored content differs from the backup"
    ) as failed:
        run_drill(db_settings, tampered)
    assert "\n" not in str(failed.value)
    assert schemas_like(db_settings, source) == [source]


def test_without_digests_a_copy_that_differs_from_the_object_fails(db_settings, store_backup):
    # Given an old-style manifest (no digests) and an object whose `tag` row holds a name longer than
    # its column: it loads (truncated, as the dump's non-strict session allows), so the copy differs.
    # (With an introducer, the row goes as the INSERT: sent as LOAD DATA, the truncation's warning would
    # stop the restore before any comparison.)
    source, entry = store_backup
    longer = tamper_rows(entry, "tag", b"'beta'", b"_utf8mb4'beta" + b"x" * 30 + b"'")
    old = without_digests(longer)
    # When it is drilled; Then the comparison with the backup object's own section names the table
    with pytest.raises(DrillFailed, match="table 'tag': the restored content differs from its section"):
        run_drill(db_settings, old)
    assert schemas_like(db_settings, source) == [source]


def test_a_row_count_that_does_not_match_the_manifest_fails(db_settings, store_backup):
    source, entry = store_backup
    frames = [replace(f, rows=f.rows + 1) if f.name == "item" else f for f in entry.manifest.frames]
    wrong = write_manifest(entry, replace(entry.manifest, frames=frames))
    with pytest.raises(DrillFailed, match="table 'item': 290 rows restored, the manifest says 291"):
        run_drill(db_settings, wrong)
    assert schemas_like(db_settings, source) == [source]


def left_by_a_killed_drill(
    settings: Any, source: str, manifest: Manifest
) -> tuple[StagingDatabase, StagingDatabase]:
    """The scratch database of a drill of `source` and its restore's staging database, as a drill whose
    process died leaves them: made, and the connection holding their locks gone."""
    left = StagingDatabase(
        settings, source, charset=manifest.charset, collation=manifest.collation, mark=DRILL_MARK
    )
    staging = StagingDatabase(settings, left.name, charset=manifest.charset, collation=manifest.collation)
    left.conn.close()
    staging.conn.close()
    return left, staging


def test_a_killed_drills_scratch_database_is_dropped_by_the_next_drill(db_settings, store_backup):
    # Given the scratch database (and its restore's staging database) of a drill whose process died:
    # the connection holding their locks is gone
    source, entry = store_backup
    manifest = entry.manifest
    left, staging = left_by_a_killed_drill(db_settings, source, manifest)
    assert schemas_like(db_settings, source + DRILL_MARK) == sorted([left.name, staging.name])
    # When the next drill runs; Then it drops them, and leaves nothing of its own
    result = run_drill(db_settings, entry)
    assert sorted(result.stale_dropped) == sorted([left.name, staging.name])
    assert schemas_like(db_settings, source) == [source]


def test_a_running_drills_scratch_database_is_left_alone(db_settings, store_backup):
    source, entry = store_backup
    manifest = entry.manifest
    running = StagingDatabase(
        db_settings, source, charset=manifest.charset, collation=manifest.collation, mark=DRILL_MARK
    )
    try:
        result = run_drill(db_settings, entry)
        assert result.stale_dropped == []
        assert schemas_like(db_settings, source + DRILL_MARK) == [running.name]
    finally:
        running.drop()


@pytest.mark.parametrize("fixture", ["every_type_db", "sakila_db"])
def test_every_type_and_sakila_pass_their_drill(db_settings, request, tmp_path, fixture):
    # Given a backup of a database with every column type (or sakila: views, routines, triggers…)
    database = request.getfixturevalue(fixture)
    entry = back_up(db_settings, database, tmp_path)
    # When it is drilled; Then every table is proven by its recorded digest, and nothing is left behind
    result = run_drill(db_settings, entry)
    assert result.verified
    assert result.tables_proven_by_digest == result.tables == len(entry.manifest.tables)
    assert schemas_like(db_settings, database + DRILL_MARK) == []


def test_tables_read_on_several_connections_are_proven_against_the_backup_object(
    db_settings, make_database, tmp_path
):
    # Given a backup that read every table in key ranges on four connections (where the server lets
    # them share the snapshot): such tables' rows arrive in no fixed order, so they record no digest
    source = make_database("dp")
    make_store_db(db_settings, source, rows=3000)
    store = LocalStorage(tmp_path / "data")
    manifest = backup_database(db_settings, source, store, source="test", split_min_bytes=1, jobs=4)
    entry = find_backup([store], manifest.id)
    with_digest = sum(t.sha256 is not None for t in manifest.tables)
    if flavour(db_settings) == "mariadb":
        assert with_digest < len(manifest.tables)
    # When it is drilled; Then those tables are compared with their sections, and it passes
    result = run_drill(db_settings, entry)
    assert result.verified
    assert result.tables_proven_by_digest == with_digest
    assert schemas_like(db_settings, source) == [source]


def test_the_copys_events_are_disabled_before_it_is_proven(db_settings, store_backup, monkeypatch):
    # Given a backup of a database with an enabled event (due far in the future on the source)
    source, _ = store_backup
    run_sql(
        db_settings,
        source,
        "CREATE EVENT ev_tick ON SCHEDULE EVERY 1 DAY STARTS '2035-01-01' DO DELETE FROM log",
    )
    entry = back_up(db_settings, source, store_backup[1].store.root.parent)
    assert entry.manifest.counts.events == 1
    # When it is drilled; Then the copy's event is disabled by the time the copy is dumped again
    seen = []

    def watching(db, scratch, **kwargs):
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute("SELECT status FROM information_schema.events WHERE event_schema = %s", (scratch,))
            seen.extend(status for (status,) in cur.fetchall())
        return redump(db, scratch, **kwargs)

    monkeypatch.setattr("cloudbackup.drill.run.redump", watching)
    assert run_drill(db_settings, entry).verified
    assert seen == ["DISABLED"]


def schemas_with_tables(settings, prefix: str) -> list[str]:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_schema LIKE %s",
            (prefix + "%",),
        )
        return [name for (name,) in cur.fetchall()]


@pytest.mark.parametrize(
    ("step", "ready"),
    [
        # Tables are loading into the restore's staging database (named after the scratch one)
        ("restore", lambda names: any("__cbrestore_" in n for n in names)),
        # The copy is published into the scratch database: the proof's re-dump reads it next
        ("proof", lambda names: any("__cbrestore_" not in n for n in names)),
    ],
)
def test_a_drill_asked_to_stop_stops_at_its_step_and_leaves_nothing(db_settings, store_backup, step, ready):
    # Given a caller whose stop hook says stop once the drill has reached a step
    source, entry = store_backup

    def should_stop() -> bool:
        return ready(schemas_with_tables(db_settings, source + DRILL_MARK))

    # When the drill runs with it
    with pytest.raises(Stopped) as raised:
        run_drill(db_settings, entry, should_stop=should_stop)
    # Then it stopped there, not as a failed drill, and neither scratch nor staging database is left
    assert not isinstance(raised.value, DrillFailed)
    assert str(raised.value) == (
        f"drill of backup {entry.id} of {source!r} stopped during its {step}, its scratch database dropped"
    )
    assert schemas_like(db_settings, source) == [source]


def test_the_copys_events_are_never_enabled(db_settings, store_backup, monkeypatch):
    # Given a backup of a database with an event that is due at once (every second since 2020)
    source, _ = store_backup
    run_sql(
        db_settings,
        source,
        "CREATE EVENT ev_now ON SCHEDULE EVERY 1 SECOND STARTS '2020-01-01' DO DELETE FROM log",
    )
    # (and one whose body holds a comment, which a MariaDB restore sends as a string)
    run_sql(
        db_settings,
        source,
        "CREATE EVENT `ev ON COMPLETION PRESERVE ENABLE` ON SCHEDULE EVERY '1:5' MINUTE_SECOND "
        "STARTS '2020-01-01' ON COMPLETION PRESERVE COMMENT 'it''s due' DO DELETE FROM log -- 'ENABLE'",
    )
    entry = back_up(db_settings, source, store_backup[1].store.root.parent)
    # When it is drilled; Then the copy's events are already disabled when the restore creates it: a server
    # running its event scheduler would otherwise fire it in the copy (or, by its body, elsewhere) first
    seen = []

    def watching(db, entry, *, target_database, **kwargs):
        restored = restore_backup(db, entry, target_database=target_database, **kwargs)
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT event_name, status FROM information_schema.events WHERE event_schema = %s",
                (target_database,),
            )
            seen.extend(cur.fetchall())
        return restored

    monkeypatch.setattr("cloudbackup.drill.run.restore_backup", watching)
    assert run_drill(db_settings, entry).verified
    assert sorted(seen) == [("ev ON COMPLETION PRESERVE ENABLE", "DISABLED"), ("ev_now", "DISABLED")]


@pytest.mark.parametrize(
    ("kind", "setup", "change"),
    [
        ("views", [], ["CREATE OR REPLACE VIEW v_item AS SELECT id, name FROM item WHERE id < 10"]),
        (
            "routines",
            [],
            [
                "DROP FUNCTION f_twice",
                "CREATE FUNCTION f_twice(x int) RETURNS int DETERMINISTIC RETURN x * 3",
            ],
        ),
        (
            "events",
            ["CREATE EVENT ev_tick ON SCHEDULE EVERY 1 DAY STARTS '2035-01-01' DO DELETE FROM log"],
            ["ALTER EVENT ev_tick DO DELETE FROM tag"],
        ),
        ("sequence", [], ["SELECT SETVAL(seq, 1000)"]),
    ],
)
def test_a_copy_whose_objects_differ_from_the_backup_fails(
    db_settings, store_backup, monkeypatch, kind, setup, change
):
    # Given a backup with views, routines, events (and a sequence on MariaDB)
    source, entry = store_backup
    if kind == "sequence" and flavour(db_settings) != "mariadb":
        pytest.skip("sequences are MariaDB's")
    if setup:
        run_sql(db_settings, source, *setup)
        entry = back_up(db_settings, source, store_backup[1].store.root.parent)
    # When its restore leaves one object otherwise than the backup holds it (same number of objects)

    def restore_then_change(db, entry, *, target_database, **kwargs):
        restored = restore_backup(db, entry, target_database=target_database, **kwargs)
        run_sql(db_settings, target_database, *change)
        return restored

    monkeypatch.setattr("cloudbackup.drill.run.restore_backup", restore_then_change)
    # Then the drill fails naming the kind of object, not only counting them
    with pytest.raises(DrillFailed, match=rf"^drill .* failed: {kind}\b.*differ.* from the backup") as failed:
        run_drill(db_settings, entry)
    assert "\n" not in str(failed.value)
    assert schemas_like(db_settings, source) == [source]


@pytest.mark.parametrize("length", [30, 50])
def test_a_killed_drill_of_a_long_named_database_leaves_nothing_the_next_drill_keeps(
    db_settings, make_database, tmp_path, length
):
    # Given a database with a long name (the scratch database and its restore's staging database are
    # named after it, within the server's 64 characters), and the two left by a drill whose process died
    source = make_database("d" * (length - len("cbt__12345678")))
    assert len(source) == length
    make_store_db(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    manifest = entry.manifest
    left, staging = left_by_a_killed_drill(db_settings, source, manifest)
    try:
        # When the next drill runs; Then it drops both, and leaves nothing of its own
        result = run_drill(db_settings, entry)
        assert sorted(result.stale_dropped) == sorted([left.name, staging.name])
        assert schemas_like(db_settings, source) == [source]
    finally:
        run_sql(db_settings, "", *(f"DROP DATABASE IF EXISTS `{name}`" for name in (left.name, staging.name)))
