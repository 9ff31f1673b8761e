"""An account without SET USER/SUPER (as on RDS): DEFINER kept fails with advice; --definer current works
and names the objects that needed it."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from cloudbackup.errors import OperationError
from cloudbackup.restore import restore_backup
from tests.fixtures.mariadb import admin_connect
from tests.integration.restore_helpers import back_up, make_shop, schemas_like

pytestmark = pytest.mark.integration


@pytest.fixture
def restricted(db_settings):
    """A user with every privilege on cbt_% databases and no global ones. On a server writing a binary
    log, function creators are trusted, as an RDS parameter group must say for such a user (without it
    the restore is refused up front: test_restore_binlog_programs.py)."""
    user, password = f"cbt_r{uuid.uuid4().hex[:8]}", "restore-pw"
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT ALL PRIVILEGES ON `cbt\\_%`.* TO '{user}'@'%'")
        cur.execute("SELECT @@GLOBAL.log_bin, @@GLOBAL.log_bin_trust_function_creators")
        binlog, trusted = cur.fetchone()
        if binlog and not trusted:
            cur.execute("SET GLOBAL log_bin_trust_function_creators = 1")
    yield dataclasses.replace(db_settings, user=user, password=password)
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        if binlog and not trusted:
            cur.execute("SET GLOBAL log_bin_trust_function_creators = 0")


def test_keep_fails_with_advice_and_current_rewrites(db_settings, restricted, make_database, tmp_path):
    # Given a backup whose trigger, view, function and event belong to root
    source = make_database("rf")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When the restricted account restores it keeping the definers: it fails, saying what to do
    with pytest.raises(OperationError, match=r"trigger `?child_ai`? has DEFINER root@.*--definer current"):
        restore_backup(restricted, entry, target_database=target)
    assert schemas_like(db_settings, target) == []
    # When it rewrites them to itself instead: it works and names every object that needed it
    result = restore_backup(restricted, entry, target_database=target, definer="current")
    try:
        needed = " ".join(result.definers_rewritten)
        for name in ("trigger child_ai", "view", "function", "event"):
            assert name in needed, result.definers_rewritten
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT DISTINCT definer FROM information_schema.triggers WHERE trigger_schema = %s "
                "UNION SELECT DISTINCT definer FROM information_schema.views WHERE table_schema = %s "
                "UNION SELECT DISTINCT definer FROM information_schema.routines WHERE routine_schema = %s "
                "UNION SELECT DISTINCT definer FROM information_schema.events WHERE event_schema = %s",
                (target,) * 4,
            )
            assert {r[0] for r in cur.fetchall()} == {f"{restricted.user}@%"}
    finally:
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{target}`")
