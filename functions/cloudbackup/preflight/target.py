"""What the target server is and allows: flavour, binary-logging rules, collations, engines."""

from __future__ import annotations

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


def may_set_any_definer(db: DbSettings, absent_database: str, definers: Iterable[str]) -> tuple[bool, str]:
    """(whether this account may create objects with each of `definers` as their DEFINER,
    CURRENT_USER()): yes at once where every one of them is the account itself.

    Otherwise asked by creating a procedure with a DEFINER no account has, in a database that does not
    exist: both servers check SET_ANY_DEFINER / SET USER / SUPER before the database, so the answer is
    error 1227 (no) or 1049 (yes), and nothing is created. Any other answer is not a no."""
    with connect(db, database="") as conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        user = str(cur.fetchone()[0])
        if all(account == user for account in definers):
            return True, user
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (absent_database,)
        )
        if cur.fetchone()[0]:
            return True, user  # not absent after all: the load will tell
        try:
            cur.execute(
                f"CREATE DEFINER = 'cb_no_such_user'@'%' PROCEDURE {quote_identifier(absent_database)}.p() "
                "SELECT 1"
            )
        except pymysql.err.MySQLError as exc:
            return not (exc.args and exc.args[0] == ER_SPECIFIC_ACCESS_DENIED), user
        cur.execute(f"DROP PROCEDURE {quote_identifier(absent_database)}.p")  # (it came to exist meanwhile)
        return True, user


def _primary_key_required(cur: Any) -> str:
    """The name of the setting (either flavour's) that makes this session refuse a keyless table."""
    names = "'sql_require_primary_key', 'innodb_force_primary_key'"
    cur.execute(f"SHOW SESSION VARIABLES WHERE Variable_name IN ({names})")
    return next((str(name) for name, value in cur.fetchall() if str(value).upper() in ("ON", "1")), "")


def _has_super(cur: Any, user: str) -> bool:
    name, _, host = user.rpartition("@")
    cur.execute(
        "SELECT COUNT(*) FROM information_schema.user_privileges "
        "WHERE privilege_type = 'SUPER' AND grantee = %s",
        (f"'{name}'@'{host}'",),
    )
    return bool(cur.fetchone()[0])


def _names(cur: Any, sql: str) -> frozenset[str]:
    cur.execute(sql)
    return frozenset(str(row[0]).lower() for row in cur.fetchall())
