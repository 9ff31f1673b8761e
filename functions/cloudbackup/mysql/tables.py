"""The database frame, table DDL and sequences, exactly as the server shows them."""

from __future__ import annotations

import re
from typing import Any

from cloudbackup.mysql.identifiers import quote_identifier, unqualify_sequence_calls
from cloudbackup.mysql.restorable import Refusals
from cloudbackup.mysql.server_text import current_database, query, raw_results, show_create
from cloudbackup.mysql.session_text import with_session
from cloudbackup.printable import one_line

# The session a table's DDL is written in: SHOW CREATE ran under sql_mode '' and utf8mb4, so it reloads
# under the same; NO_ENGINE_SUBSTITUTION makes a missing engine an error instead of a silent InnoDB
# table, and foreign key checks are off so tables can be created in any order (cycles included).
TABLE_SESSION = {
    "sql_mode": "NO_ENGINE_SUBSTITUTION",
    "character_set_client": "utf8mb4",
    "collation_connection": "utf8mb4_general_ci",
    "foreign_key_checks": "0",
}
SEQUENCE_SESSION = TABLE_SESSION


def table_ddl(
    cur: Any, table: str, *, database: str | None = None, refusals: Refusals | None = None
) -> bytes:
    """DROP TABLE IF EXISTS + the server's CREATE TABLE (AUTO_INCREMENT, partitions, keys, checks kept).

    `database` is the current database (`USE`d by the caller); asked from the server if not given.
    `refusals` (a backup's) is told of a table every restore will refuse (one in a general tablespace).
    """
    create = show_create(cur, "TABLE", table)["statement"]
    database = database if database is not None else current_database(cur)
    create = unqualify_sequence_calls(create, database)
    create = inherited_collations(create)
    if refusals is not None:
        quoted = one_line(quote_identifier(table))
        refusals.check("table", quoted, create, database=database, sql_mode=TABLE_SESSION["sql_mode"])
    name = quote_identifier(table).encode()
    body = b"DROP TABLE IF EXISTS " + name + b";\n" + create + b";\n"
    return with_session(TABLE_SESSION, body)


# A column line of SHOW CREATE TABLE up to its COLLATE clause, when no CHARACTER SET precedes that.
_COLUMN_COLLATE = re.compile(
    rb"^(  `(?:[^`]|``)+` [a-z]+(?:\((?:[^()']|'(?:[^']|'')*')*\))?(?: unsigned)?(?: zerofill)?)"
    rb" COLLATE (\w+)",
    re.MULTILINE,
)
_TABLE_COLLATION = re.compile(rb"^\) .*\bCOLLATE=(\w+)", re.MULTILINE)


def inherited_collations(create: bytes) -> bytes:
    """`create` with the COLLATE clause dropped from columns that inherit the table's collation.

    MySQL records whether a column's collation was named or inherited, and shows a column that inherits
    a collation other than its character set's primary one as `COLLATE x` alone (a named one comes with
    its CHARACTER SET). Reloaded as shown, the column would name it; without the clause it inherits the
    same collation from the table again, and SHOW CREATE stays the same text.
    """
    table = _TABLE_COLLATION.search(create)
    if table is None:
        return create
    collation = table.group(1)

    def drop(match: re.Match[bytes]) -> bytes:
        return match.group(1) if match.group(2) == collation else match.group(0)

    return _COLUMN_COLLATE.sub(drop, create)


def sequence_section(cur: Any, sequence: str) -> bytes:
    """CREATE SEQUENCE with all its options, then its exact stored state (next value and cycle round).

    mariadb-dump writes SETVAL(seq, next, 0), which the server ignores when that value is below the
    start value (after an ALTER SEQUENCE ... RESTART, or a cycle), and it drops the cycle count. RESTART
    WITH sets the next value unconditionally; SETVAL with the round restores a cycled sequence's count.
    """
    create = show_create(cur, "SEQUENCE", sequence)["statement"]
    name = quote_identifier(sequence)
    with raw_results(cur):
        (state,) = query(cur, f"SELECT next_not_cached_value, cycle_count FROM {name}")
    next_value, rounds = int(state["next_not_cached_value"]), int(state["cycle_count"])
    body = [b"DROP SEQUENCE IF EXISTS ", name.encode(), b";\n", create, b";\n"]
    body.append(f"ALTER SEQUENCE {name} RESTART WITH {next_value};\n".encode())
    if rounds:
        body.append(f"DO SETVAL({name}, {next_value}, 0, {rounds});\n".encode())
    return with_session(SEQUENCE_SESSION, b"".join(body))
