"""Why a target server cannot take a backup, as one line each, before the restore changes anything."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cloudbackup.format.manifest import NameCaseReference
from cloudbackup.mysql.name_case import describe
from cloudbackup.preflight.contents import BackupContents
from cloudbackup.preflight.target import TargetServer

SHOWN_NAMES = 3  # names given per problem; the rest are counted

_FUNCTION = re.compile(
    rb"CREATE\s+(?:DEFINER\s*=\s*\S+\s+)?FUNCTION\s+(`(?:[^`]|``)+`|\"(?:[^\"]|\"\")+\"|\w+)", re.IGNORECASE
)
# SHOW CREATE FUNCTION puts each characteristic on its own indented line between RETURNS and the body.
_CHARACTERISTIC = re.compile(
    rb"\n\s+(NOT DETERMINISTIC|DETERMINISTIC|NO SQL|READS SQL DATA|MODIFIES SQL DATA|CONTAINS SQL"
    rb"|SQL SECURITY \w+|LANGUAGE SQL|COMMENT '(?:[^'\\]|''|\\.)*')",
    re.IGNORECASE,
)
_BINLOG_SAFE = {b"DETERMINISTIC", b"NO SQL", b"READS SQL DATA"}

_COLUMN = rb"^  `(?P<column>(?:[^`]|``)+)` "
# What only one flavour can create: (label, pattern over table DDL, flavour it needs).
_TABLE_FEATURES: tuple[tuple[str, re.Pattern[bytes], str], ...] = (
    ("system versioning", re.compile(rb"WITH SYSTEM VERSIONING|PERIOD FOR SYSTEM_TIME"), "mariadb"),
    # (SHOW CREATE quotes an application-time period's name; SYSTEM_TIME it writes bare)
    ("application-time periods", re.compile(rb"^  PERIOD FOR `", re.M), "mariadb"),
    ("INET6/INET4/UUID columns", re.compile(_COLUMN + rb"(?:inet6|inet4|uuid)\b", re.M), "mariadb"),
    ("Aria table options", re.compile(rb"\bPAGE_CHECKSUM=|\bTRANSACTIONAL="), "mariadb"),
    # (MariaDB writes its own InnoDB table options quoted, on the line closing the definition.)
    (
        "InnoDB page compression",
        re.compile(rb"^\) ENGINE=.*`PAGE_COMPRESS(?:ED|ION_LEVEL)`=", re.M),
        "mariadb",
    ),
    ("table encryption options", re.compile(rb"^\) ENGINE=.*`ENCRYPT(?:ED|ION_KEY_ID)`=", re.M), "mariadb"),
    (
        "ignored indexes",
        re.compile(rb"^  (?:UNIQUE |FULLTEXT |SPATIAL )?KEY `(?:[^`]|``)+` .* IGNORED,?$", re.M),
        "mariadb",
    ),
    # A UNIQUE key MariaDB keeps as a hash (over a whole BLOB or long text, which MySQL rejects); a
    # MEMORY table's hash keys are its ordinary ones.
    (
        "long UNIQUE keys (USING HASH)",
        re.compile(
            rb"^  UNIQUE KEY `(?:[^`]|``)+` \(.*\) USING HASH(?=[\s\S]*^\) ENGINE=(?!MEMORY\b))", re.M
        ),
        "mariadb",
    ),
    # MySQL takes no literal default on TEXT/BLOB (JSON is MariaDB's LONGTEXT), and outside strict mode
    # drops it with only a warning: an INSERT leaving the column out would then fail.
    (
        "TEXT/BLOB literal defaults",
        re.compile(_COLUMN + rb"(?:tiny|medium|long)?(?:text|blob)\b[^\n]* DEFAULT '", re.M),
        "mariadb",
    ),
    # MariaDB writes a default calling a function bare (`DEFAULT uuid()`); MySQL reads only the current
    # time's functions so, anything else only in parentheses.
    (
        "function-call defaults",
        re.compile(
            _COLUMN + rb"[^\n]* DEFAULT (?!(?:current_timestamp|now|localtime|localtimestamp)\()\w+\(", re.M
        ),
        "mariadb",
    ),
    ("VECTOR columns", re.compile(_COLUMN + rb"vector\(", re.M), "mysql"),
    ("geometry columns bound to an SRID", re.compile(rb"/\*!80003 SRID \d+ \*/"), "mysql"),
    (
        "functional or multi-valued indexes",
        re.compile(rb"^  (?:UNIQUE |FULLTEXT |SPATIAL )?KEY `(?:[^`]|``)+` \(\(", re.M),
        "mysql",
    ),
    ("CHECK constraints NOT ENFORCED", re.compile(rb"/\*!80016 NOT ENFORCED \*/"), "mysql"),
    ("FULLTEXT parsers", re.compile(rb"WITH PARSER `"), "mysql"),
    ("InnoDB page compression", re.compile(rb"^\) ENGINE=.* COMPRESSION='", re.M), "mysql"),
    # MariaDB skips MySQL's versioned comment, and the column would show in SELECT * and INSERTs.
    ("invisible columns", re.compile(_COLUMN + rb".*/\*!80023 INVISIBLE \*/", re.M), "mysql"),
)
_COLLATION = re.compile(rb"\bCOLLATE[= ](\w+)")
_CHARSET = re.compile(rb"\b(?:CHARSET=|CHARACTER SET )(\w+)")
_SESSION_COLLATION = re.compile(rb"\bcollation_connection = (\w+)")
_ENGINE = re.compile(rb"^\) ENGINE=(\w+)", re.M)
_PRIMARY_KEY = b"\n  PRIMARY KEY ("
_ENGINE_INNODB = re.compile(rb"^\) ENGINE=InnoDB\b", re.M)
# (As SHOW CREATE VIEW writes one, which is how the views frame holds it.)
_DUALITY_VIEW = re.compile(rb"^CREATE .*\bJSON RELATIONAL DUALITY VIEW (`(?:[^`]|``)+`)", re.M)
_PACKAGE = re.compile(rb"CREATE\s+(?:DEFINER\s*=\s*\S+\s+)?PACKAGE\b", re.IGNORECASE)


def stored_program_problem(contents: BackupContents, target: TargetServer) -> str | None:
    """Why binary logging on the target refuses the backup's functions or triggers, with what to do."""
    if not target.checks_stored_programs:
        return None
    functions = list(_functions(contents.routines))
    fix = (
        "set log_bin_trust_function_creators=1 on the server (RDS and Aurora: in the DB parameter group) "
        "and restore again"
    )
    if not target.has_super and (functions or contents.triggers):
        held = _and(
            [f"{len(functions)} function(s)"] * bool(functions)
            + [f"{contents.triggers} trigger(s)"] * bool(contents.triggers)
        )
        return (
            f"binary logging is on and the backup holds {held}, which only an account with SUPER "
            f"may create then: {fix}"
        )
    unsafe = [name for name, safe in functions if not safe]
    if unsafe:
        return (
            f"binary logging is on and function(s) {_names(unsafe)} are declared neither DETERMINISTIC, "
            f"NO SQL nor READS SQL DATA: {fix}"
        )
    return None


def primary_key_problem(contents: BackupContents, target: TargetServer) -> str | None:
    """Why a server that requires a primary key on every table refuses the backup's tables, with what
    to do. (MariaDB's innodb_force_primary_key is InnoDB's own; MySQL's holds for every engine.)"""
    setting = target.requires_primary_key
    if not setting:
        return None
    keyless = [
        table
        for table, ddl in contents.tables.items()
        if _PRIMARY_KEY not in ddl and (target.flavour == "mysql" or _ENGINE_INNODB.search(ddl))
    ]
    if not keyless:
        return None
    return (
        f"the server requires a primary key on every table ({setting} is ON) and table(s) {_names(keyless)} "
        f"have none: turn {setting} off on the server for the restore, then restore again"
    )


def name_case_problem(tables: Iterable[str], target: TargetServer) -> str | None:
    """Why a server comparing table names without case refuses tables whose names differ only in
    case: the second CREATE TABLE would meet the first (or its DROP IF EXISTS drop it, rows and all)."""
    if not target.lower_case_table_names:
        return None
    by_folded: dict[str, list[str]] = {}
    for table in tables:
        by_folded.setdefault(table.lower(), []).append(table)
    clashes = [" and ".join(names) for names in by_folded.values() if len(names) > 1]
    if not clashes:
        return None
    return (
        f"the server compares table names without case (lower_case_table_names = "
        f"{target.lower_case_table_names}) and the backup holds tables whose names differ only in case "
        f"({_names(clashes)}), which would become one table: restore into a server with "
        "lower_case_table_names = 0, or restore those tables one at a time (--table) into separate databases"
    )


def name_case_reference_problem(
    references: Iterable[NameCaseReference], source_setting: int | None, target: TargetServer
) -> str | None:
    """Why a server comparing table names with case refuses programs that name a table in another
    letter case (the source compared them without): each would fail at its first use there."""
    found = [describe(ref) for ref in references]
    if target.lower_case_table_names or not found:
        return None
    setting = source_setting if source_setting else "1 or 2"
    return (
        f"the backup was made on a server that compares table names without case (lower_case_table_names "
        f"= {setting}) and {_names(found)}, which this server, comparing them with case "
        f"(lower_case_table_names = 0), would fail at first use: restore into a server with "
        f"lower_case_table_names = {setting}, or write those names as the tables are named in the source "
        "and back up again"
    )


def crossing_problems(
    contents: BackupContents, target: TargetServer, *, charset: str, collation: str
) -> list[str]:
    """What a backup from the other flavour holds that the target cannot create (empty: it can)."""
    found: dict[str, list[str]] = {}

    def note(label: str, name: str) -> None:
        names = found.setdefault(label, [])
        if name not in names:
            names.append(name)

    if contents.sequences and target.flavour != "mariadb":
        found["sequences"] = list(contents.sequences)
    if _PACKAGE.search(contents.routines) and target.flavour != "mariadb":
        note("packages", "in the routines")
    for name in _DUALITY_VIEW.findall(contents.programs):
        if target.flavour != "mysql":
            note("JSON duality views", name.decode("utf-8", "replace"))
    if charset.lower() not in target.charsets:
        note("character sets", charset)
    if collation.lower() not in target.collations:
        note("collations", collation)
    for name in _SESSION_COLLATION.findall(contents.programs):
        if name.decode().lower() not in target.collations:
            note("collations", name.decode())
    for table, ddl in contents.tables.items():
        for label, pattern, needs in _TABLE_FEATURES:
            if needs != target.flavour and pattern.search(ddl):
                note(label, table)
        for name in _CHARSET.findall(ddl):
            if name.decode().lower() not in target.charsets:
                note("character sets", name.decode())
        for name in _COLLATION.findall(ddl):
            if name.decode().lower() not in target.collations:
                note("collations", name.decode())
        for name in _ENGINE.findall(ddl):
            if name.decode().lower() not in target.engines:
                note("storage engines", name.decode())
    return [f"{label} ({_names(names)})" for label, names in found.items()]


def _functions(routines: bytes) -> Iterable[tuple[str, bool]]:
    """(name, binlog-safe) of every function the routines frame creates."""
    for match in _FUNCTION.finditer(routines):
        name = match.group(1).decode("utf-8", "replace").strip('`"')
        # The characteristics follow the RETURNS line, one per line, up to the body.
        returns = routines.find(b"\n", match.end())
        at = returns
        declared: set[bytes] = set()
        while (m := _CHARACTERISTIC.match(routines, at)) is not None:
            declared.add(m.group(1).upper())
            at = m.end()
        yield name, bool(declared & _BINLOG_SAFE)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return shown + (f" and {more} more" if more > 0 else "")


def _and(items: list[str]) -> str:
    return " and ".join(items)
