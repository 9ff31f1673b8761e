"""A backup without a table leaves out the views that read it (directly or through other views): the
server refuses to create a view over a missing table, so its restore and drill failed at the views."""

from __future__ import annotations

import logging

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.catalog import find_backup
from cloudbackup.drill.run import run_drill
from cloudbackup.restore import restore_backup
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.mariadb import admin_connect, run_sql
from tests.integration.drill_helpers import make_store_db
from tests.integration.restore_helpers import back_up

pytestmark = pytest.mark.integration


@pytest.fixture
def store_db(db_settings, make_database):
    """The drill's database (view v_item over item), with a view over that view and one over tag."""
    source = make_database("xv")
    make_store_db(db_settings, source)
    run_sql(
        db_settings,
        source,
        "CREATE VIEW v_item_names AS SELECT name FROM v_item",
        "CREATE VIEW v_tag AS SELECT name FROM tag",
    )
    return source


def objects_of(db_settings, database: str) -> dict[str, str]:
    with admin_connect(db_settings, database) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
            (database,),
        )
        return {str(name): str(kind) for name, kind in cur.fetchall()}


def test_a_backup_without_a_table_leaves_out_the_views_reading_it_and_restores(
    db_settings, store_db, make_database, tmp_path, caplog
):
    # Given a backup made without table item, which v_item reads (and v_item_names through it)
    store = LocalStorage(tmp_path)
    with caplog.at_level(logging.WARNING):
        manifest = backup_database(db_settings, store_db, store, source="t", exclude_tables=["item"])
    entry = find_backup([store], manifest.id)
    # When it is restored whole into a new database
    target = make_database("xvr")
    result = restore_backup(db_settings, entry, target_database=target)
    # Then everything it holds is there, the view over tag too
    objects = objects_of(db_settings, target)
    assert {name for name, kind in objects.items() if kind == "VIEW"} == {"v_tag"}
    assert {"tag", "log"} <= set(objects)
    assert "item" not in objects
    # and a drill of it restores and proves it
    drilled = run_drill(db_settings, entry)
    assert drilled.verified
    # and the manifest, the restore and the drill say which views were left out with the table
    left_out = ["v_item", "v_item_names"]
    assert (manifest.excluded_tables, manifest.excluded_views) == (["item"], left_out)
    assert manifest.counts.views == 1
    assert manifest.partial
    assert (result.backup_excluded_tables, result.backup_excluded_views) == (["item"], left_out)
    assert (drilled.excluded_tables, drilled.excluded_views) == (["item"], left_out)
    # as the backup warned, in one line
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w for w in warnings if "v_item" in w] == [
        f"backup of `{store_db}` leaves out 2 view(s) reading the excluded tables, which a restore could "
        "not create without them: `v_item`, `v_item_names`"
    ]


def test_a_restore_excluding_a_table_of_a_whole_backup_creates_no_view(
    db_settings, store_db, make_database, tmp_path
):
    # Given a whole backup, its views reading item included
    entry = back_up(db_settings, store_db, tmp_path)
    assert entry.manifest.excluded_views == []
    assert entry.manifest.counts.views == 3
    # When it is restored without table item
    target = make_database("xvt")
    result = restore_backup(db_settings, entry, target_database=target, exclude_tables=["item"])
    # Then the tables come without any view (README: --exclude-table restores tables only), no failure
    objects = objects_of(db_settings, target)
    assert {name for name, kind in objects.items() if kind == "BASE TABLE"} == {"tag", "log"}
    assert "VIEW" not in objects.values()
    assert sorted(result.restored_tables) == ["log", "tag"]


def test_a_view_named_to_exclude_is_left_out_as_a_view(db_settings, store_db, make_database, tmp_path):
    # Given a backup made with --exclude-table naming a view (information_schema lists views as tables)
    store = LocalStorage(tmp_path)
    manifest = backup_database(db_settings, store_db, store, source="t", exclude_tables=["v_item"])
    # Then that view, and the one reading it, are left out and listed as views; every table is kept
    assert manifest.excluded_views == ["v_item", "v_item_names"]
    assert manifest.excluded_tables == []
    assert manifest.counts.views == 1
    assert len(manifest.tables) == 3
    target = make_database("xvv")
    restore_backup(db_settings, find_backup([store], manifest.id), target_database=target)
    assert {name for name, kind in objects_of(db_settings, target).items() if kind == "VIEW"} == {"v_tag"}
