"""`cloudbackup drill` as operators run it: one line or JSON, exit 1 naming what failed, and a drill
killed with SIGKILL whose scratch databases the next drill drops."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.drill.run import DRILL_MARK
from cloudbackup.storage.local import LocalStorage
from tests.e2e.test_cli_restore import cli
from tests.fixtures.mariadb import admin_connect, db_url, flavour, run_sql
from tests.integration.drill_helpers import flip_byte, make_store_db
from tests.integration.restore_helpers import back_up, schemas_like

pytestmark = pytest.mark.e2e


@pytest.fixture
def drill_backup(db_settings, make_database, tmp_path):
    source = make_database("dc")
    make_store_db(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    return source, entry, ["--db-url", db_url(db_settings), "--data", str(tmp_path / "data")]


def test_a_drill_prints_one_line_or_json_and_exits_0(db_settings, drill_backup):
    source, entry, flags = drill_backup
    done = cli("drill", "--database", source, *flags)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1
    assert done.stdout.startswith(f"drill OK: backup {entry.id} of {source} restored and verified: 3 tables")
    done = cli("drill", "--database", source, "--backup", entry.id, "--json", *flags)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["verified"] is True
    assert (result["backup_id"], result["database"], result["tables"]) == (entry.id, source, 3)
    assert result["seconds"] >= result["restore_seconds"] > 0
    assert schemas_like(db_settings, source) == [source]


def test_a_damaged_backup_fails_the_drill_with_one_line_and_exit_1(db_settings, drill_backup):
    source, entry, flags = drill_backup
    flip_byte(entry, "item")
    done = cli("drill", "--database", source, *flags)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert f"drill of backup {entry.id} of '{source}' failed at the restore" in done.stderr
    assert "Traceback" not in done.stderr
    assert schemas_like(db_settings, source) == [source]


def test_a_drill_of_an_unknown_database_is_a_usage_error(drill_backup):
    _source, _entry, flags = drill_backup
    done = cli("drill", "--database", "no_such_db", *flags)
    assert done.returncode == 2
    assert "no complete backup of database 'no_such_db'" in done.stderr


def test_a_killed_drill_leaves_scratch_databases_that_the_next_drill_drops(db_settings, drill_backup):
    # Given a backup with a bigger table
    source, entry, flags = drill_backup
    run_sql(db_settings, source, "CREATE TABLE bulk (id int auto_increment primary key, pad varchar(100))")
    run_sql(db_settings, source, "INSERT INTO bulk (pad) VALUES (REPEAT('p', 100))")
    run_sql(db_settings, source, *["INSERT INTO bulk (pad) SELECT pad FROM bulk"] * 18)
    entry = back_up(db_settings, source, entry.store.root.parent)
    # When a drill is killed (SIGKILL) while it restores that table
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cloudbackup.cli.main",
            "drill",
            "--database",
            source,
            "--backup",
            entry.id,
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wait_for_rows_in_scratch(db_settings, source, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert schemas_like(db_settings, source + DRILL_MARK) != []  # left behind, as a kill does
    # Then the next drill drops them, passes, and leaves nothing of its own
    done = cli("drill", "--database", source, "--backup", entry.id, "--json", *flags)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stale_dropped"] != []
    assert schemas_like(db_settings, source) == [source]


def wait_for_rows_in_scratch(settings, source: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    with admin_connect(settings) as conn, conn.cursor() as cur:
        if flavour(settings) == "mysql":  # MySQL caches table_rows for a day unless told not to
            cur.execute("SET SESSION information_schema_stats_expiry = 0")
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            cur.execute(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema LIKE %s "
                "AND table_name = 'bulk' AND table_rows > 1000",
                (source + "\\_\\_cbdrill\\_%",),
            )
            if cur.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the drill never started loading the big table")


def test_a_db_url_naming_another_database_than_the_drill_is_refused_in_one_line(db_settings, drill_backup):
    # Given a backup, and a --db-url that names another database than --database (whose backup is drilled)
    source, _entry, flags = drill_backup
    data = flags[2:]  # the store only: the --db-url is this test's
    other = source + "_other"
    # When the drill is run so
    done = cli("drill", "--database", source, "--db-url", db_url(db_settings, other), *data)
    # Then it is refused in one line naming both, and no scratch database was made
    assert done.returncode == 2, done.stdout
    assert done.stderr.count("\n") == 1, done.stderr
    assert repr(other) in done.stderr
    assert repr(source) in done.stderr
    assert schemas_like(db_settings, source) == [source]
    # and a --db-url naming the drilled database itself is no mistake
    done = cli("drill", "--database", source, "--db-url", db_url(db_settings, source), *data)
    assert done.returncode == 0, done.stderr


def test_a_drill_of_latest_fails_when_the_newest_backup_cannot_restore(db_settings, drill_backup):
    # Given two backups of a database, the newer one's data object cut short (a full disk, a copy
    # stopped half-way): the catalog refuses it, so `latest` alone would be the older one
    source, older, flags = drill_backup
    newer = back_up(db_settings, source, older.store.root.parent)
    path = newer.store.root / newer.manifest.data.key
    path.write_bytes(path.read_bytes()[:100])
    # When the drill of the latest backup runs
    done = cli("drill", "--database", source, *flags)
    # Then it fails in one line naming the newest backup and why, rather than proving an older one
    assert done.returncode == 1, done.stdout
    assert "drill OK" not in done.stdout
    assert done.stderr.splitlines()[-1].startswith("cloudbackup: ")
    assert newer.id in done.stderr.splitlines()[-1]
    assert "100 bytes" in done.stderr.splitlines()[-1]
    assert "Traceback" not in done.stderr
    assert schemas_like(db_settings, source) == [source]
    # and the older one, named by its id, is still drilled (the operator's choice)
    done = cli("drill", "--database", source, "--backup", older.id, *flags)
    assert done.returncode == 0, done.stderr


def test_a_drill_of_a_partial_backup_says_what_it_did_not_prove(db_settings, drill_backup):
    # Given a schema-only backup and one without a table (no view reads it), beside the whole one
    source, _entry, flags = drill_backup
    store = LocalStorage(Path(flags[flags.index("--data") + 1]))
    schema_only = backup_database(db_settings, source, store, source="test", schema_only=True)
    without_tag = backup_database(db_settings, source, store, source="test", exclude_tables=["tag"])
    # When each is drilled; Then the OK line says what the backup leaves out (no "0 rows" read as whole)
    done = cli("drill", "--database", source, "--backup", schema_only.id, *flags)
    assert done.returncode == 0, done.stderr
    assert "a schema-only backup: it holds no rows, so none were proven" in done.stdout
    done = cli("drill", "--database", source, "--backup", without_tag.id, "--json", *flags)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["excluded_tables"] == ["tag"]
    done = cli("drill", "--database", source, "--backup", without_tag.id, *flags)
    assert "a partial backup: without tables tag" in done.stdout
