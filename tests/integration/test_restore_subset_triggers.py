"""A restore of some tables (--table, --exclude-table) whose triggers name a table it does not bring:
into a new database the trigger failed at its first use (error 1146), so it is left out and said; where
the target holds that table (in place), it is kept."""

from __future__ import annotations

import pytest

from cloudbackup.restore import restore_backup
from tests.e2e.test_cli_restore import cli
from tests.fixtures.mariadb import admin_connect, db_url
from tests.integration.drill_helpers import make_store_db
from tests.integration.restore_helpers import back_up

pytestmark = pytest.mark.integration


def triggers_of(db_settings, database: str) -> set[str]:
    with admin_connect(db_settings, database) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s", (database,)
        )
        return {str(name) for (name,) in cur.fetchall()}


@pytest.fixture
def whole_backup(db_settings, make_database, tmp_path):
    """A whole backup of the drill's database: trigger item_ai of item writes into log."""
    source = make_database("st")
    make_store_db(db_settings, source)
    return source, back_up(db_settings, source, tmp_path)


def test_one_table_restored_alone_comes_without_its_trigger_naming_another(
    db_settings, whole_backup, make_database
):
    _source, entry = whole_backup
    # When table item alone is restored into a new database
    target = make_database("stn")
    result = restore_backup(db_settings, entry, target_database=target, tables=["item"])
    # Then it takes new rows (its trigger writing into log, not restored, is left out) and says so
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO item (name) VALUES ('new')")
    assert triggers_of(db_settings, target) == set()
    assert result.triggers_left_out == ["item_ai"]
    # When item is restored with log, Then its trigger comes and fires
    both = make_database("stb")
    result = restore_backup(db_settings, entry, target_database=both, exclude_tables=["tag"])
    with admin_connect(db_settings, both) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO item (name) VALUES ('new')")
        cur.execute("SELECT COUNT(*) FROM log WHERE what = 'new'")
        assert cur.fetchone()[0] == 1
    assert result.triggers_left_out == []


def test_one_table_restored_in_place_keeps_its_trigger_where_the_target_has_the_other(
    db_settings, whole_backup
):
    source, entry = whole_backup
    # When table item alone is restored in place (log is there, not replaced)
    result = restore_backup(db_settings, entry, in_place=True, tables=["item"])
    # Then its trigger is kept and writes into the target's log
    assert result.triggers_left_out == []
    assert triggers_of(db_settings, source) == {"item_ai"}
    with admin_connect(db_settings, source) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO item (name) VALUES ('new')")
        cur.execute("SELECT COUNT(*) FROM log WHERE what = 'new'")
        assert cur.fetchone()[0] == 1


def test_the_command_line_says_which_triggers_a_restore_of_some_tables_left_out(
    db_settings, whole_backup, make_database
):
    _source, entry = whole_backup
    data = ["--data", str(entry.store.root)]  # type: ignore[attr-defined]
    target = make_database("stc")
    done = cli(
        "restore",
        "--db-url",
        db_url(db_settings),
        "--backup",
        entry.manifest.id,
        "--table",
        "item",
        "--target-database",
        target,
        *data,
    )
    assert done.returncode == 0, done.stderr
    assert (
        "; triggers left out: item_ai (they name tables that neither this restore nor the target holds"
        in (done.stdout)
    )
