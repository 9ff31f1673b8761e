"""Listing one database's triggers does not wait on a RENAME pending in another database.

MariaDB narrows an information_schema.triggers scan by EVENT_OBJECT_SCHEMA only: filtered on
TRIGGER_SCHEMA it opens every table of every database, and waits on each one a pending RENAME holds.
A restore's swap is such a RENAME (several tables at once, waiting for open transactions), so a
backup or restore of an unrelated database stalled behind it.
"""

import threading
import time

import pytest

from cloudbackup.mysql.triggers import triggers_by_table
from tests.fixtures.mariadb import admin_connect

# Far above what the listing may take: on the old query each locked table cost a full wait.
LISTING_LOCK_WAIT_SECONDS = 10
QUICK_SECONDS = 2


@pytest.fixture
def pending_rename(db_settings, make_database):
    """A RENAME TABLE of two tables of another database, waiting on an open transaction's lock.

    The RENAME takes its locks in name order: `a`'s is granted at once, then it waits for `t`'s.
    """
    other = make_database("renamed")
    with admin_connect(db_settings, other) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE a (id INT PRIMARY KEY)")
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY)")
    with admin_connect(db_settings, other) as holder, admin_connect(db_settings, other) as renamer:
        holder.begin()
        holder.cursor().execute("SELECT * FROM t")
        rename = threading.Thread(
            target=lambda: renamer.cursor().execute("RENAME TABLE a TO a2, t TO t2"), daemon=True
        )
        rename.start()
        try:
            wait_until_renaming(db_settings, renamer.thread_id())
            yield
        finally:
            holder.rollback()  # the RENAME goes through
            rename.join(timeout=30)


def wait_until_renaming(db_settings, thread_id):
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        for _ in range(100):
            cur.execute("SELECT state FROM information_schema.processlist WHERE id = %s", (thread_id,))
            row = cur.fetchone()
            if row and "metadata lock" in (row[0] or ""):
                return
            time.sleep(0.05)
    pytest.fail("the RENAME never waited for its metadata lock")


def test_trigger_listing_does_not_wait_on_a_rename_in_another_database(
    db_settings, make_database, pending_rename
):
    # Given a database with a trigger, and a RENAME waiting in another database
    database = make_database("listed")
    with admin_connect(db_settings, database) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE u (id INT PRIMARY KEY)")
        cur.execute("CREATE TRIGGER tr BEFORE INSERT ON u FOR EACH ROW SET NEW.id = NEW.id")

    # When its triggers are listed, on a session that would wait long for a lock
    init = f"SET SESSION lock_wait_timeout = {LISTING_LOCK_WAIT_SECONDS}"
    with admin_connect(db_settings, database, init_command=init) as conn, conn.cursor() as cur:
        started = time.monotonic()
        found = triggers_by_table(cur, database)
        took = time.monotonic() - started

    # Then they are found at once
    assert found == {"u": ["tr"]}
    assert took < QUICK_SECONDS, f"listing the triggers took {took:.1f} s"
