"""Tables swapped by RENAME while the dump ran: the one kind of DDL its snapshot does not refuse.

A table created or rebuilt after the snapshot opened fails the read (1412), a dropped one cannot be
read. But RENAME TABLE keeps the table (InnoDB's id and all): after `RENAME TABLE a TO tmp, b TO a,
tmp TO b` the snapshot reads, under the name `a`, b's rows as they were, with no error. What does
change is the creation time the server shows under each name: MySQL keeps it with the table, so it
moves to the other name; MariaDB resets it to the time of the rename. So the creation times are read
before the snapshot opens and again once every table has been read (from then on the dump's
transaction holds each table's metadata lock, and no RENAME of it can run), on another session than
the dump's (MySQL's information_schema shows a transaction its dictionary as of its snapshot): a name
whose time changed was renamed or rebuilt in between, and the dump fails as for any other DDL.

The time is shown to the second: on MySQL two tables made within one second and then swapped, on
MariaDB a swap within the second the tables were made (or last renamed), are not told apart.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pymysql
from pymysql.constants.ER import TABLE_DEF_CHANGED as ER_TABLE_DEF_CHANGED

from cloudbackup.mysql.server_text import text


def creation_times(cur: Any, database: str) -> dict[str, object]:
    """Each base table of `database` by name, with the creation time the server shows for it."""
    cur.execute(
        "SELECT TABLE_NAME, CREATE_TIME FROM information_schema.TABLES"
        " WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'",
        (database,),
    )
    return {text(name): created for name, created in cur.fetchall()}


def check_not_renamed(before: dict[str, object], after: dict[str, object], read: Collection[str]) -> None:
    """Fail as the server does for DDL meanwhile (1412) if a table in `read` shows another creation time."""
    changed = sorted(
        name for name in read if name in before and name in after and before[name] != after[name]
    )
    if changed:
        raise pymysql.err.OperationalError(
            ER_TABLE_DEF_CHANGED, f"Table {changed[0]!r} was renamed or rebuilt while it was dumped"
        )
