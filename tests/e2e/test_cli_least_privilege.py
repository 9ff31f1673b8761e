"""The README's minimal grants work: a read-only backup user, a restore user confined to its targets."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.e2e.test_cli_backup import cloudbackup
from tests.fixtures.mariadb import admin_connect, db_url, flavour, run_sql

pytestmark = pytest.mark.e2e

PASSWORD = "least-Priv-9!"


@pytest.fixture
def source_db(db_settings, make_database):
    """A database with one object of each kind the grants must cover."""
    name = make_database("lp")
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, n INT)")
        cur.execute("INSERT INTO t VALUES (1, 10), (2, 20)")
        cur.execute("CREATE VIEW v AS SELECT id FROM t")
        cur.execute("CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW SET NEW.n = NEW.n + 1")
        cur.execute("CREATE PROCEDURE p() SELECT COUNT(*) FROM t")
        cur.execute("CREATE EVENT e ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM t WHERE id < 0")
    return name


@pytest.fixture
def users(db_settings):
    """(backup user, restore user, restore target) with exactly the README's grants."""
    tag = secrets.token_hex(3)
    backup, restore, target = f"cb_b_{tag}", f"cb_r_{tag}", f"cbt_lp_{tag}_restored"
    position = "BINLOG MONITOR" if flavour(db_settings) == "mariadb" else "REPLICATION CLIENT"
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        for user in (backup, restore):
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{PASSWORD}'")
        cur.execute(f"GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, {position} ON *.* TO '{backup}'@'%'")
        cur.execute(f"GRANT ALL ON `cbt\\_lp\\_{tag}\\_restored%`.* TO '{restore}'@'%'")
        # With the binary log on (MySQL here, RDS), a user without SUPER creates triggers and routines
        # only under this setting (on RDS: the DB parameter group's), as the README says.
        cur.execute("SELECT @@GLOBAL.log_bin_trust_function_creators")
        (trusted,) = cur.fetchone()
        cur.execute("SET GLOBAL log_bin_trust_function_creators = 1")
    yield backup, restore, target
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"SET GLOBAL log_bin_trust_function_creators = {int(trusted)}")
        for user in (backup, restore):
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        cur.execute(f"DROP DATABASE IF EXISTS `{target}`")


def test_backup_and_restore_with_the_minimal_grants(db_settings, source_db, users, tmp_path: Path):
    backup_user, restore_user, target = users
    server = f"{db_settings.host}:{db_settings.port}"
    store = ["--data", str(tmp_path / "store")]
    # Given a backup made by the read-only user
    made = cloudbackup("backup", "--db-url", f"mysql://{backup_user}:{PASSWORD}@{server}/{source_db}", *store)
    assert made.returncode == 0, made.stderr
    # When the restore user restores it into an allowed target
    restore_url = f"mysql://{restore_user}:{PASSWORD}@{server}"
    args = ["restore", "--db-url", restore_url, "--backup", "latest", "--database", source_db, *store]
    restored = cloudbackup(*args, "--target-database", target, "--definer", "current")
    # Then it works there, with every object kind
    assert restored.returncode == 0, restored.stderr
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("SELECT SUM(n) FROM v JOIN t USING (id)")
        assert cur.fetchone()[0] == 30
        for kind in ("ROUTINE", "TRIGGER", "EVENT"):
            cur.execute(
                f"SELECT COUNT(*) FROM information_schema.{kind}S WHERE {kind}_SCHEMA = %s", (target,)
            )
            assert cur.fetchone()[0] == 1, kind
    # and nowhere else
    outside = cloudbackup(*args, "--target-database", f"cbt_lp_outside_{secrets.token_hex(3)}")
    assert outside.returncode != 0


def test_in_place_restore_with_grants_on_the_database_its_staging_and_its_previous_tables(
    db_settings, make_database, users, tmp_path: Path
):
    # Tables only: the replaced views, routines, triggers and events are re-created in the `_before_`
    # database with their definers, which needs SET USER / SET_ANY_DEFINER (see the README).
    _, restore_user, _ = users
    source_db = make_database("lpi")
    with admin_connect(db_settings, source_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, n INT)")
        cur.execute("INSERT INTO t VALUES (1, 10), (2, 20)")
    escaped = source_db.replace("_", "\\_")
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        for pattern in (source_db, f"{escaped}\\_\\_cbrestore\\_%", f"{escaped}\\_before\\_%"):
            cur.execute(f"GRANT ALL ON `{pattern}`.* TO '{restore_user}'@'%'")
    server = f"{db_settings.host}:{db_settings.port}"
    store = ["--data", str(tmp_path / "store")]
    made = cloudbackup("backup", "--db-url", db_url(db_settings, source_db), *store)
    assert made.returncode == 0, made.stderr
    run_sql(db_settings, source_db, "UPDATE t SET n = 0")
    try:
        restored = cloudbackup(
            "restore", "--db-url", f"mysql://{restore_user}:{PASSWORD}@{server}", "--backup", "latest",
            "--database", source_db, "--in-place", "--yes", *store,
        )  # fmt: skip
        assert restored.returncode == 0, restored.stderr
        with admin_connect(db_settings, source_db) as conn, conn.cursor() as cur:
            cur.execute("SELECT SUM(n) FROM t")
            assert cur.fetchone()[0] == 30
    finally:
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute("SHOW DATABASES LIKE %s", (f"{escaped}\\_before\\_%",))
            for (name,) in cur.fetchall():
                cur.execute(f"DROP DATABASE `{name}`")


def test_keeping_another_accounts_routines_in_a_new_database_needs_to_read_their_bodies(
    db_settings, make_database, users, tmp_path: Path
):
    # The restore re-creates routines in the target from what SHOW CREATE reads in staging: the server
    # shows another account's routine body only to who may read every one (MariaDB before 11.3: SELECT
    # ON mysql.proc; MySQL: SHOW_ROUTINE).
    _, restore_user, target = users
    mariadb = flavour(db_settings) == "mariadb"
    set_definer, read_bodies = (
        ("SET USER", "SELECT ON mysql.proc") if mariadb else ("SET_ANY_DEFINER", "SHOW_ROUTINE")
    )
    source_db = make_database("lpr")
    app = f"cb_a_{secrets.token_hex(3)}"
    server = f"{db_settings.host}:{db_settings.port}"
    store = ["--data", str(tmp_path / "store")]
    # Given a backup of a procedure an application account defined, and a restore user with the
    # README's grants that may keep definers
    run_sql(
        db_settings, source_db,
        f"CREATE USER '{app}'@'%' IDENTIFIED BY '{PASSWORD}'",
        "CREATE TABLE t (id INT PRIMARY KEY, n INT)",
        f"CREATE DEFINER = '{app}'@'%' PROCEDURE p() SELECT COUNT(*) FROM t",
        f"GRANT {set_definer} ON *.* TO '{restore_user}'@'%'",
    )  # fmt: skip
    try:
        made = cloudbackup("backup", "--db-url", db_url(db_settings, source_db), *store)
        assert made.returncode == 0, made.stderr
        restore_url = f"mysql://{restore_user}:{PASSWORD}@{server}"
        args = ["restore", "--db-url", restore_url, "--backup", "latest", "--database", source_db, *store]
        # When it restores into a new database keeping the definers (the default)
        refused = cloudbackup(*args, "--target-database", target)
        # Then it is refused before any change, in one line naming the grant
        assert refused.returncode == 1, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "refused before any change" in refused.stderr
        assert read_bodies.split(" ON ")[0] in refused.stderr
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute("SHOW DATABASES LIKE %s", (target.replace("_", "\\_") + "%",))
            assert cur.fetchall() == ()
        # and with that grant the same restore brings the procedure back with its definer
        on = "" if mariadb else " ON *.*"
        run_sql(db_settings, "", f"GRANT {read_bodies}{on} TO '{restore_user}'@'%'")
        restored = cloudbackup(*args, "--target-database", target)
        assert restored.returncode == 0, restored.stderr
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            query = (
                "SELECT DEFINER, ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA=%s"
            )
            cur.execute(query, (target,))
            assert cur.fetchall() == ((f"{app}@%", "SELECT COUNT(*) FROM t"),)
    finally:
        run_sql(db_settings, "", f"DROP USER IF EXISTS '{app}'@'%'")
