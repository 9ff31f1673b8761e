"""Publish a loaded staging database as the target: one atomic RENAME TABLE, then the other objects.

MariaDB refuses to RENAME a table that has triggers into another database (error 1435, "Trigger in
wrong schema"), RENAME is not allowed under LOCK TABLES, and views, routines and events cannot move
between databases at all. So the swap is:

1. read every definition needed (new triggers, routines, views from staging; old triggers from the
   target) while nothing has changed yet, and drop the triggers in staging (private);
2. ONE `RENAME TABLE` moving the new tables into the target and the old ones to `{db}_before_{ts}`
   (readers and writers see either all old tables or all new ones; it waits for open transactions,
   at most lock_wait_timeout). An old table with triggers cannot go to another database, so it steps
   aside within the target (`__cbaside_…`), where its triggers stay: writers that run while the RENAME
   waits still fire them, and a restore killed meanwhile has changed nothing. Only a table that also
   has FOREIGN KEY or CHECK constraints cannot (their names are unique per database, and the new
   table brings the same ones): its triggers are dropped just before the RENAME, as the only way;
3. drop the aside tables' triggers (trigger names are per database, and nothing uses those tables
   now), create the new ones, and move the aside tables to `{db}_before_{ts}`.
A table `__cbrestore_unfinished` marks what a restore killed past step 2 (SIGKILL: nothing can run
then) leaves incomplete: the target (it comes with the RENAME, as the aside tables appear there) and
the `{db}_before_{ts}` copy (made with it). It is dropped last, once the restore is whole.
A failure in 2-3 puts the old tables and triggers back (reverse RENAME), on a connection of its own
(an interrupted statement leaves its own unusable). Past the RENAME an interrupt (Ctrl-C, SIGTERM)
no longer stops the restore: undoing a swap that went through would change the live tables a second
time. Routines, views and events are then replaced (full restores only); a failure there is reported
with where the old ones are. What MySQL refuses there for want of SYSTEM_USER (an object root defined)
is refused in step 1 instead, before anything changes (mysql/system_user.py). One restore publishes
into a target at a time (mysql/staging.py).
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pymysql

from cloudbackup import stopping
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.definer import DefinerPolicy
from cloudbackup.mysql.identifiers import quote_identifier, setting_literal, setting_name
from cloudbackup.mysql.load import Loader
from cloudbackup.mysql.routines import events_section, list_events, list_routines, routines_section
from cloudbackup.mysql.server_text import SHOW_SQL_MODE
from cloudbackup.mysql.splitter import split_statements
from cloudbackup.mysql.staging import UNFINISHED, free_before_name, schema_exists
from cloudbackup.mysql.system_user import refuse_unreplaceable
from cloudbackup.mysql.triggers import table_triggers, triggers_by_table
from cloudbackup.mysql.views import views_section
from cloudbackup.preflight.new_target import refuse_unremovable_new_target

log = logging.getLogger(__name__)

ER_LOCK_WAIT_TIMEOUT = 1205
ASIDE = "__cbaside_"  # the old tables' names in the target between the RENAME and their move
ATTEMPT_SECONDS = 2  # one try of the swap's RENAME waits at most this long (see _rename_when_free)
ATTEMPT_PAUSE_SECONDS = 0.2
GONE_SECONDS = 10  # how long an undo waits for an interrupted swap's statement to end on the server
TABLE_TYPES = ("BASE TABLE", "SYSTEM VERSIONED", "SEQUENCE")
_IDENT = r"`(?:[^`]|``)+`"
_FOREIGN_KEY = re.compile(
    rf"^\s*CONSTRAINT ({_IDENT}) FOREIGN KEY .*? REFERENCES ({_IDENT})(?:\.({_IDENT}))? \(.*$", re.M
)


@dataclass
class SwapPlan:
    staging: str
    target: str
    charset: str
    collation: str
    in_place: bool
    tables: list[str] | None = None  # None: every table of staging, and the other objects too
    events_sql: bytes = b""  # CREATE EVENTs held back from staging (they would fire there)
    lock_wait_timeout: int = 60
    # The restore's --definer: the copies of the replaced objects follow it too, since an account
    # that may not keep another user's definer (RDS) cannot re-create the live objects as they are.
    definer: DefinerPolicy = "keep"
    # Filled by publish: the kept copies whose DEFINER was rewritten, each naming the copy's database.
    definers_rewritten: list[str] = field(default_factory=list)

    @property
    def whole(self) -> bool:
        return self.tables is None


def q(name: str) -> str:
    return quote_identifier(name)


def tables_of(cur: Any, database: str) -> list[str]:
    cur.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type IN "
        f"({', '.join(['%s'] * len(TABLE_TYPES))}) ORDER BY table_name",
        (database, *TABLE_TYPES),
    )
    return [str(name) for (name,) in cur.fetchall()]


def views_of(cur: Any, database: str) -> list[str]:
    cur.execute(
        "SELECT table_name FROM information_schema.views WHERE table_schema = %s ORDER BY table_name",
        (database,),
    )
    return [str(name) for (name,) in cur.fetchall()]


def run_script(
    db: DbSettings, database: str, sql: bytes, where: str, definer: DefinerPolicy = "keep"
) -> list[str]:
    """Run generated SQL (with DELIMITER lines) in `database`, statement by statement. Returns the
    objects whose DEFINER `definer` rewrote (see mysql/definer.py)."""
    if not sql.strip():
        return []
    with Loader(db, database, jobs=1, definer=definer) as loader:
        for stmt in split_statements([sql], modes=loader.modes):
            loader.run(stmt, where)
        loader.wait()
        return loader.definers_rewritten


def publish(db: DbSettings, plan: SwapPlan) -> str | None:
    """Make the staging tables the target's. Returns where the previous tables were kept (in place)."""
    conn = connect(db, database=plan.staging)
    try:
        with conn.cursor() as cur:
            # The swap reads SHOW CREATE TABLE and column defaults back and rewrites the database names
            # in them: under the server's sql_mode (ANSI_QUOTES) those would come quoted with `"` and
            # match nothing, leaving references to the staging database this restore drops.
            cur.execute(
                f"SET SESSION lock_wait_timeout = {int(plan.lock_wait_timeout)}, foreign_key_checks = 0, "
                f"sql_mode = {setting_literal(SHOW_SQL_MODE)}"
            )
            return _publish(db, conn, cur, plan)
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args else 0
        message = " ".join(str(exc.args[1] if len(exc.args) > 1 else exc).split())
        hint = ""
        if code == ER_LOCK_WAIT_TIMEOUT:
            hint = (
                f" (another session held {plan.target}'s tables for {plan.lock_wait_timeout} s: "
                "an open transaction or LOCK TABLES; try again when it is done)"
            )
        raise OperationError(
            f"swapping the restored tables into {plan.target}: error {code}: {message}{hint}"
        ) from None
    finally:
        if conn.open:  # (an undo closes it itself)
            conn.close()


@dataclass
class _Swap:
    """What the swap has done so far, for an undo."""

    target: str
    moving: list[str]
    old: list[str]
    aside: dict[str, str]  # old table -> its name in the target between the RENAME and its move
    keep: str | None
    old_triggers: dict[str, bytes]  # old table -> its CREATE TRIGGERs (tables with triggers only)
    created_target: bool
    triggers_dropped: list[str] = field(default_factory=list)  # old tables whose triggers are gone
    moved_aside: bool = False

    def where_old(self, table: str) -> str:
        """Where an old table is right after the RENAME (qualified)."""
        aside = self.aside.get(table)
        return f"{q(self.keep or '')}.{q(table)}" if aside is None else f"{q(self.target)}.{q(aside)}"


def _publish(db: DbSettings, conn: Any, cur: Any, plan: SwapPlan) -> str | None:
    staging, target = plan.staging, plan.target
    # (a mark a backup of a half-restored database brought along is not a table of the restore's)
    moving = [t for t in tables_of(cur, staging) if t != UNFINISHED]
    if plan.tables is not None:
        moving = [t for t in moving if t in plan.tables]
    # 1. Every definition, before anything changes.
    new_triggers = b"".join(table_triggers(cur, t, database=staging) for t in moving)
    new_objects = b""
    if plan.whole:
        new_objects = routines_section(cur, list_routines(cur, staging)) + views_section(
            cur, views_of(cur, staging), database=staging
        )
    keep: str | None = None
    old: list[str] = []
    old_triggers: dict[str, bytes] = {}
    old_objects = b""
    created_target = False
    constrained: set[str] = set()
    if plan.in_place and schema_exists(cur, target):
        cur.execute(f"USE {q(target)}")
        live = tables_of(cur, target)
        old = [t for t in live if (plan.whole or t in moving) and t != UNFINISHED]
        old_triggers = {t: sql for t in old if (sql := table_triggers(cur, t, database=target))}
        constrained = _with_named_constraints(cur, target)
        if plan.whole:
            old_objects = _objects_section(cur, target)
        # Asked before the load too: asked again now, the last moment nothing has changed (an object
        # root redefined meanwhile would stop the restore half way otherwise).
        refuse_unreplaceable(cur, target, db.user, with_triggers=plan.definer == "keep", tables=plan.tables)
        cur.execute(f"USE {q(staging)}")
        keep = free_before_name(cur, target, datetime.now(UTC))
        marked = UNFINISHED in live  # (by a restore that never finished: this one drops it at its end)
    else:
        created_target = not schema_exists(cur, target)
        marked = False
    token = secrets.token_hex(4)
    swap = _Swap(
        target=target,
        moving=moving,
        old=old,
        aside={t: f"{ASIDE}{token}_{n}" for n, t in enumerate(old_triggers) if t not in constrained},
        keep=keep,
        old_triggers=old_triggers,
        created_target=False,  # (set once this restore has created it: only then is it its to drop)
    )
    with ExitStack() as past_the_swap:
        try:
            # From the first database this creates, a failure takes it away again (_undo): a new target
            # left empty would read as restored, a kept copy as what a restore replaced.
            if keep is not None:
                cur.execute(f"CREATE DATABASE {q(keep)} CHARACTER SET {_charset_of(cur, target)}")
                _mark_unfinished(cur, keep)
            elif created_target:
                refuse_unremovable_new_target(cur, db.user, target)  # (asked before the load too)
                # (No IF NOT EXISTS: one that another session created meanwhile is not this restore's.)
                cur.execute(
                    f"CREATE DATABASE {q(target)} "
                    f"CHARACTER SET {setting_name(plan.charset)} COLLATE {setting_name(plan.collation)}"
                )
                swap.created_target = True
            if not marked:
                _mark_unfinished(cur, staging)
                moving.append(UNFINISHED)  # (into the target with the new tables, in the same RENAME)
            _drop_triggers(cur, staging, moving)
            # (A whole restore too: a backup or dump file without a parent table, older or mysqldump's
            # --ignore-table, would leave its children's keys naming the staging database dropped at the
            # end.)
            _repoint_foreign_keys(cur, staging, moving, away_from=staging, to=target)
            # The triggers of tables that cannot step aside: from here until the new ones exist,
            # writers to those tables run without them.
            bare = [t for t in old_triggers if t not in swap.aside]
            swap.triggers_dropped = _drop_triggers(cur, target, bare)
            # 2. The one atomic step; the tables aside keep their triggers while it waits.
            pairs = [(f"{q(target)}.{q(t)}", swap.where_old(t)) for t in old]
            pairs += [(f"{q(staging)}.{q(t)}", f"{q(target)}.{q(t)}") for t in moving]
            if pairs:
                _rename_when_free(cur, _rename(pairs), plan)
            past_the_swap.enter_context(
                stopping.interrupts_deferred(
                    f"the restored tables are live in {target}; finishing the restore, "
                    "which cannot stop halfway now"
                )
            )
            if not swap.created_target and not plan.in_place:
                # An existing empty target takes the source's defaults, as a new one is created with them.
                cur.execute(
                    f"ALTER DATABASE {q(target)} "
                    f"CHARACTER SET {setting_name(plan.charset)} COLLATE {setting_name(plan.collation)}"
                )
            # 3. The old triggers go (their names are the new ones'), the new ones come, and the old
            # tables move to their kept copy.
            aside_names = {name: t for t, name in swap.aside.items()}
            swap.triggers_dropped += [
                aside_names[name] for name in _drop_triggers(cur, target, list(aside_names))
            ]
            run_script(db, target, new_triggers, f"triggers of {target}")
            _repoint_sequences(cur, target, staging, moving)
            if swap.aside:
                pairs = [
                    (f"{q(target)}.{q(name)}", f"{q(keep or '')}.{q(t)}") for t, name in swap.aside.items()
                ]
                cur.execute(_rename(pairs))
            swap.moved_aside = True
        except BaseException:
            _undo(db, conn, plan, swap)
            raise
        # Past the swap: the new tables are live. A failure below cannot bring the old ones back atomically.
        try:
            if keep is not None:
                if plan.tables is not None:
                    # The kept copy must not name the live tables, and the live tables that stayed must
                    # not follow their old parents into the copy (InnoDB moves references with a RENAME).
                    _repoint_foreign_keys(cur, keep, old, away_from=target, to=keep)
                    stayed = [t for t in tables_of(cur, target) if t not in moving]
                    _repoint_foreign_keys(cur, target, stayed, away_from=keep, to=target)
                rewritten = run_script(
                    db,
                    keep,
                    b"".join(old_triggers.values()) + old_objects,
                    f"previous objects kept in {keep}",
                    plan.definer,
                )
                plan.definers_rewritten += [f"{name} in {keep}" for name in rewritten]
                _repoint_sequences(cur, keep, target, old)
            if plan.whole:
                if plan.in_place:
                    _drop_objects(cur, target)
                run_script(
                    db, target, new_objects + plan.events_sql, f"routines, views and events of {target}"
                )
            # Whole now (the target too, should a killed restore have left its mark there).
            for database in [target] + ([keep] if keep else []):
                cur.execute(f"DROP TABLE IF EXISTS {q(database)}.{q(UNFINISHED)}")
        except (OperationError, pymysql.err.MySQLError) as exc:
            kept = f"; the previous tables are in {keep}" if keep else ""
            raise OperationError(f"tables restored into {target}, but then {exc}{kept}") from None
    return keep


def _mark_unfinished(cur: Any, database: str) -> None:
    # (a primary key: a server with sql_require_primary_key=ON refuses a table without one)
    cur.execute(
        f"CREATE TABLE IF NOT EXISTS {q(database)}.{q(UNFINISHED)} (id INT PRIMARY KEY) "
        "COMMENT 'left by a restore killed before it finished: this database is incomplete'"
    )


def _rename(pairs: Sequence[tuple[str, str]]) -> str:
    """One RENAME TABLE of every (from, to) pair of qualified names: all of them move, or none."""
    return "RENAME TABLE " + ", ".join(f"{a} TO {b}" for a, b in pairs)


def _rename_when_free(cur: Any, rename: str, plan: SwapPlan) -> None:
    """Run the swap's RENAME, waiting at most plan.lock_wait_timeout in all for the transactions on
    the target's tables, but in tries of ATTEMPT_SECONDS. A RENAME waits on the server whatever
    becomes of its client: MySQL runs one whose client was killed as soon as the tables are free,
    and publishes tables the dead restore never gave their triggers. Short tries bound how long
    such a statement can outlive its restore."""
    deadline = time.monotonic() + plan.lock_wait_timeout
    while True:
        wait = max(1, min(ATTEMPT_SECONDS, int(deadline - time.monotonic() + 0.999)))
        cur.execute(f"SET SESSION lock_wait_timeout = {wait}")
        try:
            cur.execute(rename)
            break
        except pymysql.err.MySQLError as exc:
            if not exc.args or exc.args[0] != ER_LOCK_WAIT_TIMEOUT or time.monotonic() >= deadline:
                raise
        time.sleep(ATTEMPT_PAUSE_SECONDS)  # the application's writers go on meanwhile
    cur.execute(f"SET SESSION lock_wait_timeout = {int(plan.lock_wait_timeout)}")


def _with_named_constraints(cur: Any, database: str) -> set[str]:
    """Tables of `database` with FOREIGN KEY or CHECK constraints, whose names the server keeps unique
    per database (InnoDB's foreign keys; MySQL's checks)."""
    cur.execute(
        "SELECT DISTINCT table_name FROM information_schema.table_constraints "
        "WHERE constraint_schema = %s AND constraint_type IN ('FOREIGN KEY', 'CHECK')",
        (database,),
    )
    return {str(name) for (name,) in cur.fetchall()}


def _objects_section(cur: Any, database: str) -> bytes:
    return (
        routines_section(cur, list_routines(cur, database))
        + views_section(cur, views_of(cur, database), database=database)
        + events_section(cur, list_events(cur, database))
    )


def _charset_of(cur: Any, database: str) -> str:
    cur.execute(
        "SELECT default_character_set_name, default_collation_name FROM information_schema.schemata "
        "WHERE schema_name = %s",
        (database,),
    )
    charset, collation = cur.fetchone()
    return f"{setting_name(str(charset))} COLLATE {setting_name(str(collation))}"


def _drop_triggers(cur: Any, database: str, tables: Sequence[str]) -> list[str]:
    """Drop the triggers of `tables`; returns the tables that had some."""
    wanted = set(tables)
    had = []
    for table, names in triggers_by_table(cur, database).items():
        if table in wanted:
            for name in names:
                cur.execute(f"DROP TRIGGER {q(database)}.{q(name)}")
            had.append(table)
    return had


def _drop_objects(cur: Any, database: str) -> None:
    """The previous views, routines and events of an in-place target (their copies are kept)."""
    for view in views_of(cur, database):
        _drop(cur, "VIEW", database, view)
    cur.execute(
        "SELECT routine_type, routine_name FROM information_schema.routines WHERE routine_schema = %s "
        "ORDER BY routine_type = 'PACKAGE'",  # package bodies before their specifications
        (database,),
    )
    for kind, name in cur.fetchall():
        _drop(cur, str(kind), database, str(name))
    for name in list_events(cur, database):
        _drop(cur, "EVENT", database, name)


def _drop(cur: Any, kind: str, database: str, name: str) -> None:
    try:
        if kind.startswith("PACKAGE"):
            # MariaDB before 11.4 knows the word PACKAGE only under sql_mode ORACLE, in DROP too.
            cur.execute("SET sql_mode = 'ORACLE'")
            try:
                cur.execute(f"DROP {kind} IF EXISTS {q(database)}.{q(name)}")
            finally:
                cur.execute(f"SET sql_mode = {setting_literal(SHOW_SQL_MODE)}")
        else:
            cur.execute(f"DROP {kind} IF EXISTS {q(database)}.{q(name)}")
    except pymysql.err.MySQLError as exc:
        message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        if "SYSTEM_USER" not in message:
            raise
        # MySQL's orphan-object protection: an object whose definer holds SYSTEM_USER (root, a DBA)
        # may be dropped only by an account holding it too, which no account on RDS does.
        raise OperationError(
            f"dropping {kind.lower()} {name} (definer {_definer(cur, kind, database, name)}) needs "
            "SYSTEM_USER, which MySQL requires to replace an object whose definer holds it: restore in "
            "place as an account with SYSTEM_USER, or into a new database (--target-database)"
        ) from None


def _definer(cur: Any, kind: str, database: str, name: str) -> str:
    if kind == "VIEW":
        sql = "SELECT definer FROM information_schema.views WHERE table_schema = %s AND table_name = %s"
    elif kind == "EVENT":
        sql = "SELECT definer FROM information_schema.events WHERE event_schema = %s AND event_name = %s"
    else:
        sql = (
            "SELECT definer FROM information_schema.routines WHERE routine_schema = %s AND routine_name = %s"
        )
    cur.execute(sql, (database, name))
    row = cur.fetchone()
    return str(row[0]) if row else "unknown"


def _repoint_foreign_keys(cur: Any, database: str, tables: Sequence[str], *, away_from: str, to: str) -> None:
    """Foreign keys of `tables` (in `database`) to tables of `away_from` that are not among them: point
    them at `to`. InnoDB keeps a reference's database when the referencing table moves, so a subset
    restored into the target would still name staging, and the kept copy would name the live tables."""
    cur.execute(
        "SELECT DISTINCT table_name FROM information_schema.referential_constraints "
        "WHERE constraint_schema = %s",
        (database,),
    )
    with_keys = {str(name) for (name,) in cur.fetchall()}
    for table in (t for t in tables if t in with_keys):
        cur.execute(f"SHOW CREATE TABLE {q(database)}.{q(table)}")
        row = cur.fetchone()
        if len(row) < 2 or "FOREIGN KEY" not in str(row[1]):
            continue
        for m in _FOREIGN_KEY.finditer(str(row[1])):
            name, first, second = m.group(1), m.group(2), m.group(3)
            ref_db = _unquote(first) if second else database
            ref_table = _unquote(second or first)
            if ref_db != away_from or (ref_db == database and ref_table in tables):
                continue
            reference = f"{first}.{second}" if second else first
            line = m.group(0).strip().rstrip(",")
            line = line.replace(f" REFERENCES {reference} ", f" REFERENCES {q(to)}.{q(ref_table)} ", 1)
            cur.execute(f"ALTER TABLE {q(database)}.{q(table)} DROP FOREIGN KEY {name}")
            cur.execute(f"ALTER TABLE {q(database)}.{q(table)} ADD {line}")


def _unquote(identifier: str) -> str:
    return identifier[1:-1].replace("``", "`") if identifier.startswith("`") else identifier


def _repoint_sequences(cur: Any, database: str, old_db: str, tables: Sequence[str]) -> None:
    """Defaults calling NEXTVAL are stored qualified: after a move they still name the old database."""
    if not tables:
        return
    pattern = f"%`{old_db}`.%".replace("_", "\\_")
    cur.execute(
        "SELECT table_name, column_name, column_default FROM information_schema.columns "
        "WHERE table_schema = %s AND column_default LIKE %s",
        (database, pattern),
    )
    for table, column, default in cur.fetchall():
        if table in tables:
            fixed = str(default).replace(f"{q(old_db)}.", f"{q(database)}.")
            cur.execute(f"ALTER TABLE {q(database)}.{q(table)} ALTER COLUMN {q(column)} SET DEFAULT {fixed}")


def _undo(db: DbSettings, conn: Any, plan: SwapPlan, swap: _Swap) -> None:
    """Put the target back as it was after a failure or an interrupt in the swap (best effort, each
    step logged). It works on a connection of its own: an interrupted RENAME leaves the swap's
    unusable, and may still be waiting on the server, so that statement is ended first and what
    the server did is read back rather than assumed."""
    target, staging, keep = plan.target, plan.staging, swap.keep
    try:
        fresh = connect(db, database="")
    except Exception as exc:
        log.error("undoing the swap into %s: could not connect: %s", target, exc)
        return
    with fresh, fresh.cursor() as cur:
        _end_session(cur, conn)
        renamed = _went_through(cur, plan, swap)
        steps: list[tuple[str, Any]] = []
        if renamed and not swap.moved_aside:
            pairs = [(f"{q(target)}.{q(t)}", f"{q(staging)}.{q(t)}") for t in swap.moving]
            pairs += [(swap.where_old(t), f"{q(target)}.{q(t)}") for t in swap.old]
            steps.append(("drop new triggers", lambda: _drop_triggers(cur, target, swap.moving)))
            if pairs:
                steps.append(
                    (
                        "rename back",
                        lambda: cur.execute(_rename(pairs)),
                    )
                )
        if swap.triggers_dropped and not swap.moved_aside:
            again = b"".join(swap.old_triggers[t] for t in swap.triggers_dropped)
            steps.append(("recreate old triggers", lambda: run_script(db, target, again, "undo")))
        if keep is not None:
            steps.append(("drop the unused copy", lambda: cur.execute(f"DROP DATABASE IF EXISTS {q(keep)}")))
        if swap.created_target:
            steps.append(("drop the new target", lambda: cur.execute(f"DROP DATABASE IF EXISTS {q(target)}")))
        for what, step in steps:
            try:
                step()
            except Exception as exc:
                log.error("undoing the swap into %s: could not %s: %s", target, what, exc)


def _went_through(cur: Any, plan: SwapPlan, swap: _Swap) -> bool:
    """Whether the swap's RENAME happened, read from where the first table it moves is now."""
    if swap.old:
        first = swap.old[0]
        if first in swap.aside:
            return swap.aside[first] in _tables_if_any(cur, plan.target)
        return first in _tables_if_any(cur, swap.keep or "")
    return bool(swap.moving) and swap.moving[0] in _tables_if_any(cur, plan.target)


def _tables_if_any(cur: Any, database: str) -> list[str]:
    return tables_of(cur, database) if database and schema_exists(cur, database) else []


def _end_session(cur: Any, conn: Any) -> None:
    """End the swap's own session and wait until the server has: a RENAME it was waiting on must not
    go through after the undo has looked."""
    thread_id = int(conn.thread_id())  # (known since it connected, whatever its socket's state)
    with contextlib.suppress(Exception):  # an interrupted or closed connection may not close cleanly
        conn.close()
    with contextlib.suppress(pymysql.err.MySQLError):  # (it ended already)
        cur.execute(f"KILL CONNECTION {thread_id}")
    deadline = time.monotonic() + GONE_SECONDS
    while time.monotonic() < deadline:
        cur.execute("SELECT COUNT(*) FROM information_schema.processlist WHERE id = %s", (thread_id,))
        if cur.fetchone()[0] == 0:
            return
        time.sleep(0.05)
    log.error("undoing the swap: its session %d has not ended", thread_id)
