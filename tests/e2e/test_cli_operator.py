"""The operator's command line as a new operator meets it: which store `latest` picks (and says so),
dry runs and the --in-place guard, storage settings from the environment, short ids, `show`.

Backups are made with the real command on a real server, into a local directory and a local S3 endpoint.
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path

import pytest

from tests.fixtures.mariadb import admin_connect, db_url, flavour
from tests.fixtures.processes import communicate_or_kill

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "cloudbackup.cli.main"]
# Nothing of the developer's shell may choose a store for these tests.
_OWN_ENV = (
    "CLOUDBACKUP_DATA",
    "CLOUDBACKUP_BACKUP_BUCKET",
    "CLOUDBACKUP_BACKUP_REGION",
    "CLOUDBACKUP_BACKUP_CREDENTIAL",
    "CLOUDBACKUP_BACKUP_PROFILE",
    "CLOUDBACKUP_BACKUP_ENDPOINT",
)


def cloudbackup(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in _OWN_ENV}
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**base, **(env or {})},
        **kwargs,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def small_db(db_settings, make_database):
    name = make_database("op")
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))")
        cur.execute("INSERT INTO t VALUES " + ",".join(f"({i}, 'row {i}')" for i in range(1, 301)))
        cur.execute("CREATE TABLE u (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO u VALUES (1), (2), (3)")
    return name


@pytest.fixture
def both_stores(tmp_path, moto_endpoint, s3_bucket):
    """Flags for a local data directory and a bucket on the local S3 endpoint."""
    s3 = ["--backup-bucket", f"s3://{s3_bucket}/ops", "--backup-region", "us-east-1"]
    s3 += ["--backup-endpoint", moto_endpoint]
    return {"data": ["--data", str(tmp_path / "data")], "s3": s3}


def backup_id(db_settings, database: str, flags: list[str]) -> str:
    out = ok(cloudbackup("backup", "--db-url", db_url(db_settings, database), "--json", *flags))
    (made,) = json.loads(out)
    return str(made["id"])


def tables_of(db_settings, database: str) -> dict[str, int]:
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", (database,)
        )
        names = [str(name) for (name,) in cur.fetchall()]
        counts = {}
        for name in names:
            cur.execute(f"SELECT COUNT(*) FROM `{database}`.`{name}`")
            counts[name] = int(cur.fetchone()[0])
        return counts


# --- 1. which store: said, and chosen with --store ----------------------------------------------------


def test_latest_with_both_stores_names_the_store_used_and_store_chooses(
    db_settings, small_db, make_database, both_stores
):
    # Given an older backup in S3 and a newer one in the local directory, both configured
    in_s3 = backup_id(db_settings, small_db, both_stores["data"] + both_stores["s3"])
    in_local = backup_id(db_settings, small_db, both_stores["data"])
    flags = both_stores["data"] + both_stores["s3"]
    url = db_url(db_settings)
    # When `latest` is restored with both stores configured
    target = make_database("opt")
    out = ok(
        cloudbackup(
            "restore",
            "--db-url",
            url,
            "--backup",
            "latest",
            "--database",
            small_db,
            "--target-database",
            target,
            *flags,
        )
    )
    # Then the result line says it came from the local store, and where
    assert f"backup {in_local} " in out
    assert "from local " + both_stores["data"][1] in out
    # When --store s3 chooses, the S3 backup is restored and the JSON names the store and location
    target2 = make_database("opt")
    done = json.loads(
        ok(
            cloudbackup(
                "restore",
                "--db-url",
                url,
                "--backup",
                "latest",
                "--database",
                small_db,
                "--target-database",
                target2,
                "--store",
                "s3",
                "--json",
                *flags,
            )
        )
    )
    assert done["backup_id"] == in_s3
    assert done["store"] == "s3"
    assert done["location"].startswith("s3://")
    assert done["format"] == 1
    # and list and verify keep to the chosen store and name it
    listed = json.loads(ok(cloudbackup("list", "--json", "--store", "local", *flags)))
    assert [(b["id"], b["store"]) for b in listed] == [(in_local, "local")]
    verified = ok(
        cloudbackup("verify", "--backup", "latest", "--database", small_db, "--store", "s3", *flags)
    )
    assert verified.startswith(f"OK {in_s3} {small_db} (s3 s3://")
    # and --store s3 without a bucket is a usage error
    bad = cloudbackup("list", "--store", "s3", *both_stores["data"])
    assert bad.returncode == 2
    assert "--store s3 needs --backup-bucket" in bad.stderr


# --- 2. restore --dry-run, and the --in-place guard ---------------------------------------------------


def schemas_named(db_settings, prefix: str) -> list[str]:
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s", (prefix + "%",)
        )
        return sorted(str(name) for (name,) in cur.fetchall())


def test_dry_run_verifies_says_what_would_change_and_changes_nothing(db_settings, small_db, tmp_path):
    # Given a backup, and a database that changed since
    flags = ["--data", str(tmp_path / "data")]
    made = backup_id(db_settings, small_db, flags)
    with admin_connect(db_settings, small_db) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM t WHERE id > 100")
    before = (tables_of(db_settings, small_db), schemas_named(db_settings, small_db))
    url = db_url(db_settings)
    # When an in-place restore is dry-run (no --yes needed: nothing will change)
    out = ok(cloudbackup("restore", "--db-url", url, "--backup", made, "--in-place", "--dry-run", *flags))
    # Then it says what it would replace and keep, and the server is exactly as it was
    assert f"dry run: backup {made} verified (local " in out
    assert f"would replace database {small_db} (2 tables/views)" in out
    assert f"{small_db}_before_" in out
    assert "with 2 tables: t, u" in out
    assert len(out.splitlines()) == 3  # lines, not escapes of line breaks
    assert "\\n" not in out
    assert (tables_of(db_settings, small_db), schemas_named(db_settings, small_db)) == before
    # When only one table would be restored in place, the dry run says only it is replaced
    out = ok(
        cloudbackup(
            "restore", "--db-url", url, "--backup", made, "--in-place", "--table", "u", "--dry-run", *flags
        )
    )
    assert f"would replace only these tables of database {small_db}" in out
    assert "with 1 tables: u" in out
    # When a restore into a new database is dry-run, the database is not created
    new = small_db + "_new"
    out = ok(
        cloudbackup(
            "restore",
            "--db-url",
            url,
            "--backup",
            made,
            "--target-database",
            new,
            "--dry-run",
            "--json",
            *flags,
        )
    )
    assert json.loads(out)["dry_run"] is True
    assert schemas_named(db_settings, new) == []


def test_a_db_url_naming_another_database_than_the_restore_would_write_is_refused(
    db_settings, small_db, make_database, tmp_path
):
    # Given a backup of one database, and another database the operator's URL happens to name
    flags = ["--data", str(tmp_path / "data")]
    made = backup_id(db_settings, small_db, flags)
    other = make_database("op_other")
    with admin_connect(db_settings, other) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE keep (id INT PRIMARY KEY)")
    with admin_connect(db_settings, small_db) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM t")
    before = (tables_of(db_settings, small_db), tables_of(db_settings, other))
    url = db_url(db_settings, other)
    for extra in (["--in-place", "--yes"], ["--target-database", small_db + "_copy"]):
        # When the restore would write a database other than the one --db-url names
        done = cloudbackup("restore", "--db-url", url, "--backup", made, *extra, *flags)
        # Then it is refused in one line naming both, and nothing changed
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert repr(other) in done.stderr
        assert (tables_of(db_settings, small_db), tables_of(db_settings, other)) == before
        assert schemas_named(db_settings, small_db + "_copy") == []


def test_a_bare_directory_name_as_backup_is_said_to_be_a_directory_and_an_id_still_works(
    db_settings, small_db, tmp_path
):
    # Given a backup, and the operator's working directory holding a directory `exports` and one named
    # like the backup's id prefix
    flags = ["--data", str(tmp_path / "data")]
    made = backup_id(db_settings, small_db, flags)
    here = tmp_path / "here"
    (here / "exports").mkdir(parents=True)
    (here / made[:6]).mkdir()
    target = ["--db-url", db_url(db_settings), "--target-database", small_db + "_copy", *flags]
    # When `exports` is given as --backup without ./ (as ./exports is)
    done = cloudbackup("restore", "--backup", "exports", *target, cwd=here)
    # Then it is said to be a directory, as ./exports is, in one line, and nothing was made
    assert done.returncode == 2, done.stdout
    assert done.stderr == "cloudbackup: --backup exports: a directory, not a dump file\n"
    assert schemas_named(db_settings, small_db + "_copy") == []
    # and an id prefix names the backup even where a directory of that name exists
    done = cloudbackup("restore", "--backup", made[:6], "--dry-run", *target, cwd=here)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"dry run: backup {made} verified")


def test_flags_are_spelt_whole_given_once_and_never_empty(db_settings, small_db, tmp_path):
    # Given two backups in the default store (~/.cloudbackup of this HOME)
    home = {"HOME": str(tmp_path / "home")}
    for _ in range(2):
        ok(cloudbackup("backup", "--db-url", db_url(db_settings, small_db), env=home))
    listed = ok(cloudbackup("list", "--json", env=home))
    url = db_url(db_settings)
    mistakes = [
        # a cron line whose variable is unset: never the default store instead of the one named
        ["prune", "--keep-last", "1", "--data", ""],
        ["prune", "--keep-last", "1", "--backup-bucket", " "],
        # of two values, which one a script meant is a guess
        ["prune", "--keep-last", "5", "--keep-last", "1"],
        ["restore", "--db-url", url, "--backup", "latest", "--database", small_db, "--backup", "x"],
        # an abbreviation: --in is not --in-place
        ["restore", "--db-url", url, "--backup", "latest", "--database", small_db, "--in", "--yes"],
    ]
    for args in mistakes:
        # When the command is run so
        done = cloudbackup(*args, env=home)
        # Then it is refused in one line, and nothing was pruned or restored
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert ok(cloudbackup("list", "--json", env=home)) == listed
    assert len(json.loads(listed)) == 2


def test_a_prune_that_matches_no_backup_says_so(db_settings, small_db, tmp_path):
    # Given a backup of one database
    flags = ["--data", str(tmp_path / "data")]
    backup_id(db_settings, small_db, flags)
    # When a prune names a database (or source) with no backup: a typo in a cron line
    for narrowed in (["--database", small_db + "_typo"], ["--source", "no-such-host"]):
        done = cloudbackup("prune", "--keep-last", "1", *narrowed, *flags)
        # Then it prunes nothing, and a warning line says nothing matched
        assert done.returncode == 0, done.stderr
        (warning,) = done.stderr.splitlines()
        assert warning.startswith("cloudbackup: warning: no backup of ")
        assert narrowed[1] in warning
    # and a prune that matches says nothing of the kind
    done = cloudbackup("prune", "--keep-last", "1", "--database", small_db, *flags)
    assert done.returncode == 0
    assert done.stderr == ""
    assert len(json.loads(ok(cloudbackup("list", "--json", *flags)))) == 1


def test_a_prune_keeping_more_days_than_the_calendar_holds_keeps_every_backup(
    db_settings, small_db, tmp_path
):
    # Given two backups of a database
    flags = ["--data", str(tmp_path / "data")]
    for _ in range(2):
        backup_id(db_settings, small_db, flags)
    listed = ok(cloudbackup("list", "--json", *flags))
    # When a prune keeps them for more days than lie between now and year 1 ("keep forever": 9s typed)
    for days in ("99999999", "1000000000"):
        done = cloudbackup("prune", "--keep-days", days, "--json", *flags)
        # Then every backup is younger than that, and kept (it was an internal error, exit 1)
        assert done.returncode == 0, done.stderr
        assert (len(json.loads(done.stdout)["kept"]), json.loads(done.stdout)["deleted"]) == (2, [])
    assert ok(cloudbackup("list", "--json", *flags)) == listed


def test_dry_run_of_a_damaged_backup_fails_before_anything(db_settings, small_db, tmp_path):
    flags = ["--data", str(tmp_path / "data")]
    made = backup_id(db_settings, small_db, flags)
    (data,) = (tmp_path / "data").rglob("*.sql.zst")
    blob = bytearray(data.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    data.write_bytes(bytes(blob))
    done = cloudbackup(
        "restore", "--db-url", db_url(db_settings), "--backup", made, "--in-place", "--dry-run", *flags
    )
    assert done.returncode == 1
    assert "SHA-256" in done.stderr or "corrupt" in done.stderr


def test_in_place_without_a_terminal_is_refused_unless_yes(db_settings, small_db, tmp_path):
    flags = ["--data", str(tmp_path / "data")]
    made = backup_id(db_settings, small_db, flags)
    with admin_connect(db_settings, small_db) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM t")
    url = db_url(db_settings)
    # When --in-place runs from a pipe (a script) without --yes
    done = cloudbackup(
        "restore", "--db-url", url, "--backup", made, "--in-place", *flags, stdin=subprocess.DEVNULL
    )
    # Then it is refused with exit 2 before anything changes, and says how to confirm
    assert done.returncode == 2
    assert "--yes" in done.stderr
    assert small_db in done.stderr
    assert done.stderr.count("\n") == 1
    assert tables_of(db_settings, small_db)["t"] == 0
    # With --yes it replaces the database
    ok(
        cloudbackup(
            "restore",
            "--db-url",
            url,
            "--backup",
            made,
            "--in-place",
            "--yes",
            *flags,
            stdin=subprocess.DEVNULL,
        )
    )
    assert tables_of(db_settings, small_db)["t"] == 300


def in_place_on_a_terminal(args: list[str], answer: bytes) -> tuple[int, str]:
    """Run with stdin on a pseudo-terminal, answer the question, return (exit code, stderr)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*CLI, *args], stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(follower)
    os.write(leader, answer)
    _out, err = communicate_or_kill(proc, timeout=300)
    os.close(leader)
    return proc.returncode, err.decode()


def test_in_place_on_a_terminal_asks_naming_the_database_and_its_before_copy(db_settings, small_db, tmp_path):
    flags = ["--data", str(tmp_path / "data")]
    made = backup_id(db_settings, small_db, flags)
    with admin_connect(db_settings, small_db) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM t")
    args = ["restore", "--db-url", db_url(db_settings), "--backup", made, "--in-place", *flags]
    # When the operator answers no
    code, err = in_place_on_a_terminal(args, b"no\n")
    # Then the question named the database and the copy, and nothing changed
    assert f"Replace database {small_db} with backup {made}" in err
    assert f"kept in {small_db}_before_" in err
    assert code == 1
    assert tables_of(db_settings, small_db)["t"] == 0
    assert schemas_named(db_settings, small_db + "_before_") == []
    # When the operator answers yes, it is replaced
    code, err = in_place_on_a_terminal(args, b"yes\n")
    assert code == 0, err
    assert tables_of(db_settings, small_db)["t"] == 300
    assert len(schemas_named(db_settings, small_db + "_before_")) == 1


def test_in_place_question_names_the_server_and_only_yes_replaces(db_settings, small_db, tmp_path):
    # Given a backup of a database whose rows were deleted since
    flags = ["--data", str(tmp_path / "data")]
    made = backup_id(db_settings, small_db, flags)
    with admin_connect(db_settings, small_db) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM t")
    args = ["restore", "--db-url", db_url(db_settings), "--backup", made, "--in-place", *flags]
    for answer in (b"y\n", b"Y\n", b"ye\n"):
        # When the operator answers the question with less than the "yes" it asks for
        code, err = in_place_on_a_terminal(args, answer)
        # Then the question named the server the database is replaced on, and nothing changed
        assert f"On server {db_settings.host}:{db_settings.port}, " in err
        assert code == 1, err
        assert "cancelled" in err
        assert tables_of(db_settings, small_db)["t"] == 0
        assert schemas_named(db_settings, small_db + "_before_") == []


# --- 3. storage settings from the environment ---------------------------------------------------------


def test_storage_flags_come_from_the_environment_and_flags_win(
    db_settings, small_db, tmp_path, s3_bucket, moto_endpoint
):
    no_region = {k: v for k, v in os.environ.items() if not k.endswith("REGION") and "CLOUDBACKUP_" not in k}
    env = {
        "CLOUDBACKUP_BACKUP_BUCKET": f"s3://{s3_bucket}/from-env",
        "CLOUDBACKUP_BACKUP_ENDPOINT": moto_endpoint,
    }
    url = db_url(db_settings, small_db)
    data = ["--data", str(tmp_path / "data")]

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={**no_region, **env, **extra},
        )

    # Given the bucket and endpoint in variables and the region only in AWS_DEFAULT_REGION
    # When a backup names no storage flag, it goes to that bucket
    made = json.loads(ok(run("backup", "--db-url", url, "--json", *data, AWS_DEFAULT_REGION="us-east-1")))
    assert made[0]["location"].startswith(f"s3://{s3_bucket}/from-env/")
    # CLOUDBACKUP_BACKUP_REGION is used before AWS_REGION (a bad one shows it was read)
    bad = run("list", *data, CLOUDBACKUP_BACKUP_REGION="mars", AWS_REGION="us-east-1")
    assert bad.returncode == 2
    assert "mars" in bad.stderr
    # and a flag wins over its variable
    flagged = run(
        "list",
        "--json",
        *data,
        "--backup-region",
        "us-east-1",
        "--backup-bucket",
        f"s3://{s3_bucket}/other",
        CLOUDBACKUP_BACKUP_REGION="mars",
    )
    assert json.loads(ok(flagged)) == []
    # Without any region at all, the bucket is a usage error naming the ways to give one
    none = run("list", *data)
    assert none.returncode == 2
    assert "--backup-region" in none.stderr
    assert "$AWS_REGION" in none.stderr
    # and a region variable alone (no bucket anywhere) is no error: the local store is used
    local = subprocess.run(
        [*CLI, "list", "--json", *data],
        capture_output=True,
        text=True,
        check=False,
        env={**no_region, "CLOUDBACKUP_BACKUP_REGION": "us-east-1"},
    )
    assert json.loads(ok(local)) == []


# --- 4. short backup ids ------------------------------------------------------------------------------


def test_a_unique_prefix_of_4_or_more_names_a_backup_and_an_ambiguous_one_lists_the_matches(
    db_settings, small_db, tmp_path
):
    data = tmp_path / "data"
    made = backup_id(db_settings, small_db, ["--data", str(data)])
    # Given a second backup whose id shares the first 5 characters
    (manifest,) = data.rglob("*.manifest.json")
    twin = made[:5] + "zzzzzzz"
    document = json.loads(manifest.read_text())
    document["id"] = twin
    document["data"]["key"] = document["data"]["key"].replace(made, twin)  # its own data object, beside it
    (data_object,) = data.rglob("*.sql.zst")
    data_object.with_name(data_object.name.replace(made, twin)).write_bytes(data_object.read_bytes())
    manifest.with_name(manifest.name.replace(made, twin)).write_text(json.dumps(document))
    # Then 6 characters pick one backup, 5 are ambiguous (exit 2, both listed), 3 are too few
    assert ok(cloudbackup("verify", "--backup", made[:6], "--data", str(data))).startswith(f"OK {made} ")
    assert ok(cloudbackup("verify", "--backup", twin[:6], "--data", str(data))).startswith(f"OK {twin} ")
    ambiguous = cloudbackup("verify", "--backup", made[:5], "--data", str(data))
    assert ambiguous.returncode == 2
    assert "ambiguous" in ambiguous.stderr
    assert made in ambiguous.stderr
    assert twin in ambiguous.stderr
    assert ambiguous.stderr.count("\n") == 1
    short = cloudbackup("verify", "--backup", made[:3], "--data", str(data))
    assert short.returncode == 2
    assert "no complete backup with id" in short.stderr
    assert "an id prefix needs 4 or more characters" in short.stderr  # (3 of them match this backup)


def test_an_id_read_back_in_capitals_names_its_backup(db_settings, small_db, tmp_path):
    # Given a backup, its id copied from a ticket or a screen that shows it in capitals
    flags = ["--data", str(tmp_path / "data")]
    made = backup_id(db_settings, small_db, flags)
    for given in (made.upper(), made[:6].upper()):
        # When verify is given it so, then it is that backup (ids are hex: the case says nothing)
        assert ok(cloudbackup("verify", "--backup", given, *flags)).startswith(f"OK {made} ")


def test_latest_in_capitals_is_latest_and_a_word_that_is_no_id_says_what_backup_takes(
    db_settings, small_db, tmp_path
):
    # Given a backup
    flags = ["--data", str(tmp_path / "data"), "--database", small_db]
    made = backup_id(db_settings, small_db, flags[:2])
    # When `latest` is typed in capitals, then it is still the newest backup
    assert ok(cloudbackup("verify", "--backup", "LATEST", *flags)).startswith(f"OK {made} ")
    # When a word that is neither `latest` nor hex is given, then the one line says what --backup takes
    for word in ("lates", "newest"):
        result = cloudbackup("verify", "--backup", word, *flags)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1
        assert f"with id {word!r}" in result.stderr
        assert "a backup id is hex: give an id, a prefix of one, or latest" in result.stderr


# --- 5. show ------------------------------------------------------------------------------------------


def test_show_prints_one_backup_for_a_person_and_as_json(db_settings, small_db, both_stores):
    flags = both_stores["data"] + both_stores["s3"]
    made = backup_id(db_settings, small_db, flags)
    # When the backup is shown by a short id
    text = ok(cloudbackup("show", "--backup", made[:6], *flags))
    # Then a person reads where it is, the server, and each table with its rows and sizes
    assert f"backup    {made}" in text
    assert "store     s3" in text
    assert "location  s3://" in text
    assert "snapshot  " in text
    table_lines = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith("  ")}
    assert table_lines["t"][1] == "300"
    assert table_lines["u"][1] == "3"
    # and the JSON holds the same, grown from list's object
    shown = json.loads(
        ok(cloudbackup("show", "--backup", "latest", "--database", small_db, "--json", *flags))
    )
    listed = json.loads(ok(cloudbackup("list", "--json", *flags)))[0]
    assert {k: shown[k] for k in listed} == listed
    assert shown["format"] == 1
    assert [(t["name"], t["rows"]) for t in shown["table_details"]] == [("t", 300), ("u", 3)]
    assert all(t["size"] > 0 and t["sql_bytes"] > t["size"] // 100 for t in shown["table_details"])
    assert shown["counts"]["tables"] == 2
    assert shown["seconds"] >= 0


def test_show_writes_a_table_name_holding_a_newline_and_an_escape_as_text(
    db_settings, make_database, tmp_path
):
    # Given a table whose quoted name holds a line break and a terminal's escape sequence (both servers
    # take any character but NUL in a quoted name; a crafted manifest could say anything)
    database = make_database("names")
    name = "line\nbreak\x1b[31mred"
    with admin_connect(db_settings, database) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE `{name}` (id int primary key)")
        cur.execute(f"INSERT INTO `{name}` VALUES (1)")
    flags = ["--data", str(tmp_path / "store")]
    ok(cloudbackup("backup", "--db-url", db_url(db_settings, database), *flags))
    # When the backup is shown, and listed
    shown = ok(cloudbackup("show", "--backup", "latest", "--database", database, *flags))
    listed = ok(cloudbackup("list", *flags))
    # Then the name is one row of text, its control characters written as escapes
    assert "\x1b" not in shown + listed
    rows = [line.split() for line in shown.splitlines() if line.startswith("  ")]
    assert rows[1][:2] == ["line\\nbreak\\x1b[31mred", "1"]
    # and the JSON keeps the name exactly
    document = json.loads(
        ok(cloudbackup("show", "--backup", "latest", "--database", database, "--json", *flags))
    )
    assert [t["name"] for t in document["table_details"]] == [name]


def test_a_damaged_manifest_is_skipped_with_one_line_naming_its_fields(db_settings, small_db, tmp_path):
    # Given a backup whose manifest was edited: a field gone, another holding a terminal escape
    flags = ["--data", str(tmp_path / "store")]
    made = backup_id(db_settings, small_db, flags)
    (manifest,) = (tmp_path / "store").rglob("*.manifest.json")
    document = json.loads(manifest.read_text())
    del document["frames"]
    document["compression"] = "\x1b[31mred"
    manifest.write_text(json.dumps(document))
    # When the operator lists the store and shows that backup
    listed = cloudbackup("list", *flags)
    shown = cloudbackup("show", "--backup", made, *flags)
    # Then the manifest is skipped with one warning naming what is wrong, echoing none of it
    assert listed.returncode == 0
    assert listed.stdout.startswith("no complete backups in ")
    (warning,) = listed.stderr.splitlines()
    assert warning.startswith(f"cloudbackup: warning: skipping unreadable manifest {manifest}: ")
    assert "compression: Input should be 'zstd', 'gzip' or 'none'" in warning
    assert "frames: Field required" in warning
    assert "\x1b" not in listed.stderr + shown.stderr
    assert shown.returncode == 2
    store = tmp_path / "store"
    assert shown.stderr.splitlines()[1:] == [
        f"cloudbackup: no complete backup with id '{made}' in local store {store}"
    ]


# --- 6. help ------------------------------------------------------------------------------------------


def test_a_mistyped_data_directory_is_said_to_be_missing_and_is_not_made(db_settings, tmp_path):
    # Given a --data directory that does not exist (a typo at 3 a.m.)
    typo = tmp_path / "backpus"
    # When the operator lists it, restores from it, or prunes it
    listed = cloudbackup("list", "--data", str(typo))
    restored = cloudbackup(
        "restore", "--db-url", db_url(db_settings), "--backup", "latest", "--database", "shop",
        "--target-database", "shop_copy", "--data", str(typo),
    )  # fmt: skip
    # Then each says where it looked and that it is not there, and nothing creates it
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == f"no complete backups in local store {typo} (no such directory)\n"
    assert restored.returncode == 2
    assert restored.stderr == (
        f"cloudbackup: no complete backup of database 'shop' in local store {typo} (no such directory)\n"
    )
    assert not typo.exists()
    # and a --data naming a file is said not to be a directory
    a_file = tmp_path / "backups.tar"
    a_file.write_bytes(b"")
    listed = cloudbackup("list", "--data", str(a_file))
    assert listed.stdout == f"no complete backups in local store {a_file} (not a directory)\n"


def test_a_prune_of_a_mistyped_data_directory_warns_that_it_is_not_there(tmp_path):
    # Given a --data directory that does not exist (a typo in a cron line), and one naming a file
    typo, a_file = tmp_path / "backpus", tmp_path / "backups.tar"
    a_file.write_bytes(b"")
    for data, why in ((typo, "no such directory"), (a_file, "not a directory")):
        # When it is pruned
        done = cloudbackup("prune", "--keep-last", "1", "--data", str(data))
        # Then a warning line says where it looked and why nothing is there, and nothing is made
        assert done.returncode == 0, done.stderr
        assert done.stderr == (
            f"cloudbackup: warning: local store {data} ({why}): no backup in it, nothing to prune\n"
        )
    assert not typo.exists()


def test_verify_show_or_drill_of_a_dump_file_says_they_read_backups_in_a_store(tmp_path):
    # Given a dump file beside the operator (verify before restoring it, at 3 a.m.)
    (tmp_path / "shop.sql").write_text("CREATE TABLE t (id INT);\n")
    drill = ["--db-url", "mysql://root@127.0.0.1", "--database", "shop"]  # refused before it connects
    for command, extra in (("verify", []), ("show", []), ("drill", drill)):
        for given in ("shop.sql", "./shop.sql"):
            # When verify, show or drill is given it as --backup
            done = cloudbackup(
                command, "--backup", given, *extra, "--data", str(tmp_path / "data"), cwd=tmp_path
            )
            # Then one line says it is a path, which the command does not read (not "no backup with id")
            assert done.returncode == 2, done.stdout
            assert done.stderr == (
                f"cloudbackup: --backup {given} is a path, not a backup id: {command} reads a backup "
                "in a store (an id, or latest); `restore --backup FILE` restores a dump file\n"
            )


def test_latest_and_an_id_name_a_backup_even_beside_a_file_of_that_name(
    db_settings, small_db, make_database, tmp_path
):
    # Given a backup, and the directory the command runs in holding files named `latest` (a link to
    # the newest dump is common in a backup directory) and like the backup's id
    data = ["--data", str(tmp_path / "data")]
    made = backup_id(db_settings, small_db, data)
    here = tmp_path / "dumps"
    here.mkdir()
    for name in ("latest", made[:6]):
        (here / name).write_text("CREATE TABLE surprise (id INT);\n")
    url = db_url(db_settings)
    for given in ("latest", made[:6]):
        # When it is restored, verified, shown and drilled with --backup spelt that way, run there
        target = make_database("opl")
        restored = cloudbackup(
            "restore", "--db-url", url, "--backup", given, "--target-database", target, *data, cwd=here
        )
        verified = cloudbackup("verify", "--backup", given, "--database", small_db, *data, cwd=here)
        shown = cloudbackup("show", "--backup", given, "--database", small_db, *data, cwd=here)
        drilled = cloudbackup(
            "drill", "--db-url", url, "--database", small_db, "--backup", given, *data, cwd=here
        )
        # Then each reads the backup in the store, as DESIGN's `--backup ID|latest` says, not the file
        assert ok(restored).startswith(f"restored backup {made} of {small_db} into {target}:")
        assert tables_of(db_settings, target) == {"t": 300, "u": 3}
        assert ok(verified).startswith(f"OK {made} {small_db} ")
        assert ok(shown).startswith(f"backup    {made}\n")
        assert ok(drilled).startswith(f"drill OK: backup {made} of {small_db} ")
    # and the file is still restored when given as a path
    target = make_database("opf")
    restored = cloudbackup(
        "restore", "--db-url", url, "--backup", "./latest", "--target-database", target, cwd=here
    )
    assert ok(restored).startswith(f"restored the file latest into {target}:")
    assert tables_of(db_settings, target) == {"surprise": 0}
    # and a file named like an id that no backup has is pointed at, not restored
    (here / "cafe0123").write_text("CREATE TABLE surprise (id INT);\n")
    missed = cloudbackup(
        "restore", "--db-url", url, "--backup", "cafe0123", "--target-database", target, *data, cwd=here
    )
    assert missed.returncode == 2
    assert missed.stderr.endswith(
        " (a file named cafe0123 is here: give it as ./cafe0123 to restore that file)\n"
    )


def test_a_flag_before_the_command_is_said_to_belong_after_it(tmp_path):
    done = cloudbackup("--data", str(tmp_path), "list")
    assert done.returncode == 2
    assert done.stderr == (
        "cloudbackup: error: --data comes before the command; flags go after it "
        "(cloudbackup COMMAND --data …; see cloudbackup --help)\n"
    )
    assert ok(cloudbackup("--version")).startswith("cloudbackup ")


def test_help_ends_with_examples_and_list_refuses_an_option_that_does_nothing(tmp_path):
    helped = ok(cloudbackup("restore", "--help"))
    assert helped.rstrip().rsplit("\n\n", 1)[-1].startswith("examples:\n  cloudbackup restore ")
    refused = cloudbackup("list", "--kms-key-id", "alias/x", "--data", str(tmp_path))
    assert refused.returncode == 2
    assert "--kms-key-id" in refused.stderr


# --- 7. the backup's result lines, progress on a terminal, Ctrl-C -------------------------------------


class TerminalRun:
    """The command with stderr on a pseudo-terminal, read continuously (a full pty would block it)."""

    def __init__(self, args: list[str]) -> None:
        leader, follower = pty.openpty()
        self.proc = subprocess.Popen(
            [*CLI, *args], stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL
        )
        os.close(follower)
        self.seen = b""
        self._leader = leader
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._leader, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.seen += chunk

    def wait_for(self, text: bytes, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.seen:
            assert self.proc.poll() is None, self.seen.decode(errors="replace")
            assert time.monotonic() < deadline, self.seen.decode(errors="replace")
            time.sleep(0.02)

    def finish(self) -> tuple[int, str, str]:
        out, _ = communicate_or_kill(self.proc, timeout=300)
        self._reader.join(timeout=10)
        os.close(self._leader)
        return self.proc.returncode, out.decode(), self.seen.decode(errors="replace")


BIG_ROWS = 750_000


@pytest.fixture
def big_db(db_settings, make_database):
    """Big enough (~145 MiB of SQL) for progress to be redrawn, and for a backup to be caught midway:
    on the 2-vCPU VM a backup of it takes about 0.6 s, of 50 MiB it took 0.22 s, under the progress
    line's 0.25 s between redraws (the big table was never shown)."""
    name = make_database("opbig")
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE big (id INT PRIMARY KEY, s VARCHAR(255))")
        depth = "cte_max_recursion_depth" if flavour(db_settings) == "mysql" else "max_recursive_iterations"
        cur.execute(f"SET SESSION {depth} = {BIG_ROWS}")
        cur.execute(
            "INSERT INTO big SELECT n, REPEAT(SHA2(n, 256), 3) FROM (WITH RECURSIVE s(n) AS "
            f"(SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {BIG_ROWS}) SELECT n FROM s) AS numbers"
        )
        cur.execute("CREATE TABLE small (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO small VALUES (1)")
        cur.execute("ANALYZE TABLE big")  # the server's row estimate: the backup's share done
        cur.fetchall()
    return name


def test_backup_result_lines_give_rows_duration_rate_aligned_across_databases(
    db_settings, small_db, make_database, tmp_path
):
    other = make_database("op_longer_name")
    out = ok(
        cloudbackup(
            "backup",
            "--db-url",
            db_url(db_settings),
            "--database",
            small_db,
            "--database",
            other,
            "--data",
            str(tmp_path),
        )
    )
    lines = out.splitlines()
    assert len(lines) == 2
    assert " 303 rows " in lines[0]
    assert " 0 rows " in lines[1]
    # every column after the name starts at the same place on both lines
    assert lines[0].index(" rows ") == lines[1].index(" rows ")
    assert lines[0].index(str(tmp_path)) == lines[1].index(str(tmp_path))
    assert lines[0].split()[-4] == "s"
    assert lines[0].split()[-2].endswith("/s")


def test_progress_on_a_terminal_shows_share_time_left_table_and_uploading(
    db_settings, big_db, make_database, tmp_path
):
    # MariaDB only where a backup is needed until backups on MySQL work (seq_1_to_N is MariaDB's too)
    data = ["--data", str(tmp_path / "data")]
    # When a backup runs with stderr on a terminal
    backup = TerminalRun(["backup", "--db-url", db_url(db_settings, big_db), "--json", *data])
    code, out, seen = backup.finish()
    assert code == 0, seen
    # Then it showed the table being read and the uploading state, in binary units
    assert "table big" in seen
    assert re.search(r"backup \S+: ~[1-9]\d?%, ", seen), seen  # from the server's estimate
    assert ", uploading" in seen
    assert " MiB/s" in seen
    assert " MB/s" not in seen
    made = json.loads(out)[0]["id"]
    # When it is restored with stderr on a terminal
    target = make_database("opr")
    restore = TerminalRun(
        ["restore", "--db-url", db_url(db_settings), "--backup", made, "--target-database", target, *data]
    )
    code, out, seen = restore.finish()
    assert code == 0, seen
    # Then the line gave the share done, the time left and the table being loaded
    assert re.search(r"restore \S+: [1-9]\d?%, ", seen), seen
    assert " left, table big" in seen
    assert out.startswith(f"restored backup {made} ")


def test_ctrl_c_says_stopping_at_once_and_exits_130_keeping_nothing(db_settings, big_db, tmp_path):
    data = tmp_path / "data"
    run = TerminalRun(["backup", "--db-url", db_url(db_settings, big_db), "--data", str(data)])
    run.wait_for(b"table big")
    run.proc.send_signal(signal.SIGINT)
    code, out, seen = run.finish()
    assert "stopping…" in seen
    assert code == 130
    assert out == ""
    assert json.loads(ok(cloudbackup("list", "--json", "--data", str(data)))) == []
    assert list(data.rglob("*.manifest.json")) == []


# --- 8. a part: --exclude-table and --schema-only ----------------------------------------------------


def test_restore_of_a_part_excludes_tables_or_loads_definitions_only(
    db_settings, small_db, make_database, tmp_path
):
    data = ["--data", str(tmp_path / "data")]
    made = backup_id(db_settings, small_db, data)
    url = db_url(db_settings)
    # When the backup is restored without table u
    target = make_database("opx")
    out = ok(
        cloudbackup(
            "restore",
            "--db-url",
            url,
            "--backup",
            made,
            "--target-database",
            target,
            "--exclude-table",
            "u",
            *data,
        )
    )
    # Then only t is there, with its rows
    assert tables_of(db_settings, target) == {"t": 300}
    assert "1 tables" in out
    # When it is restored with definitions only, every table is there, empty
    target2 = make_database("ops")
    ok(
        cloudbackup(
            "restore", "--db-url", url, "--backup", made, "--target-database", target2, "--schema-only", *data
        )
    )
    assert tables_of(db_settings, target2) == {"t": 0, "u": 0}
    # and an unknown table to exclude is a usage error
    bad = cloudbackup(
        "restore",
        "--db-url",
        url,
        "--backup",
        made,
        "--target-database",
        target2 + "x",
        "--exclude-table",
        "nope",
        *data,
    )
    assert bad.returncode == 2
    assert "--exclude-table nope" in bad.stderr


def test_backup_of_a_part_is_recorded_and_never_picked_as_latest(
    db_settings, small_db, make_database, tmp_path
):
    data = ["--data", str(tmp_path / "data")]
    url = db_url(db_settings, small_db)
    # Given a backup without table u, and one with no rows
    without_u = json.loads(
        ok(cloudbackup("backup", "--db-url", url, "--exclude-table", "u", "--json", *data))
    )[0]
    no_rows = json.loads(ok(cloudbackup("backup", "--db-url", url, "--schema-only", "--json", *data)))[0]
    # Then each says what it left out, and holds only that
    assert without_u["excluded_tables"] == ["u"]
    assert without_u["tables"] == 1
    assert no_rows["schema_only"] is True
    assert no_rows["rows"] == 0
    shown = json.loads(ok(cloudbackup("show", "--backup", no_rows["id"], "--json", *data)))
    assert [(t["name"], t["rows"]) for t in shown["table_details"]] == [("t", 0), ("u", 0)]
    assert "partial" in ok(cloudbackup("show", "--backup", without_u["id"], *data))
    listed = ok(cloudbackup("list", *data)).splitlines()
    assert sum("1 (partial)" in line or "2 (partial)" in line for line in listed) == 2
    # A table to leave out need only be in one of the databases backed up; in none, it is a typo
    other = make_database("opo")
    several = ["backup", "--db-url", db_url(db_settings), "--database", small_db, "--database", other, *data]
    both = json.loads(ok(cloudbackup(*several, "--exclude-table", "u", "--json")))
    assert [b["tables"] for b in both] == [1, 0]
    typo = cloudbackup(*several, "--exclude-table", "nope")
    assert typo.returncode == 2
    assert "--exclude-table nope: no such table" in typo.stderr
    assert len(json.loads(ok(cloudbackup("list", "--json", *data)))) == 4
    # and `latest` never picks a partial backup (a restore would lose rows); its id restores it
    latest = cloudbackup("verify", "--backup", "latest", "--database", small_db, *data)
    assert latest.returncode == 2
    assert "3 partial backup(s)" in latest.stderr
    target = make_database("opp")
    ok(
        cloudbackup(
            "restore",
            "--db-url",
            db_url(db_settings),
            "--backup",
            without_u["id"],
            "--target-database",
            target,
            *data,
        )
    )
    assert tables_of(db_settings, target) == {"t": 300}


def test_a_backup_without_a_table_a_view_reads_leaves_the_view_out_and_every_command_says_so(
    db_settings, small_db, make_database, tmp_path
):
    data = ["--data", str(tmp_path / "data")]
    run = ["--db-url", db_url(db_settings)]
    with admin_connect(db_settings, small_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE VIEW vu AS SELECT id FROM u")
        cur.execute("CREATE VIEW vt AS SELECT id FROM t")
    # Given a backup made without table u, which view vu reads
    made = cloudbackup(
        "backup", "--db-url", db_url(db_settings, small_db), "--exclude-table", "u", "--json", *data
    )
    # Then the backup says in one warning line that it left vu out, and records it
    (backed_up,) = json.loads(ok(made))
    warned = [line for line in made.stderr.splitlines() if "vu" in line]
    assert len(warned) == 1, made.stderr
    assert warned[0].startswith("cloudbackup: warning: "), warned[0]
    assert "leaves out 1 view(s) reading the excluded tables" in warned[0]
    assert (backed_up["excluded_tables"], backed_up["excluded_views"]) == (["u"], ["vu"])
    made_id = backed_up["id"]
    shown = json.loads(ok(cloudbackup("show", "--backup", made_id, "--json", *data)))
    assert (shown["excluded_views"], shown["counts"]["views"]) == (["vu"], 1)
    assert "tables left out: u; views left out: vu" in ok(cloudbackup("show", "--backup", made_id, *data))
    partial = "a partial backup: without tables u and views vu"
    assert partial in ok(cloudbackup("verify", "--backup", made_id, *data))
    # When it is restored whole, and drilled
    target = make_database("opv")
    restored = ok(cloudbackup("restore", *run, "--backup", made_id, "--target-database", target, *data))
    drilled = ok(cloudbackup("drill", *run, "--database", small_db, "--backup", made_id, *data))
    # Then both succeed, saying what the backup lacks, and the restored database holds all the backup does
    assert partial in restored
    assert partial in drilled
    assert tables_of(db_settings, target) == {"t": 300, "vt": 300}


# --- 9. JSON outputs: versioned, documented, only growing ---------------------------------------------

# The fields README.md ("JSON output") promises. Scripts rely on them: a test, so none is ever dropped.
BACKUP_FIELDS = {
    "format",
    "id",
    "source",
    "database",
    "created_at",
    "finished_at",
    "store",
    "location",
    "manifest",
    "size",
    "sha256",
    "compression",
    "tables",
    "rows",
    "server_version",
    "schema_only",
    "excluded_tables",
    "excluded_views",
    "excluded_triggers",
    "programs_naming_excluded",
    "lower_case_table_names",
    "name_case_references",
}
SHOW_FIELDS = BACKUP_FIELDS | {
    "charset",
    "collation",
    "server_flavour",
    "seconds",
    "snapshot",
    "counts",
    "tool_version",
    "table_details",
}
RESTORE_FIELDS = {
    "format",
    "source_database",
    "target_database",
    "backup_id",
    "tables",
    "rows",
    "bytes",
    "seconds",
    "previous_tables_kept_in",
    "definers_rewritten",
    "stale_staging_dropped",
    "dry_run",
    "replaces",
    "restored_tables",
    "schema_only",
    "backup_excluded_tables",
    "backup_excluded_views",
    "backup_excluded_triggers",
    "backup_programs_naming_excluded",
    "triggers_left_out",
    "store",
    "location",
}
VERIFY_FIELDS = {
    "format",
    "id",
    "store",
    "location",
    "database",
    "ok",
    "size",
    "sha256",
    "frames",
    "tables",
    "raw_bytes",
    "excluded_tables",
    "excluded_views",
    "excluded_triggers",
    "programs_naming_excluded",
}


def test_every_json_output_carries_its_format_and_the_documented_fields(
    db_settings, small_db, make_database, tmp_path
):
    data = ["--data", str(tmp_path / "data")]
    (made,) = json.loads(
        ok(cloudbackup("backup", "--db-url", db_url(db_settings, small_db), "--json", *data))
    )
    (listed,) = json.loads(ok(cloudbackup("list", "--json", *data)))
    shown = json.loads(ok(cloudbackup("show", "--backup", made["id"], "--json", *data)))
    verified = json.loads(ok(cloudbackup("verify", "--backup", made["id"], "--json", *data)))
    restored = json.loads(
        ok(
            cloudbackup(
                "restore",
                "--db-url",
                db_url(db_settings),
                "--backup",
                made["id"],
                "--target-database",
                make_database("opj"),
                "--json",
                *data,
            )
        )
    )
    for document, fields in (
        (made, BACKUP_FIELDS),
        (listed, BACKUP_FIELDS),
        (shown, SHOW_FIELDS),
        (verified, VERIFY_FIELDS),
        (restored, RESTORE_FIELDS),
    ):
        assert document["format"] == 1
        assert fields <= set(document), sorted(fields - set(document))
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## JSON output", 1)[1].split("\n## ", 1)[0]
    for field in SHOW_FIELDS | RESTORE_FIELDS | VERIFY_FIELDS:
        assert f"`{field}`" in section, f"README's JSON output section does not name {field}"


def test_prune_and_drill_json_carry_their_format_too(db_settings, small_db, tmp_path):
    # Given a database backed up twice into a local store
    data = ["--data", str(tmp_path / "data")]
    for _ in range(2):
        ok(cloudbackup("backup", "--db-url", db_url(db_settings, small_db), *data))
    # When a script reads prune's and drill's JSON
    pruned = json.loads(ok(cloudbackup("prune", "--keep-last", "1", "--dry-run", "--json", *data)))
    drilled = json.loads(
        ok(cloudbackup("drill", "--db-url", db_url(db_settings), "--database", small_db, "--json", *data))
    )
    # Then each document says its format, as README promises for every --json output
    assert pruned["format"] == 1
    assert len(pruned["deleted"]) == 1
    assert pruned["deleted"][0]["format"] == 1
    assert drilled["format"] == 1
    assert drilled["verified"] is True


def test_a_database_named_in_the_wrong_case_is_said_to_have_no_backups_and_the_right_name_given(
    db_settings, small_db, tmp_path
):
    # Given a backup of a database
    data = ["--data", str(tmp_path / "data")]
    backup_id(db_settings, small_db, data)
    typed = small_db.upper()
    # When the operator lists and restores it under its name in the wrong case
    listed = cloudbackup("list", "--database", typed, *data)
    restored = cloudbackup(
        "restore", "--db-url", db_url(db_settings), "--backup", "latest", "--database", typed,
        "--target-database", small_db + "_copy", *data,
    )  # fmt: skip
    # Then list says there are none of that database (not none at all) and names the one there is
    assert listed.returncode == 0, listed.stderr
    assert f"no complete backups of database {typed!r}" in listed.stdout
    assert f"there are backups of {small_db!r}" in listed.stdout
    # and the restore is refused in one line naming it too, creating nothing
    assert restored.returncode == 2
    assert restored.stderr.count("\n") == 1
    assert f"there are backups of {small_db!r}" in restored.stderr
    assert schemas_named(db_settings, small_db + "_copy") == []
    # and a prune of it (a cron line's typo) warns naming it, deleting nothing
    pruned = cloudbackup("prune", "--keep-last", "1", "--database", typed, *data)
    assert pruned.returncode == 0, pruned.stderr
    assert f"there are backups of {small_db!r}" in pruned.stderr
    assert len(json.loads(ok(cloudbackup("list", "--json", *data)))) == 1


def test_an_empty_name_from_an_unset_variable_is_refused_not_matched_against_nothing(
    db_settings, small_db, tmp_path
):
    # Given a store with a backup of a database
    data = ["--data", str(tmp_path / "data")]
    backup_id(db_settings, small_db, data)
    url = db_url(db_settings)
    for args in (
        ["list", "--database", ""],
        ["prune", "--keep-last", "1", "--database", "", "--dry-run"],
        ["prune", "--keep-last", "1", "--source", " "],
        ["show", "--backup", "latest", "--database", ""],
        ["restore", "--db-url", url, "--backup", "", "--target-database", small_db + "_copy"],
        ["restore", "--db-url", url, "--backup", "latest", "--database", small_db,
         "--target-database", small_db + "_copy", "--table", ""],
        ["backup", "--db-url", url, "--database", small_db, "--source", ""],
        ["backup", "--db-url", url, "--database", ""],
    ):  # fmt: skip
        # When a script passes an unset variable as a name (`--database "$DB"`)
        result = cloudbackup(*args, *data)
        # Then it is refused in one line naming the flag, rather than matching nothing (or the default)
        flag = next(a for a, value in pairwise(args) if not value.strip())
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr == f"cloudbackup: {flag} is empty (an unset variable?): give its value\n"
        assert result.stdout == ""
    # and nothing was made, deleted or restored
    assert len(json.loads(ok(cloudbackup("list", "--json", *data)))) == 1
    assert schemas_named(db_settings, small_db + "_copy") == []
