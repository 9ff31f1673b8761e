"""A restore reports only what it published, and a failure while publishing leaves no half-restored
database: a subset whose frame creates another table than it names is refused before any change, and
a swap the server refuses leaves a new target not created at all (an existing one as it was)."""

from __future__ import annotations

import secrets
import uuid
from contextlib import contextmanager
from dataclasses import replace

import pytest

from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError
from cloudbackup.restore import restore_backup
from tests.fixtures.compare import snapshot
from tests.fixtures.mariadb import admin_connect, run_sql
from tests.integration.drill_helpers import write_manifest
from tests.integration.restore_helpers import PASSWORD, back_up, drop_schemas_like, schemas_like

pytestmark = pytest.mark.integration


@pytest.fixture
def new_target(db_settings):
    """A name no database has yet; whatever a failed test left under it is dropped after."""
    name = f"cbt_pub_{uuid.uuid4().hex[:8]}"
    yield name
    drop_schemas_like(db_settings, name)


def two_tables_backup(db_settings, make_database, tmp_path):
    source = make_database("pub")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE a (id int primary key)",
        "CREATE TABLE b (id int primary key, note varchar(10))",
        "INSERT INTO a VALUES (1), (2)",
        "INSERT INTO b VALUES (7, 'seven')",
    )
    return back_up(db_settings, source, tmp_path)


def frames_swapped(entry):
    """The manifest with the names of the frames of `a` and `b` exchanged: the object (and its SHA-256)
    is the backup's own, but the frame index now says `a` where the frame creates `b`."""
    other = {"a": "b", "b": "a"}
    frames = [
        replace(f, name=other[f.name]) if f.kind == "table" and f.name in other else f
        for f in entry.manifest.frames
    ]
    return write_manifest(entry, replace(entry.manifest, frames=frames))


def test_a_table_frame_creating_another_table_is_refused_before_any_change(
    db_settings, make_database, tmp_path, new_target
):
    # Given a backup whose frame index names `a` for the frame that creates `b`
    entry = frames_swapped(two_tables_backup(db_settings, make_database, tmp_path))
    target = new_target
    # When `a` alone is restored into a new database
    # Then it is refused in one line naming the frame, the table it names and the one it creates
    with pytest.raises(OperationError) as refused:
        restore_backup(db_settings, entry, target_database=target, tables=["a"])
    message = str(refused.value)
    assert "\n" not in message
    assert "frame of table 'a'" in message
    assert "creates table 'b'" in message
    # And nothing was created: neither the target nor a staging database
    assert schemas_like(db_settings, target) == []


def test_a_whole_restore_of_a_backup_whose_frames_misname_their_tables_is_refused(
    db_settings, make_database, tmp_path, new_target
):
    # Given the same misnamed frame index; When the whole backup is restored
    entry = frames_swapped(two_tables_backup(db_settings, make_database, tmp_path))
    target = new_target
    # Then it is refused too (its report would name tables by the frames), before any change
    with pytest.raises(OperationError, match="creates table"):
        restore_backup(db_settings, entry, target_database=target)
    assert schemas_like(db_settings, target) == []


@contextmanager
def account_on(settings: DbSettings, target: str, privileges: str):
    """An account with every privilege on its staging databases, and `privileges` on `target`."""
    user = f"cb_pub_{secrets.token_hex(3)}"
    staging = target.replace("_", "\\_") + "\\_\\_cbrestore\\_%"
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{PASSWORD}'")
        cur.execute(f"GRANT ALL ON `{staging}`.* TO '{user}'@'%'")
        cur.execute(f"GRANT {privileges} ON `{target}`.* TO '{user}'@'%'")
    try:
        yield DbSettings(settings.host, settings.port, user, PASSWORD)
    finally:
        with admin_connect(settings) as conn, conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")


# Every privilege on the target but INSERT (and DROP): the server refuses to RENAME a table into it (a
# RENAME needs INSERT and CREATE on the new name), so the swap's first step fails for real.
ALL_BUT_INSERT_DROP = (
    "SELECT, CREATE, ALTER, INDEX, UPDATE, DELETE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, "
    "EVENT, TRIGGER, LOCK TABLES"
)


@pytest.mark.parametrize(
    ("privileges", "lacks"),
    [(ALL_BUT_INSERT_DROP, "INSERT, DROP"), (ALL_BUT_INSERT_DROP + ", DROP", "INSERT")],
)
def test_a_new_target_the_account_cannot_publish_into_or_drop_is_refused_before_any_change(
    db_settings, make_database, tmp_path, new_target, privileges, lacks
):
    # Given a backup, and an account that may create the new target but not RENAME tables into it
    # (nor, in the first case, drop it again)
    entry = two_tables_backup(db_settings, make_database, tmp_path)
    target = new_target
    # When it restores into that new database
    with account_on(db_settings, target, privileges) as account, pytest.raises(OperationError) as failed:
        restore_backup(account, entry, target_database=target)
    # Then no target is left behind (it was not even created), nor any staging database
    assert schemas_like(db_settings, target) == []
    # And the refusal is one line naming what the account lacks
    message = str(failed.value)
    assert message.startswith(f"restore into {target} refused before any change")
    assert f"lacks {lacks} on the new database" in message
    assert "\n" not in message


def test_a_swap_refused_by_the_server_leaves_an_existing_empty_target_as_it_was(
    db_settings, make_database, tmp_path
):
    # Given a backup, an existing empty target with its own character set, and an account the server
    # will not let RENAME a table into it
    entry = two_tables_backup(db_settings, make_database, tmp_path)
    target = make_database("pube")
    run_sql(db_settings, "", f"ALTER DATABASE `{target}` CHARACTER SET latin1")
    before = snapshot(db_settings, target)
    # When the restore's swap fails
    with (
        account_on(db_settings, target, ALL_BUT_INSERT_DROP) as account,
        pytest.raises(OperationError, match=f"restore into {target} failed.*error 1142"),
    ):
        restore_backup(account, entry, target_database=target)
    # Then the target is there, as it was, and no staging database is left
    assert schemas_like(db_settings, target) == [target]
    assert snapshot(db_settings, target) == before
