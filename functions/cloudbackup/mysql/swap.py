"""Publish a loaded staging database as the target: one atomic RENAME TABLE, then the other objects.

MariaDB refuses to RENAME a table that has triggers into another database (error 1435, "Trigger in
wrong schema"), RENAME is not allowed under LOCK TABLES, and views, routines and events cannot move
between databases at all. So the swap is:

1. read every definition needed (new triggers, routines, views from staging; old triggers from the
   target) while nothing has changed yet;
2. drop the triggers in staging (private) and on the target's old tables      <- atomicity ends here:
   until step 4, writers to the target's tables run without their triggers;
3. ONE `RENAME TABLE` moving the old tables to `{db}_before_{ts}` and the new ones into the target
   (readers and writers see either all old tables or all new ones; the RENAME waits for open
   transactions, at most lock_wait_timeout);
4. recreate the new triggers in the target (and the old ones on the kept tables).
A failure in 2-4 puts the old tables and triggers back (reverse RENAME). After that, routines, views
and events are replaced (full restores only); a failure there is reported with where the old ones are.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pymysql

from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.identifiers import quote_identifier, setting_name
from cloudbackup.mysql.load import Loader
from cloudbackup.mysql.routines import events_section, list_events, list_routines, routines_section
from cloudbackup.mysql.splitter import split_statements
from cloudbackup.mysql.staging import free_before_name, schema_exists
from cloudbackup.mysql.triggers import table_triggers, triggers_by_table
from cloudbackup.mysql.views import views_section

log = logging.getLogger(__name__)

ER_LOCK_WAIT_TIMEOUT = 1205
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


def run_script(db: DbSettings, database: str, sql: bytes, where: str) -> None:
    """Run generated SQL (with DELIMITER lines) in `database`, statement by statement."""
    if not sql.strip():
        return
    with Loader(db, database, jobs=1) as loader:
        for stmt in split_statements([sql], modes=loader.modes):
            loader.run(stmt, where)
        loader.wait()


def publish(db: DbSettings, plan: SwapPlan) -> str | None:
    """Make the staging tables the target's. Returns where the previous tables were kept (in place)."""
    conn = connect(db, database=plan.staging)
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"SET SESSION lock_wait_timeout = {int(plan.lock_wait_timeout)}, foreign_key_checks = 0"
            )
            return _publish(db, cur, plan)
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
        conn.close()


def _publish(db: DbSettings, cur: Any, plan: SwapPlan) -> str | None:
    staging, target = plan.staging, plan.target
    moving = tables_of(cur, staging)
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
    old_triggers = b""
    old_objects = b""
    created_target = False
    if plan.in_place and schema_exists(cur, target):
        cur.execute(f"USE {q(target)}")
        old = [t for t in tables_of(cur, target) if plan.whole or t in moving]
        old_triggers = b"".join(table_triggers(cur, t, database=target) for t in old)
        if plan.whole:
            old_objects = _objects_section(cur, target)
        cur.execute(f"USE {q(staging)}")
        keep = free_before_name(cur, target, datetime.now(UTC))
        cur.execute(f"CREATE DATABASE {q(keep)} CHARACTER SET {_charset_of(cur, target)}")
    else:
        created_target = not schema_exists(cur, target)
        cur.execute(
            f"CREATE DATABASE IF NOT EXISTS {q(target)} "
            f"CHARACTER SET {setting_name(plan.charset)} COLLATE {setting_name(plan.collation)}"
        )
    _drop_triggers(cur, staging, moving)
    if plan.tables is not None:
        _repoint_foreign_keys(cur, staging, moving, away_from=staging, to=target)
    dropped_old: list[str] = []
    renamed = False
    try:
        # 2. From here until the new triggers exist, the target's tables are without triggers.
        dropped_old = _drop_triggers(cur, target, old) if old else []
        # 3. The one atomic step.
        pairs = [(f"{q(target)}.{q(t)}", f"{q(keep or '')}.{q(t)}") for t in old]
        pairs += [(f"{q(staging)}.{q(t)}", f"{q(target)}.{q(t)}") for t in moving]
        if pairs:
            cur.execute("RENAME TABLE " + ", ".join(f"{a} TO {b}" for a, b in pairs))
        renamed = True
        if not created_target and not plan.in_place:
            # An existing empty target takes the source's defaults, as a new one is created with them.
            cur.execute(
                f"ALTER DATABASE {q(target)} "
                f"CHARACTER SET {setting_name(plan.charset)} COLLATE {setting_name(plan.collation)}"
            )
        # 4. Triggers and sequence defaults of the new tables.
        run_script(db, target, new_triggers, f"triggers of {target}")
        _repoint_sequences(cur, target, staging, moving)
    except BaseException:
        _undo(db, cur, plan, moving, old, keep, old_triggers if dropped_old else b"", renamed, created_target)
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
            run_script(db, keep, old_triggers + old_objects, f"previous objects kept in {keep}")
            _repoint_sequences(cur, keep, target, old)
        if plan.whole:
            if plan.in_place:
                _drop_objects(cur, target)
            run_script(db, target, new_objects + plan.events_sql, f"routines, views and events of {target}")
    except OperationError as exc:
        kept = f"; the previous tables are in {keep}" if keep else ""
        raise OperationError(f"tables restored into {target}, but then {exc}{kept}") from None
    return keep


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
        cur.execute(f"DROP VIEW IF EXISTS {q(database)}.{q(view)}")
    cur.execute(
        "SELECT routine_type, routine_name FROM information_schema.routines WHERE routine_schema = %s "
        "ORDER BY routine_type = 'PACKAGE'",  # package bodies before their specifications
        (database,),
    )
    for kind, name in cur.fetchall():
        cur.execute(f"DROP {kind} IF EXISTS {q(database)}.{q(name)}")
    for name in list_events(cur, database):
        cur.execute(f"DROP EVENT IF EXISTS {q(database)}.{q(name)}")


def _repoint_foreign_keys(cur: Any, database: str, tables: Sequence[str], *, away_from: str, to: str) -> None:
    """Foreign keys of `tables` (in `database`) to tables of `away_from` that are not among them: point
    them at `to`. InnoDB keeps a reference's database when the referencing table moves, so a subset
    restored into the target would still name staging, and the kept copy would name the live tables."""
    for table in tables:
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


def _undo(
    db: DbSettings,
    cur: Any,
    plan: SwapPlan,
    moving: list[str],
    old: list[str],
    keep: str | None,
    old_triggers: bytes,
    renamed: bool,
    created_target: bool,
) -> None:
    """Put the target back as it was after a failure in the swap (best effort, each step logged)."""
    target, staging = plan.target, plan.staging
    steps: list[tuple[str, Any]] = []
    if renamed:
        pairs = [(f"{q(target)}.{q(t)}", f"{q(staging)}.{q(t)}") for t in moving]
        pairs += [(f"{q(keep or '')}.{q(t)}", f"{q(target)}.{q(t)}") for t in old]
        steps.append(("drop new triggers", lambda: _drop_triggers(cur, target, moving)))
        if pairs:
            steps.append(
                (
                    "rename back",
                    lambda: cur.execute("RENAME TABLE " + ", ".join(f"{a} TO {b}" for a, b in pairs)),
                )
            )
    if old_triggers:
        steps.append(("recreate old triggers", lambda: run_script(db, target, old_triggers, "undo")))
    if keep is not None:
        steps.append(("drop the unused copy", lambda: cur.execute(f"DROP DATABASE IF EXISTS {q(keep)}")))
    if created_target:
        steps.append(("drop the new target", lambda: cur.execute(f"DROP DATABASE IF EXISTS {q(target)}")))
    for what, step in steps:
        try:
            step()
        except Exception as exc:
            log.error("undoing the swap into %s: could not %s: %s", target, what, exc)
