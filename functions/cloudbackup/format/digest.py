"""A table section's content digest: what a restore drill compares a re-dump of the restored copy with.

The digest is SHA-256 over the section's *canonical form*, the bytes the dumper writes with the only
parts that do not follow from the table's content taken out, so that dumping the same content again
(on another server, into a copy named differently) gives the same digest:

- The `AUTO_INCREMENT=N` table option of the CREATE TABLE is dropped: it is the counter's state, not
  content, and after a load the server sets it from the loaded rows, which need not give the value
  the source showed (rows deleted at the end of the key range, a counter moved by a rolled-back insert).
- A column's `CHARACTER SET cs` right before its `COLLATE cs_…` is dropped: the collation names its
  character set, so the clause says nothing, and MySQL prints it once a collation was given explicitly,
  which the dump's own CREATE TABLE does: a restored table shows it where the source did not.
- Consecutive INSERT statements are merged into one (`;\\nINSERT INTO t (…) VALUES ` becomes `,`):
  how many rows share a statement depends on the server's max_allowed_packet and on the key ranges
  the dumper chose from the optimizer's estimates, not on the rows. Rows keep their order: the key
  order (or the table's scan order) is part of what a single-connection dump proves.
- No database name is in it: a table section never names one (the dumper runs `USE` and unqualifies
  sequence calls, so the copy's name cannot leak in); the database frame and the header's banner,
  which do name it, are not table sections.

Everything else (column definitions, keys, partitions, every row literal, triggers) is hashed as
written. The digest is fed the pieces the dumper writes (DDL, each INSERT statement whole, triggers).
"""

from __future__ import annotations

import hashlib
import re

_INSERT = b"INSERT INTO "
_VALUES = b") VALUES "
_STATEMENT_END = b";\n"
# The table option as SHOW CREATE TABLE prints it, after the closing parenthesis of the columns.
_AUTO_INCREMENT_OPTION = re.compile(rb" AUTO_INCREMENT=\d+(?= |;|\n|$)")
_REDUNDANT_CHARSET = re.compile(rb" CHARACTER SET (\w+)(?= COLLATE \1_)")


def canonical_ddl(ddl: bytes) -> bytes:
    """`ddl` (or any statement but an INSERT) without what a restore does not keep as it was."""
    return _REDUNDANT_CHARSET.sub(b"", _AUTO_INCREMENT_OPTION.sub(b"", ddl))


class SectionDigest:
    """Feed it the section's pieces in order; `hexdigest()` is the digest of their canonical form."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._in_rows = False  # the last piece was an INSERT whose ";\n" is still to come

    def update(self, piece: bytes) -> None:
        if piece.startswith(_INSERT) and piece.endswith(_STATEMENT_END) and _VALUES in piece:
            view = memoryview(piece)[: -len(_STATEMENT_END)]
            if self._in_rows:  # the same table's next statement: its rows continue the list
                self._hash.update(b",")
                view = view[piece.index(_VALUES) + len(_VALUES) :]
            self._hash.update(view)
            self._in_rows = True
            return
        self._close_rows()
        self._hash.update(canonical_ddl(piece))

    def hexdigest(self) -> str:
        self._close_rows()
        return self._hash.hexdigest()

    def _close_rows(self) -> None:
        if self._in_rows:
            self._hash.update(_STATEMENT_END)
            self._in_rows = False
