"""Compare a table section of the backup object with the re-dump's, for backups without digests.

Older backups (and tables read on several connections at once) record no content digest, so the
drill reads the table's frame from the backup object itself. The two sections are compared by a
fingerprint that is blind to what legitimately differs between two dumps of the same content (see
format/digest.py): the AUTO_INCREMENT option, a redundant CHARACTER SET, how rows are packed into
statements, and, since such a table may have been read in key ranges in any order, the order of its
rows. Every other statement is compared in order, byte for byte, and the rows as a multiset of their
exact literals.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from cloudbackup.format.digest import canonical_ddl
from cloudbackup.mysql.splitter import split_statements

_VALUES = b") VALUES "
# One row literal as the dumper writes it: `(` values `)`, where only quoted strings (and X'…', b'…')
# can hold parentheses or quotes.
_ROW = re.compile(rb"\((?:[^'()]++|'[^'\\]*+(?:\\.[^'\\]*+)*+')*+\)", re.S)
_MODULUS = 1 << 256


def section_fingerprint(chunks: Iterable[bytes]) -> str:
    """Ordered digest of the statements other than INSERTs, the INSERT heads, and the rows' multiset
    (count and sum of their SHA-256 values modulo 2**256)."""
    statements = hashlib.sha256()
    heads: set[bytes] = set()
    rows, total = 0, 0
    for statement in split_statements(chunks):
        sql = statement.sql
        if sql.startswith(b"INSERT INTO ") and _VALUES in sql:
            head, _, values = sql.partition(_VALUES)
            heads.add(head)
            for row in _ROW.finditer(values):
                total = (total + int.from_bytes(hashlib.sha256(row.group()).digest())) % _MODULUS
                rows += 1
            continue
        statements.update(canonical_ddl(sql) + b"\0")
    for head in sorted(heads):
        statements.update(head + b"\0")
    return f"{statements.hexdigest()}:{rows}:{total:064x}"
