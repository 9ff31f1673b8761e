"""What the target server is and allows: flavour, binary-logging rules, collations, engines."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pymysql

from cloudbackup.dburl import DbSettings
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.identifiers import quote_identifier
from cloudbackup.mysql.snapshot import server_info


@dataclass(frozen=True)
class TargetServer:
    flavour: str
    version: str
    # Stored functions and triggers are checked for binlog safety: SUPER needed, and DETERMINISTIC &c.
    checks_stored_programs: bool
    has_super: bool
    collations: frozenset[str]
    charsets: frozenset[str]
    engines: frozenset[str]
    # The setting that refuses a table without a primary key, where it is ON for this session (MySQL's
    # sql_require_primary_key, DigitalOcean's default; MariaDB's innodb_force_primary_key), else "".
    requires_primary_key: str = ""
    # 1 or 2: table names are compared without case (1 also stores them in lower case), so two tables
    # whose names differ only in case are one table there. Set when the server was initialised.
    lower_case_table_names: int = 0


def inspect_target(db: DbSettings) -> TargetServer:
    """The server `db` points at, and what it can create."""
    with connect(db, database="") as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT VERSION(), @@GLOBAL.log_bin, @@GLOBAL.log_bin_trust_function_creators, "
            "@@SESSION.sql_log_bin, CURRENT_USER(), @@GLOBAL.lower_case_table_names"
        )
        version, log_bin, trusted, session_logs, user, lower_case = cur.fetchone()
        server = server_info(str(version))
        checks = bool(int(log_bin)) and not int(trusted) and bool(int(session_logs))
        return TargetServer(
            flavour=server.flavour,
            version=server.version,
            checks_stored_programs=checks,
            has_super=checks and _has_super(cur, str(user)),
            collations=_names(cur, "SELECT collation_name FROM information_schema.collations"),
            charsets=_names(cur, "SELECT character_set_name FROM information_schema.character_sets"),
            engines=_names(
                cur, "SELECT engine FROM information_schema.engines WHERE support IN ('YES', 'DEFAULT')"
            ),
            requires_primary_key=_primary_key_required(cur),
            lower_case_table_names=int(lower_case),
        )


ER_SPECIFIC_ACCESS_DENIED = 1227


def definers_refused(
    db: DbSettings, absent_database: str, definers: Iterable[str]
) -> tuple[dict[str, str], str]:
    """(each of `definers` the server would not let this account create an object with, with the
    privileges the server names for it; CURRENT_USER()): none where every one is the account itself.

    Asked for each other definer by creating a procedure with that DEFINER in a database that does not
    exist: both servers check the definer (SET_ANY_DEFINER / SET USER / SUPER; MySQL also SYSTEM_USER
    when the definer holds it, and ALLOW_NONEXISTENT_DEFINER when it does not exist) before the
    database, so the answer is error 1227 (no) or 1049 (yes), and nothing is created. Any other answer
    is not a no. (A definer no account has is not asked in its stead: MySQL 8.2+ answers that one with
    ALLOW_NONEXISTENT_DEFINER, which says nothing of the definers the restore keeps.)"""
    refused: dict[str, str] = {}
    with connect(db, database="") as conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        user = str(cur.fetchone()[0])
        others = sorted({account for account in definers if account != user})
        if not others:
            return refused, user
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (absent_database,)
        )
        if cur.fetchone()[0]:
            return refused, user  # not absent after all: the load will tell
        for account in others:
            name, _, host = account.rpartition("@")
            try:
                cur.execute(
                    f"CREATE DEFINER = %s@%s PROCEDURE {quote_identifier(absent_database)}.p() SELECT 1",
                    (name, host),
                )
            except pymysql.err.MySQLError as exc:
                if exc.args and exc.args[0] == ER_SPECIFIC_ACCESS_DENIED:
                    needed = _NEEDED.search(str(exc.args[-1]))
                    refused[account] = needed.group(1) if needed else str(exc.args[-1])
                continue
            # (it came to exist meanwhile: the load will tell)
            cur.execute(f"DROP PROCEDURE {quote_identifier(absent_database)}.p")
            return refused, user
        return refused, user


def routine_bodies_hidden(db: DbSettings, user: str) -> bool:
    """Whether the server hides from this account (`user`, its CURRENT_USER()) the body of a routine
    another account defined (SHOW CREATE gives NULL for it), where that can be told before any routine
    exists: MariaDB before 11.3 shows it only to an account that may SELECT mysql.proc; MySQL to one
    holding SHOW_ROUTINE or global SELECT. Elsewhere (MariaDB 11.3+: SHOW CREATE ROUTINE, and a MySQL
    account with an active role, which may hold either) False: reading it back tells."""
    with connect(db, database="") as conn, conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        server = server_info(str(cur.fetchone()[0]))
        if server.flavour == "mysql":
            cur.execute("SELECT CURRENT_ROLE()")
            if str(cur.fetchone()[0]) != "NONE":
                return False
            return not _holds_privilege(cur, user, ("SELECT", "SHOW_ROUTINE", "SUPER"))
        release = re.match(r"(\d+)\.(\d+)", server.version)
        if release is None or (int(release[1]), int(release[2])) >= (11, 3):
            return False
        try:
            cur.execute("SELECT 1 FROM mysql.proc LIMIT 0")
        except pymysql.err.MySQLError as exc:
            return bool(exc.args) and exc.args[0] in (ER_DBACCESS_DENIED, ER_TABLEACCESS_DENIED)
        return False


def _holds_privilege(cur: Any, user: str, privileges: tuple[str, ...]) -> bool:
    """Whether `user` holds one of these global privileges itself (information_schema lists its own)."""
    name, _, host = user.rpartition("@")
    marks = ", ".join(["%s"] * len(privileges))
    cur.execute(
        "SELECT COUNT(*) FROM information_schema.user_privileges "
        f"WHERE grantee = %s AND privilege_type IN ({marks})",
        (f"'{name}'@'{host}'", *privileges),
    )
    return bool(cur.fetchone()[0])


ER_DBACCESS_DENIED = 1044
ER_TABLEACCESS_DENIED = 1142


# "Access denied; you need (at least one of) the SUPER or SET_ANY_DEFINER privilege(s) for this operation"
_NEEDED = re.compile(r"the (.+?) privilege")


def _primary_key_required(cur: Any) -> str:
    """The name of the setting (either flavour's) that makes this session refuse a keyless table."""
    names = "'sql_require_primary_key', 'innodb_force_primary_key'"
    cur.execute(f"SHOW SESSION VARIABLES WHERE Variable_name IN ({names})")
    return next((str(name) for name, value in cur.fetchall() if str(value).upper() in ("ON", "1")), "")


def _has_super(cur: Any, user: str) -> bool:
    return _holds_privilege(cur, user, ("SUPER",))


def _names(cur: Any, sql: str) -> frozenset[str]:
    cur.execute(sql)
    return frozenset(str(row[0]).lower() for row in cur.fetchall())


# What a SET of a session setting answers for a value the server lacks (unknown character set, collation,
# time zone; a character set the client may not use): any other answer is not a no.
_UNKNOWN_VALUE = {1115: "character set", 1273: "collation", 1298: "time zone", 1231: "value"}


def settings_refused(db: DbSettings, settings: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Each (session variable, value) of `settings` that the server would not let a session set, with
    what it lacks ("collation", "time zone", …). Asked by setting each on a session of its own, which
    changes nothing else; the names come from confine/check.py PROBED_SETTINGS, the values are bound."""
    refused: dict[tuple[str, str], str] = {}
    with connect(db, database="") as conn, conn.cursor() as cur:
        for variable, value in settings:
            if not re.fullmatch(r"[a-z_]+", variable):
                continue
            try:
                cur.execute(f"SET SESSION {variable} = %s", (value,))
            except pymysql.err.MySQLError as exc:
                if exc.args and exc.args[0] in _UNKNOWN_VALUE:
                    refused[(variable, value)] = _UNKNOWN_VALUE[exc.args[0]]
    return refused
