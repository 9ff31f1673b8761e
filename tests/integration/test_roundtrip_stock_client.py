"""The product's claim: `zstd -dc F | mysql` gives back every row and every object, exactly.

A fresh copy of a fixture database (under a name the test controls) is taken in (every table checksum,
every SHOW CREATE, ...), backed up with the real CLI, dropped, and restored by the stock client alone,
as the data object's header says: `mysql -e 'CREATE DATABASE …'` then `zstd -dc F | mysql NAME`. It
must then be what it was. (The copy itself is the reference: sakila's
data script draws random birth dates, so two loads differ.) mariadb-dump, given the same round trip,
does not: it loses FLOAT precision and cannot reload a table whose default is NEXTVAL.
"""

import subprocess
import sys
import uuid

import pytest

from cloudbackup.format.manifest import Manifest
from tests.fixtures.compare import assert_databases_equal, assert_snapshots_equal, snapshot
from tests.fixtures.every_type import drop_database, load_every_type
from tests.fixtures.mariadb import admin_connect, db_url, load_sakila, mysql_client_args, stock_tool_args

LOADERS = {"every_type_db": load_every_type, "sakila_db": load_sakila}


@pytest.fixture
def fresh_copy(db_settings):
    """Load a fixture's schema into a new database; dropped afterwards (whoever recreated it)."""
    made = []

    def copy(fixture):
        name = f"cbt_rt_{uuid.uuid4().hex[:8]}"
        made.append(name)
        LOADERS[fixture](db_settings, name)
        return name

    yield copy
    for name in made:
        drop_database(db_settings, name)


def backup_with_cli(db_settings, database, data_dir):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cloudbackup.cli.main",
            "backup",
            "--db-url",
            db_url(db_settings, database),
            "--data",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (data,) = data_dir.rglob("*.sql.zst")
    return data


def restore_with_stock_client(db_settings, command, *, force=False, database=None):
    """Pipe `command`'s output into `mysql` (into `database` when given); return its exit code and stderr."""
    producer = subprocess.Popen(command, stdout=subprocess.PIPE)
    client = [
        *mysql_client_args(db_settings),
        *(["--force"] if force else []),
        *([database] if database else []),
    ]
    loaded = subprocess.run(client, stdin=producer.stdout, capture_output=True, check=False, timeout=300)
    producer.stdout.close()
    assert producer.wait() == 0
    return loaded.returncode, loaded.stderr.decode(errors="replace")


@pytest.mark.parametrize("fixture", ["every_type_db", "sakila_db"])
def test_backup_restored_by_the_stock_client_is_exact(db_settings, fresh_copy, tmp_path, fixture):
    # Given a fresh copy of the fixture database, taken in and backed up with the CLI
    copy = fresh_copy(fixture)
    before = snapshot(db_settings, copy)
    data = backup_with_cli(db_settings, copy, tmp_path / "data")
    # When the copy is dropped, created again as the header says, and the backup is piped into it
    drop_database(db_settings, copy)
    manifest = Manifest.from_json(
        data.with_name(data.name.replace(".sql.zst", ".manifest.json")).read_bytes()
    )
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{copy}` CHARACTER SET {manifest.charset} COLLATE {manifest.collation}")
    code, errors = restore_with_stock_client(db_settings, ["zstd", "-dc", str(data)], database=copy)
    # Then it comes back as it was, in every row and every object
    assert code == 0, errors
    assert_snapshots_equal(before, snapshot(db_settings, copy))


def test_a_backup_loads_into_any_database(db_settings, fresh_copy, make_database, tmp_path):
    # Given a backup of a fresh copy of the every-type schema
    copy = fresh_copy("every_type_db")
    data = backup_with_cli(db_settings, copy, tmp_path / "data")
    manifest = Manifest.from_json(
        data.with_name(data.name.replace(".sql.zst", ".manifest.json")).read_bytes()
    )
    assert manifest.frames[0].kind == "header"  # no database frame: nothing names the source
    # When the whole object is loaded by the stock client into another database
    # (created with the source's defaults, as a restore does)
    target = make_database("renamed")
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute(f"ALTER DATABASE `{target}` COLLATE {manifest.collation}")
    sql = subprocess.run(["zstd", "-dc", str(data)], capture_output=True, check=True).stdout
    loaded = subprocess.run(
        [*mysql_client_args(db_settings), target], input=sql, capture_output=True, check=False
    )
    # Then nothing in it named the source database: the copy under the new name is exact
    assert loaded.returncode == 0, loaded.stderr.decode(errors="replace")
    assert f"`{copy}`.".encode() not in sql  # (the header's comment lines name it)
    assert_databases_equal(db_settings, copy, target)


def test_mariadb_dump_fails_the_same_round_trip(db_settings, fresh_copy, tmp_path, server_flavour):
    if server_flavour != "mariadb":
        pytest.skip("mariadb-dump and MariaDB's every-type schema")
    # Given a fresh copy of the every-type schema, dumped by mariadb-dump the way operators do
    copy = fresh_copy("every_type_db")
    before = snapshot(db_settings, copy)
    dump = tmp_path / "mariadb-dump.sql"
    with open(dump, "wb") as out:
        subprocess.run(
            [
                *stock_tool_args(db_settings, "mariadb-dump"),
                "--single-transaction",
                "--hex-blob",
                "--routines",
                "--events",
                "--triggers",
                "--databases",
                copy,
            ],
            stdout=out,
            check=True,
        )
    # When the copy is dropped and the dump is loaded by the stock client (past its errors)
    drop_database(db_settings, copy)
    _, errors = restore_with_stock_client(db_settings, ["cat", str(dump)], force=True)
    # Then the load reports errors and the database is not what it was
    assert "seq_invoice" in errors  # the table whose DEFAULT is NEXTVAL(seq_invoice) does not reload
    with pytest.raises(AssertionError) as failure:
        assert_snapshots_equal(before, snapshot(db_settings, copy))
    found = str(failure.value)
    assert "table `all_numbers`: CHECKSUM TABLE" in found  # FLOAT printed with 6 digits
    assert "table `invoice`: rows: source 3 != restored 0" in found
    assert "sequence `seq_restarted`: state" in found  # SETVAL below the start value is ignored
    assert "procedure `p_commented`: SHOW CREATE PROCEDURE Create Procedure" in found  # comments stripped
