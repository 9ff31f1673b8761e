"""Secondary indexes built after the rows are in: InnoDB then sorts each index once (a bulk build)
instead of inserting into every index row by row, which is most of a restore's time on an indexed table.

A CREATE TABLE as SHOW CREATE TABLE prints it (our dumps, mysqldump's, mariadb-dump's) has one definition
per line. Each secondary index line (KEY, UNIQUE KEY, SPATIAL KEY) is taken out of the CREATE and added back
after the table's rows, all in one `ALTER TABLE … ADD …, ADD …` (one rebuild-free pass per table, in their
original order, so the server lists them as the source did); foreign keys are added after every table is
loaded, since they need both sides' indexes. The rest stays inline, on purpose:
- the PRIMARY KEY: InnoDB clusters the rows by it, so it must exist while they are inserted;
- an index whose first column is an AUTO_INCREMENT column outside the primary key's first column: the
  server refuses a table whose AUTO_INCREMENT column leads no index;
- FULLTEXT indexes: InnoDB adds only one at a time and adds a hidden FTS_DOC_ID column when it builds the
  first one on a loaded table (a rebuild); inline, they keep the source's shape at no such cost;
- MariaDB's long unique keys (`USING HASH`) and `WITHOUT OVERLAPS` keys, whose ALTER paths differ;
- every index of a table that is not InnoDB (MyISAM builds its keys in bulk itself: DISABLE KEYS), is
  system-versioned (MariaDB refuses ALTER on it by default) or has an application-time period.
Anything this module does not recognise line by line leaves the CREATE as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CREATE = re.compile(
    rb"^\s*CREATE\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(`(?:[^`]|``)+`)\s*\($", re.IGNORECASE
)
_SECONDARY = re.compile(rb"^  (?:UNIQUE |SPATIAL )?KEY `")
_FULLTEXT = re.compile(rb"^  FULLTEXT KEY `")
_FOREIGN = re.compile(rb"^  CONSTRAINT `(?:[^`]|``)+` FOREIGN KEY \(")
_PRIMARY = re.compile(rb"^  PRIMARY KEY \(`((?:[^`]|``)+)`")
_KEY_FIRST_COLUMN = re.compile(rb"^  (?:UNIQUE |SPATIAL )?KEY `(?:[^`]|``)+` \(`((?:[^`]|``)+)`")
_COLUMN = re.compile(rb"^  `((?:[^`]|``)+)` ")
_ENGINE = re.compile(rb"\bENGINE=(\w+)")
_KEEP_TABLE_INLINE = re.compile(rb"WITH SYSTEM VERSIONING|\bPERIOD FOR\b", re.IGNORECASE)
_KEEP_KEY_INLINE = re.compile(rb"\bUSING HASH\b|\bWITHOUT OVERLAPS\b", re.IGNORECASE)


@dataclass(frozen=True)
class DeferredTable:
    """A CREATE TABLE without its deferrable indexes, and the clauses that add them back."""

    table: bytes  # the quoted name as the CREATE wrote it
    create: bytes
    indexes: tuple[bytes, ...]  # `ADD KEY …` clauses, in the source's order
    foreign_keys: tuple[bytes, ...]  # `ADD CONSTRAINT … FOREIGN KEY …` clauses

    def index_statement(self) -> bytes | None:
        return _alter(self.table, self.indexes)

    def foreign_key_statement(self) -> bytes | None:
        return _alter(self.table, self.foreign_keys)


def _alter(table: bytes, clauses: tuple[bytes, ...]) -> bytes | None:
    if not clauses:
        return None
    return b"ALTER TABLE " + table + b" " + b", ".join(clauses)


def defer_indexes(sql: bytes) -> DeferredTable | None:
    """The CREATE TABLE statement `sql` split into what runs now and what runs after the rows, or None
    when nothing can (or should) be deferred: another statement, another layout, another engine."""
    lines = sql.split(b"\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        return None
    head = _CREATE.match(lines[start])
    if head is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(b")")), None)
    if end is None:
        return None
    tail = b"\n".join(lines[end:])
    engine = _ENGINE.search(lines[end])
    if engine is None or engine.group(1).lower() != b"innodb" or _KEEP_TABLE_INLINE.search(sql):
        return None
    body = lines[start + 1 : end]
    if not body or any(not line.startswith(b"  ") for line in body):
        return None  # a definition spanning lines (e.g. an expression with a newline): leave it alone
    keep_key = _auto_increment_key(body)
    kept: list[bytes] = []
    indexes: list[bytes] = []
    foreign: list[bytes] = []
    for number, line in enumerate(body):
        clause = line.strip().removesuffix(b",")
        if number == keep_key or _FULLTEXT.match(line) or _KEEP_KEY_INLINE.search(line):
            kept.append(clause)
        elif _SECONDARY.match(line):
            indexes.append(b"ADD " + clause)
        elif _FOREIGN.match(line):
            foreign.append(b"ADD " + clause)
        else:
            kept.append(clause)
    if not indexes and not foreign:
        return None
    create = b"\n".join([*lines[:start], lines[start], b",\n".join(b"  " + k for k in kept), tail])
    return DeferredTable(head.group(1), create, tuple(indexes), tuple(foreign))


def _auto_increment_key(body: list[bytes]) -> int | None:
    """The index line (its number) that must stay for an AUTO_INCREMENT column the primary key does
    not lead."""
    column = next(
        (m.group(1) for line in body if (m := _COLUMN.match(line)) and b" AUTO_INCREMENT" in line), None
    )
    if column is None:
        return None
    primary = next((m.group(1) for line in body if (m := _PRIMARY.match(line))), None)
    if primary == column:
        return None
    return next(
        (i for i, line in enumerate(body) if (m := _KEY_FIRST_COLUMN.match(line)) and m.group(1) == column),
        None,
    )
