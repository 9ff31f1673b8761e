"""In-place restores meeting an application's open transaction, a second operator, Ctrl-C and SIGKILL.

The swap's RENAME waits for the application's transactions on the target's tables. Whatever happens
to the restore meanwhile (killed, interrupted, or a second restore of the same database started),
the live database keeps its rows and its triggers; and once the RENAME went through, an interrupt no
longer stops the restore halfway.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from cloudbackup import stopping
from cloudbackup.catalog import find_backup
from cloudbackup.mysql import swap
from cloudbackup.restore import restore_backup
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.mariadb import admin_connect, db_url
from tests.fixtures.processes import communicate_or_kill, stop

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "cloudbackup.cli.main"]
APP = [
    "CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(20))",
    "CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, order_id INT)",
    "CREATE TABLE stock (id INT PRIMARY KEY, qty INT)",
    "CREATE TRIGGER orders_ai AFTER INSERT ON orders FOR EACH ROW "
    "INSERT INTO audit (order_id) VALUES (NEW.id)",
    "CREATE VIEW order_notes AS SELECT id, note FROM orders",
    "INSERT INTO orders VALUES (1, 'at backup'), (2, 'at backup')",
    "INSERT INTO stock VALUES (1, 10)",
]


def run(settings: Any, database: str, *statements: str) -> None:
    with admin_connect(settings, database) as conn, conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
        conn.commit()


def one(settings: Any, sql: str, args: tuple[Any, ...] = ()) -> Any:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0]


def state(settings: Any, database: str) -> tuple[Any, ...]:
    """What an application sees of the database: its rows and its triggers."""
    with admin_connect(settings, database) as conn, conn.cursor() as cur:
        cur.execute("SELECT GROUP_CONCAT(id, ':', note ORDER BY id) FROM orders")
        orders = cur.fetchone()[0]
        cur.execute(
            "SELECT GROUP_CONCAT(trigger_name) FROM information_schema.triggers "
            "WHERE event_object_schema = %s",
            (database,),
        )
        return orders, cur.fetchone()[0]


@pytest.fixture
def app(db_settings, make_database, tmp_path) -> tuple[str, str, tuple[Any, ...]]:
    """A database backed up, then changed: (database, data directory, what the application sees now)."""
    database = make_database("swapsafe")
    run(db_settings, database, *APP)
    data = str(tmp_path / "data")
    made = subprocess.run(
        [*CLI, "backup", "--db-url", db_url(db_settings, database), "--data", data, "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    run(db_settings, database, "UPDATE orders SET note = 'live'", "INSERT INTO orders VALUES (3, 'live')")
    return database, data, state(db_settings, database)


@contextmanager
def open_transaction_on(settings: Any, database: str, table: str) -> Iterator[Any]:
    """An application's transaction holding `table` (its metadata lock) until the block ends."""
    conn = admin_connect(settings, database)
    try:
        with conn.cursor() as cur:
            cur.execute("START TRANSACTION")
            cur.execute(f"SELECT COUNT(*) FROM {table}")
        yield conn
    finally:
        conn.rollback()
        conn.close()


def restore_in_place(settings: Any, database: str, data: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "restore", "--db-url", db_url(settings), "--backup", "latest", "--database", database,
         "--in-place", "--yes", "--data", data],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def restore_in_place_again(settings: Any, database: str, data: str) -> subprocess.CompletedProcess[str]:
    """The operator's next in-place restore of the database, run to its end (its summary as JSON)."""
    return subprocess.run(
        [*CLI, "restore", "--db-url", db_url(settings), "--backup", "latest", "--database", database,
         "--in-place", "--yes", "--data", data, "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def wait_for_the_swap_to_wait(settings: Any, restore: subprocess.Popen[str]) -> None:
    """Until the restore's RENAME waits for the application's transaction."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert restore.poll() is None, restore.communicate()
        waiting = one(
            settings,
            "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'RENAME TABLE%%' "
            "AND state LIKE '%%metadata lock%%'",
        )
        if waiting:
            return
        time.sleep(0.05)
    pytest.fail("the restore's RENAME never waited")


def test_a_restore_killed_while_its_swap_waits_leaves_the_live_tables_and_triggers(db_settings, app):
    # Given an application transaction holding one table of the live database
    database, data, live = app
    with open_transaction_on(db_settings, database, "stock"):
        # When an in-place restore waits for it at its swap, and is killed there (SIGKILL, a timeout)
        restore = restore_in_place(db_settings, database, data)
        wait_for_the_swap_to_wait(db_settings, restore)
        # Then meanwhile the live database still has its triggers
        assert state(db_settings, database) == live
        restore.kill()
        communicate_or_kill(restore, 30)
    # and after it, too: rows and triggers as they were, and an insert still runs its trigger
    assert state(db_settings, database) == live
    run(db_settings, database, "INSERT INTO orders VALUES (4, 'after')")
    assert one(db_settings, f"SELECT COUNT(*) FROM `{database}`.audit WHERE order_id = 4") == 1


def test_ctrl_c_while_the_swap_waits_changes_nothing_and_leaves_no_copy(db_settings, app):
    database, data, live = app
    with open_transaction_on(db_settings, database, "stock"):
        # When an in-place restore is interrupted while its swap waits for the application
        restore = restore_in_place(db_settings, database, data)
        wait_for_the_swap_to_wait(db_settings, restore)
        _, _, err = stop(restore, signal.SIGINT, 60)
    # Then it stops (130), nothing changed, no empty `_before_` copy is left, and no undo step failed
    assert restore.returncode == 130, err
    assert "could not" not in err
    assert state(db_settings, database) == live
    assert one(db_settings, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE %s",
               (f"{database}\\_before\\_%",)) == 0  # fmt: skip


def test_a_second_restore_of_the_same_database_is_refused_while_the_first_runs(db_settings, app):
    database, data, _ = app
    with open_transaction_on(db_settings, database, "stock") as application:
        first = restore_in_place(db_settings, database, data)
        wait_for_the_swap_to_wait(db_settings, first)
        # When a second operator restores the same database meanwhile
        second = subprocess.run(
            [*CLI, "restore", "--db-url", db_url(db_settings), "--backup", "latest", "--database", database,
             "--in-place", "--yes", "--data", data, "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        application.rollback()  # the application's transaction ends: the first swap goes through
        _, err = communicate_or_kill(first, 120)
    # Then the second is refused in one line before it changes anything, and the first completes
    assert second.returncode == 1, second.stderr
    assert f"another restore into {database} is running" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert first.returncode == 0, err
    assert state(db_settings, database) == ("1:at backup,2:at backup", "orders_ai")
    kept = one(db_settings, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE %s",
               (f"{database}\\_before\\_%",))  # fmt: skip
    assert kept == 1


def test_an_interrupt_after_the_swap_finishes_the_restore(db_settings, app, monkeypatch):
    # Given a restore whose tables are already swapped, as it recreates the views
    database, data, _ = app
    entry = find_backup([LocalStorage(Path(data))], "latest", database=database)
    run_script = swap.run_script

    def interrupted(db: Any, into: str, sql: bytes, where: str, *rest: Any) -> Any:
        if where.startswith("routines, views and events"):
            signal.raise_signal(signal.SIGINT)  # When Ctrl-C comes then
        return run_script(db, into, sql, where, *rest)

    monkeypatch.setattr(swap, "run_script", interrupted)
    said: list[str] = []
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
    stopping.interrupt_on_signals(lambda: said.append("stopping"), said.append)
    try:
        result = restore_backup(db_settings, entry, in_place=True)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    # Then the restore goes on to the end (the swap cannot stop halfway), saying why
    assert result.previous_tables_kept_in
    assert said == [
        f"the restored tables are live in {database}; finishing the restore, which cannot stop halfway now"
    ]
    assert state(db_settings, database) == ("1:at backup,2:at backup", "orders_ai")
    assert (
        one(db_settings, "SELECT COUNT(*) FROM information_schema.views WHERE table_schema = %s", (database,))
        == 1
    )


def kill_while_its_swap_waits(settings: Any, database: str, data: str) -> None:
    """An in-place restore, killed (SIGKILL) once its RENAME waits for the application's transaction."""
    killed = restore_in_place(settings, database, data)
    wait_for_the_swap_to_wait(settings, killed)
    killed.kill()
    communicate_or_kill(killed, 30)


def before_copies(settings: Any, database: str) -> list[str]:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
            (f"{database}\\_before\\_%",),
        )
        return sorted(str(name) for (name,) in cur.fetchall())


def wait_for_renames_to_end(settings: Any) -> None:
    deadline = time.monotonic() + 60
    while one(
        settings, "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'RENAME TABLE%%'"
    ):
        assert time.monotonic() < deadline, "a RENAME is still running"
        time.sleep(0.05)


def test_the_empty_copy_of_a_restore_killed_before_its_swap_is_dropped_by_the_next(db_settings, app):
    # Given an in-place restore killed (SIGKILL) while its swap waits for the application: its
    # `_before_` copy was created, but the RENAME that would fill it never ran
    database, data, live = app
    with open_transaction_on(db_settings, database, "stock"):
        kill_while_its_swap_waits(db_settings, database, data)
        wait_for_renames_to_end(db_settings)  # (its last try, still waiting on the server, times out)
    assert state(db_settings, database) == live
    [empty] = before_copies(db_settings, database)
    # When the operator restores the same database again
    again = restore_in_place_again(db_settings, database, data)
    # Then it drops the empty copy and says so; the one copy left holds the tables it replaced
    assert again.returncode == 0, again.stderr
    assert f"dropped {empty}" in again.stderr
    [kept] = before_copies(db_settings, database)
    assert kept != empty
    assert one(db_settings, f"SELECT GROUP_CONCAT(id, ':', note ORDER BY id) FROM `{kept}`.orders") == live[0]
    assert state(db_settings, database) == ("1:at backup,2:at backup", "orders_ai")


# The CLI, killed (SIGKILL: nothing of it runs after) as its swap starts on the new triggers, past the RENAME.
KILLED_AFTER_THE_RENAME = """
import os, signal, sys
from cloudbackup.cli.main import main
from cloudbackup.mysql import swap
run_script = swap.run_script
def killed_there(db, into, sql, where):
    if where.startswith("triggers of"):
        os.kill(os.getpid(), signal.SIGKILL)
    return run_script(db, into, sql, where)
swap.run_script = killed_there
sys.exit(main(sys.argv[1:]))
"""


def restore_killed_after_the_rename(settings: Any, database: str, data: str, *where: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_THE_RENAME, "restore", "--db-url", db_url(settings),
         "--backup", "latest", "--database", database, *where, "--yes", "--data", data],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr


def tables_in(settings: Any, database: str) -> list[str]:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (database,))
        return sorted(str(name) for (name,) in cur.fetchall())


def test_a_new_database_a_restore_was_killed_in_says_so_and_is_not_taken_for_a_restore(db_settings, app):
    # Given a restore into a new database killed (SIGKILL) right after its RENAME: the tables are in,
    # their triggers and the view are not
    database, data, _ = app
    new = f"{database}_new"
    try:
        restore_killed_after_the_rename(db_settings, database, data, "--target-database", new)
        assert one(db_settings, "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = %s",
                   (new,)) == 0  # fmt: skip
        # Then the database itself says it is unfinished
        assert "__cbrestore_unfinished" in tables_in(db_settings, new)
        # and a restore into it again is refused, saying why, instead of "not empty"
        again = subprocess.run(
            [*CLI, "restore", "--db-url", db_url(db_settings), "--backup", "latest", "--database", database,
             "--target-database", new, "--data", data],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert again.returncode == 2, again.stderr
        assert "what a restore that did not finish left" in again.stderr
    finally:
        run(db_settings, "", f"DROP DATABASE IF EXISTS `{new}`")


def test_an_in_place_restore_killed_after_its_rename_leaves_its_target_and_copy_marked_unfinished(
    db_settings, app
):
    # Given an in-place restore killed (SIGKILL) right after its RENAME, before the old table with
    # triggers moved from the target into the `_before_` copy
    database, data, _ = app
    restore_killed_after_the_rename(db_settings, database, data, "--in-place")
    # Then the copy, which lacks that table, says it is unfinished: no operator takes it for the whole
    [copy] = before_copies(db_settings, database)
    assert "orders" not in tables_in(db_settings, copy)
    assert "__cbrestore_unfinished" in tables_in(db_settings, copy)
    # and so does the target, whose new tables came without their triggers
    assert one(db_settings, "SELECT COUNT(*) FROM information_schema.triggers WHERE event_object_schema = %s "
               "AND event_object_table = 'orders'", (database,)) == 0  # fmt: skip
    assert "__cbrestore_unfinished" in tables_in(db_settings, database)
    # while a restore that finishes leaves no such mark, in the target or in its copy
    again = restore_in_place_again(db_settings, database, data)
    assert again.returncode == 0, again.stderr
    kept = json.loads(again.stdout)["previous_tables_kept_in"]
    assert "__cbrestore_unfinished" not in tables_in(db_settings, database)
    assert "__cbrestore_unfinished" not in tables_in(db_settings, kept)


def test_a_database_holding_a_killed_restores_mark_is_restored_in_place_and_by_its_own_backup(
    db_settings, app
):
    # Given a live database holding the mark a killed restore left in it
    database, data, _ = app
    run(db_settings, database, "CREATE TABLE __cbrestore_unfinished (id INT PRIMARY KEY)")

    def restore(*how: str) -> dict[str, Any]:
        done = subprocess.run(
            [*CLI, "restore", "--db-url", db_url(db_settings), "--backup", "latest", "--database", database,
             *how, "--yes", "--data", data, "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    # When it is restored in place, the restore is whole: no mark is left in it or in its copy
    kept = restore("--in-place")["previous_tables_kept_in"]
    assert state(db_settings, database) == ("1:at backup,2:at backup", "orders_ai")
    assert "__cbrestore_unfinished" not in tables_in(db_settings, database)
    assert "__cbrestore_unfinished" not in tables_in(db_settings, kept)
    # and a backup taken with the mark in it restores into a new database, whole
    run(db_settings, database, "CREATE TABLE __cbrestore_unfinished (id INT PRIMARY KEY)")
    made = subprocess.run([*CLI, "backup", "--db-url", db_url(db_settings, database), "--data", data],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert made.returncode == 0, made.stderr
    new = f"{database}_new"
    try:
        restore("--target-database", new)
        assert tables_in(db_settings, new) == ["audit", "order_notes", "orders", "stock"]
    finally:
        run(db_settings, "", f"DROP DATABASE IF EXISTS `{new}`")


def test_a_rename_that_outlives_its_killed_restore_leaves_the_target_marked_unfinished(db_settings, app):
    # Given an in-place restore killed (SIGKILL) while its swap waits for the application, whose
    # transaction then ends at once: the server still runs the dead restore's RENAME (neither server
    # ends a statement waiting for a lock when its client goes), within that try's 2 s
    database, data, live = app
    with open_transaction_on(db_settings, database, "stock"):
        kill_while_its_swap_waits(db_settings, database, data)
    wait_for_renames_to_end(db_settings)
    # Then the target is either as it was, or says it is unfinished (its new tables have no triggers)
    if state(db_settings, database)[0] == live[0]:
        assert "__cbrestore_unfinished" not in tables_in(db_settings, database)
    else:
        assert "__cbrestore_unfinished" in tables_in(db_settings, database)
