"""Row statements sent as LOAD DATA LOCAL: the same values, without the server parsing SQL.

Most of a restore's time is the server parsing `INSERT … VALUES (…),(…)`. LOAD DATA reads the same
list faster (1M rows of numbers and short text on MariaDB: 1.71 s against 2.21 s on two connections,
2.32 s against 3.28 s on one). The VALUES list is sent as the "file", whose fields end at `,`, lines
at `),(`, strings are enclosed in `'` with backslash escapes. It is used only where both statements
store every value the same:
- the statement is `INSERT INTO t [(columns)] VALUES …`, the shape our dumps and mysqldump's write
  (without a column list: the table's visible columns, if none is generated), and the session reads
  backslash escapes;
- each column's literals are the kinds both read alike for its type (`_LITERALS`): numbers only in
  numeric columns (an INSERT stores 007 in a VARCHAR as "7", LOAD DATA as "007"), strings in text,
  JSON and temporal columns, X'…' or 0x… in binary ones (UNHEX in a SET clause), NULL anywhere;
- strings hold only the escapes both know (\\0 \\' \\" \\b \\n \\r \\t \\Z \\\\: LOAD DATA reads \\N as
  NULL and \\% as %), never a doubled quote, and only at the start of a field.
A table with another column type, or a statement of another shape, goes as the INSERT it is.

LOCAL turns data errors into warnings (the server cannot stop the client mid-file), so a warning
fails the statement: a value the server had to change would not be the backup's.

Only the VALUES list in memory is ever sent, and only when the server asks for the file name this
module gave it: a server asking for any other file gets nothing (pymysql's own LOCAL support would
open whatever file it names).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysql.constants import COMMAND
from pymysql.protocol import OKPacketWrapper

from cloudbackup.errors import OperationError
from cloudbackup.mysql import literals
from cloudbackup.mysql.identifiers import quote_identifier
from cloudbackup.mysql.rows import UTF8_CHARSETS, UTF8_TEXT_TYPES

FILE_NAME = b"cloudbackup-rows"
PACKET = 64 << 10  # the data goes in packets of this size (any size under max_allowed_packet will do)
# The server's "LOCAL is off" (nothing was loaded): the old code, MySQL 8.0+'s, MariaDB 10.6+'s.
ER_NOT_ALLOWED_COMMAND = 1148
ER_CLIENT_LOCAL_FILES_DISABLED = 3948
ER_LOAD_INFILE_CAPABILITY_DISABLED = 4166
REFUSED = frozenset(
    {ER_NOT_ALLOWED_COMMAND, ER_CLIENT_LOCAL_FILES_DISABLED, ER_LOAD_INFILE_CAPABILITY_DISABLED}
)

_LITERALS = {
    **dict.fromkeys(("tinyint", "smallint", "mediumint", "int", "bigint"), literals.INTEGER),
    "decimal": literals.DECIMAL,
    "float": literals.FLOAT,
    "double": literals.FLOAT,
    **dict.fromkeys(("date", "datetime", "timestamp", "time", "json"), literals.STRING),
    **dict.fromkeys(("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"), literals.HEX),
}

_NAMES = re.compile(rb"`((?:[^`]|``)++)`")
_CHARSET = re.compile(r"[0-9a-z_]+")


@dataclass(frozen=True)
class ColumnType:
    name: str
    data_type: str  # information_schema DATA_TYPE, lower case
    charset: str | None
    auto_increment: bool = False
    implicit: bool = True  # among the columns an INSERT without a column list fills (not invisible)
    generated: bool = False  # (virtual, stored, or MariaDB's system-versioning columns)


@dataclass(frozen=True)
class DataPlan:
    """How one table's row statements (one column list) go as LOAD DATA: each column's literal (the
    rows' grammar: literals.rows_pattern), and the statement around the character set the client
    sends in (the session's, when the rows are sent)."""

    literals: tuple[bytes, ...]
    before_charset: str
    after_charset: str

    def load_statement(self, charset: str) -> bytes:
        return f"{self.before_charset}{charset}{self.after_charset}".encode()


def table_name(m: re.Match[bytes]) -> str | None:
    return _unquote(m.group(1))


def plan(m: re.Match[bytes], columns: Iterable[ColumnType]) -> DataPlan | None:
    """The plan for statements with head `m`, given the table's columns in their order; None if some
    column is of a type the two statements may read differently."""
    table = table_name(m)
    columns = list(columns)
    if m.group(2) is not None:
        names = [_unquote(n) for n in _NAMES.findall(m.group(2))]
    elif any(c.generated for c in columns):  # its values would need DEFAULT, which LOAD DATA lacks
        return None
    else:
        names = [c.name for c in columns if c.implicit]
    if table is None or None in names or not names:
        return None
    by_name = {c.name.lower(): c for c in columns}
    fields, sets, values = [], [], []  # (the LOAD DATA's fields and SET clauses, each column's literal)
    for number, name in enumerate(n for n in names if n is not None):
        column = by_name.get(name.lower())
        literal = _literal(column) if column else None
        if literal is None:
            return None
        values.append(literal)
        if literal is literals.HEX:
            variable = f"@cb{number}"
            fields.append(variable)
            # X'AB' and 0xAB both lose their first two characters, X'…' its closing quote too.
            unhex = f"UNHEX(TRIM(TRAILING '''' FROM SUBSTRING({variable}, 3)))"
            sets.append(f"{quote_identifier(name)} = {unhex}")
        else:
            fields.append(quote_identifier(name))
    return DataPlan(
        tuple(values),
        f"LOAD DATA LOCAL INFILE '{FILE_NAME.decode()}' INTO TABLE {quote_identifier(table)} CHARACTER SET ",
        " FIELDS TERMINATED BY ',' ENCLOSED BY '''' ESCAPED BY '\\\\' LINES TERMINATED BY '),(' "
        f"({','.join(fields)})" + (f" SET {', '.join(sets)}" if sets else ""),
    )


def body(sql: bytes, m: re.Match[bytes], data: DataPlan, kinds: literals.Kinds | None) -> memoryview | None:
    """The statement's VALUES list without its outer parentheses, if every row fits the plan: read
    here, unless the check before loading proved the rows' `kinds` (literals.py) and they fit."""
    end = literals.values_end(sql, m.end())
    if end is None:
        return None
    proven = kinds is not None and literals.fits(data.literals, kinds)
    if not proven and literals.rows_pattern(data.literals, sql).fullmatch(sql, m.end(), end) is None:
        return None
    return memoryview(sql)[m.end() : end]


def valid_charset(name: str) -> bool:
    return _CHARSET.fullmatch(name) is not None


class NotAsked(OperationError):
    """The server answered LOAD DATA LOCAL other than by asking for our rows."""


def send(conn: Any, statement: bytes, rows: memoryview) -> tuple[int, int]:
    """Run `statement` (a LOAD DATA LOCAL of FILE_NAME) on pymysql connection `conn`, sending `rows`
    as the file: (rows affected, warnings). Server errors raise as pymysql's do."""
    conn._execute_command(COMMAND.COM_QUERY, statement)
    packet = conn._read_packet()  # an error packet raises here
    if not packet.is_load_local_packet():  # the connection is out of step now: the restore stops
        raise NotAsked("the server ran LOAD DATA LOCAL without asking for its rows")
    asked = packet.get_all_data()[1:]
    if asked != FILE_NAME:
        conn.write_packet(b"")  # an empty file: the server may ask only for the rows it was given
        with contextlib.suppress(pymysql.err.MySQLError):
            conn._read_packet()
        raise NotAsked(f"the server asked for the file {asked[:200]!r} instead of the rows; refused")
    for start in range(0, len(rows), PACKET):
        chunk = rows[start : start + PACKET]
        conn._write_bytes(len(chunk).to_bytes(3, "little") + bytes((conn._next_seq_id,)))
        conn._write_bytes(chunk)  # no copy of the rows: the socket takes the view
        conn._next_seq_id = (conn._next_seq_id + 1) % 256
    conn.write_packet(b"")  # the end of the file
    ok = OKPacketWrapper(conn._read_packet())
    conn.server_status = ok.server_status
    return ok.affected_rows, ok.warning_count


def _literal(column: ColumnType) -> bytes | None:
    # Text reads alike only in a character set the client's UTF-8 goes into as it is: the text the
    # dump QUOTEs (mysql/rows.py); any other is written as hex with an introducer, which LOAD DATA lacks.
    if column.data_type in UTF8_TEXT_TYPES:
        return literals.STRING if column.charset in UTF8_CHARSETS else None
    return _LITERALS.get(column.data_type)


def _unquote(quoted: bytes) -> str | None:
    name = quoted[1:-1] if quoted.startswith(b"`") else quoted
    try:
        return name.replace(b"``", b"`").decode()
    except UnicodeDecodeError:  # a name that is not UTF-8: left to the INSERT
        return None
