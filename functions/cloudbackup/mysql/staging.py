"""Staging databases: a restore loads into one of these, never into the target directly.

A staging database is named recognisably (`{target}__cbrestore_{id}`) and marked alive by a named
lock that its restore holds on its own connection. The server releases the lock when that connection
ends, however the process died (SIGKILL included), so a later restore can tell a stale staging
database from a running one and drop it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pymysql

from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.identifiers import quote_identifier, setting_name

log = logging.getLogger(__name__)

MARK = "__cbrestore_"
UNFINISHED = "__cbrestore_unfinished"  # a table marking a publish under way (mysql/swap.py)
DRILL_MARK = "__cbdrill_"
MAX_NAME = 64  # the server's limit on database names
# A year: the most MySQL and MariaDB take (on Linux). The lock's connection idles through the whole load,
# and a server closing it for that would free the lock while the staging database is still in use.
IDLE_SECONDS = 31536000
_ID_LENGTH = 8
# What a read-only server answers a write with (read_only, super_read_only; MySQL and MariaDB alike).
ER_OPTION_PREVENTS_STATEMENT = 1290
ER_DBACCESS_DENIED = 1044


def staging_prefix(target: str, mark: str = MARK) -> str:
    room = MAX_NAME - len(mark) - _ID_LENGTH
    if mark == DRILL_MARK:
        # A drill's scratch database is restored through a staging database named after it: that name
        # must hold the scratch name whole, or a killed drill's staging database would not be its own
        # (`_ours`), and no later drill would drop it.
        room -= len(MARK) + _ID_LENGTH
    return target[:room] + mark


def _ours(name: str, prefix: str) -> bool:
    """Named as we name them: the prefix and a hex id, or the staging database of a restore into one
    (a drill's scratch database is restored through a staging database of its own)."""
    rest = name[len(prefix) :]
    return re.fullmatch(rf"[0-9a-f]{{{_ID_LENGTH}}}(?:{MARK}[0-9a-f]{{{_ID_LENGTH}}})?", rest) is not None


def working_copy(name: str) -> bool:
    """A restore's staging database or a drill's scratch database: ours, there only while that runs.

    Not a `{db}_before_{ts}` copy: that holds the tables an in-place restore replaced, the operator's.
    """
    marks = f"{re.escape(MARK)}|{re.escape(DRILL_MARK)}"
    return re.search(rf"(?:{marks})[0-9a-f]{{{_ID_LENGTH}}}$", name) is not None


def before_name(target: str, now: datetime, attempt: int = 1) -> str:
    """Where in-place restores keep the previous tables: `{db}_before_{YYYYMMDDTHHMMSS}`, and `_2`, `_3`…
    after it for a second restore of the same database within that second."""
    suffix = f"_before_{now:%Y%m%dT%H%M%S}" + (f"_{attempt}" if attempt > 1 else "")
    return target[: MAX_NAME - len(suffix)] + suffix


def free_before_name(cur: Any, target: str, now: datetime) -> str:
    """before_name, not taken yet on the server."""
    attempt = 1
    while schema_exists(cur, name := before_name(target, now, attempt)):
        attempt += 1
    return name


def _lock_name(staging: str) -> str:
    return "cbrestore:" + hashlib.sha256(staging.encode()).hexdigest()[:48]


def _target_lock_name(target: str) -> str:
    return "cbtarget:" + hashlib.sha256(target.encode()).hexdigest()[:48]


def _locked(cur: Any, name: str) -> bool:
    """Whether this session now holds the named lock (taken without waiting)."""
    cur.execute("SELECT GET_LOCK(%s, 0)", (name,))
    return bool(cur.fetchone()[0] == 1)


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"


def schema_exists(cur: Any, name: str) -> bool:
    cur.execute("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (name,))
    return bool(cur.fetchone()[0])


def schema_contents(cur: Any, name: str) -> list[str]:
    """What a database holds, as `3 tables/views, 1 routine` (empty list when nothing)."""
    counts = []
    for what, sql in (
        ("tables/views", "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s"),
        ("routines", "SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = %s"),
        ("events", "SELECT COUNT(*) FROM information_schema.events WHERE event_schema = %s"),
    ):
        cur.execute(sql, (name,))
        n = int(cur.fetchone()[0])
        if n:
            counts.append(f"{n} {what}")
    return counts


def clean_stale(cur: Any, target: str, mark: str = MARK) -> list[str]:
    """Drop staging databases of `target` whose restore is gone (its lock is free)."""
    prefix = staging_prefix(target, mark)
    cur.execute(
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
        (_like_prefix(prefix),),
    )
    dropped = []
    for (name,) in cur.fetchall():
        if not _ours(name, prefix):
            continue
        cur.execute("SELECT IS_FREE_LOCK(%s)", (_lock_name(name),))
        if cur.fetchone()[0] == 1:
            cur.execute(f"DROP DATABASE IF EXISTS {quote_identifier(name)}")
            log.warning("dropped %s, left behind by a restore that did not finish", name)
            dropped.append(name)
    return dropped


def clean_empty_copies(cur: Any, target: str) -> list[str]:
    """Drop `{target}_before_…` databases that hold nothing (but the unfinished mark). An in-place
    restore creates its copy just before the RENAME that fills it: one killed in between (SIGKILL)
    leaves it empty, which an operator could take for the copy of their tables. Called under the
    target's lock, so no running restore's."""
    cur.execute(
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
        (_like_prefix(target[: MAX_NAME - 32]),),  # (before_name cuts a long target to fit its suffix)
    )
    dropped = []
    for (name,) in cur.fetchall():
        suffix = re.search(r"_before_[0-9]{8}T[0-9]{6}(?:_[0-9]+)?$", name)
        if suffix is None or name != target[: MAX_NAME - len(suffix[0])] + suffix[0]:
            continue
        cur.execute("SELECT IS_FREE_LOCK(%s)", (_target_lock_name(name),))  # (not a restore's new target)
        if cur.fetchone()[0] == 1 and _holds_nothing_but_the_mark(cur, name):
            cur.execute(f"DROP DATABASE IF EXISTS {quote_identifier(name)}")
            log.warning("dropped %s, an empty copy left by an in-place restore that did not finish", name)
            dropped.append(name)
    return dropped


def marked_unfinished(cur: Any, database: str) -> bool:
    """Whether `database` holds the mark of a publish that never finished (see mysql/swap.py)."""
    cur.execute(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (database, UNFINISHED),
    )
    return bool(cur.fetchone()[0])


def _holds_nothing_but_the_mark(cur: Any, database: str) -> bool:
    contents = schema_contents(cur, database)
    return not contents or (contents == ["1 tables/views"] and marked_unfinished(cur, database))


@contextmanager
def _read_only_refused(target: str) -> Iterator[None]:
    """A server that takes no write from this account, said in one line (not the driver's error)."""
    try:
        yield
    except pymysql.err.OperationalError as exc:
        if not exc.args or exc.args[0] != ER_OPTION_PREVENTS_STATEMENT:
            raise
        raise OperationError(
            "the server is read-only for this account (read_only or super_read_only is ON); "
            f"nothing was changed: restore into {target} on a writable server (the primary)"
        ) from None


def _creation_refused(cur: Any, staging: str, target: str) -> OperationError:
    """The account may not create the staging database: which grant it lacks, in one line."""
    cur.execute("SELECT CURRENT_USER()")
    user = str(cur.fetchone()[0])
    cur.execute("SHOW GLOBAL VARIABLES LIKE 'partial_revokes'")  # (MySQL 8.0.16+ only: no row elsewhere)
    literal = any(str(value).upper() in ("ON", "1") for _, value in cur.fetchall())
    pattern = "`" + staging_prefix(target).replace("_", "\\_") + "%`.*"
    why = (
        "; partial_revokes is ON on this server, which reads `%` and `_` in a database grant literally: "
        "grant ALL ON *.* and revoke what the account must not have (REVOKE … ON mysql.* and the "
        "other databases)"
        if literal
        else ""
    )
    return OperationError(
        f"{user} may not create {staging}, the restore's staging database; nothing was changed: "
        f"grant it ALL ON {pattern} (README: least privilege){why}"
    )


class StagingDatabase:
    """A fresh staging database for `target`; `drop()` removes it (call it in a finally).

    `mark` names what it is for: `__cbrestore_` for a restore, `__cbdrill_` for a drill's scratch copy.
    """

    def __init__(
        self, db: DbSettings, target: str, *, charset: str, collation: str, mark: str = MARK
    ) -> None:
        self.db = db
        self.conn = connect(db, database="")
        self.stale_dropped: list[str] = []
        self.name = ""
        try:
            with self.conn.cursor() as cur:
                cur.execute(f"SET SESSION wait_timeout = {IDLE_SECONDS}")
                # One restore into a target at a time: two swaps that each read the target's tables
                # before the other's RENAME would leave a mix of both backups (both saying done).
                # (A drill's scratch copy is named after the source, which it never changes.)
                if mark == MARK and not _locked(cur, _target_lock_name(target)):
                    raise OperationError(
                        f"another restore into {target} is running; nothing was changed: "
                        "let it finish (or stop it), then restore again"
                    )
                with _read_only_refused(target):  # the restore's first writes
                    self.stale_dropped = clean_stale(cur, target, mark)
                    if mark == MARK:
                        self.stale_dropped += clean_empty_copies(cur, target)
                    self.name = staging_prefix(target, mark) + secrets.token_hex(_ID_LENGTH // 2)
                    _locked(cur, _lock_name(self.name))  # (a new random name: always free)
                    try:
                        cur.execute(
                            f"CREATE DATABASE {quote_identifier(self.name)} "
                            f"CHARACTER SET {setting_name(charset)} COLLATE {setting_name(collation)}"
                        )
                    except pymysql.err.OperationalError as exc:
                        if not exc.args or exc.args[0] != ER_DBACCESS_DENIED:
                            raise
                        raise _creation_refused(cur, self.name, target) from None
        except BaseException:
            self.conn.close()
            raise

    def drop(self) -> None:
        try:
            with self.conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {quote_identifier(self.name)}")
                cur.execute("SELECT RELEASE_LOCK(%s)", (_lock_name(self.name),))
        except Exception as exc:  # its connection is gone (and the lock with it): drop it on a new one
            log.debug("staging connection lost (%s); dropping %s on a new one", exc, self.name)
            self._drop_elsewhere()
        finally:
            try:
                self.conn.close()
            except Exception as exc:
                log.debug("closing the staging connection: %s", exc)

    def _drop_elsewhere(self) -> None:
        try:
            with connect(self.db, database="") as conn, conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {quote_identifier(self.name)}")
        except Exception as exc:  # the server is out of reach: a later restore of the target cleans up
            log.warning("could not drop staging database %s: %s", self.name, exc)
