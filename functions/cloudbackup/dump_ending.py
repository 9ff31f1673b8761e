"""A dump file cut short between two statements: every statement in it is whole, so only its missing
last line tells.

mysqldump, mariadb-dump and our own dumps begin with a comment naming the tool and end with
`-- Dump completed` (unless written without comments: --skip-comments, --compact, which drop both).
A file that begins so but does not end so was cut off (a full disk, a dropped connection while it was
written): restoring it would publish some of the tables with exit 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from cloudbackup.errors import OperationError

# The first line of a stock dump (MariaDB's may come after its `/*M!999999\- enable the sandbox mode */`
# line) or of ours.
_DUMP_HEADER = re.compile(rb"^-- (?:MySQL dump |MariaDB dump |cloudbackup \S+ dump )", re.MULTILINE)
_HEAD_BYTES = 512
_LAST_LINE = b"-- Dump completed"
_TAIL_BYTES = 512


class DumpEnding:
    """Watches the first and last bytes of a dump file as they are read (the check before loading
    reads it all), to tell afterwards whether the file ends as its header promises."""

    def __init__(self) -> None:
        self.head = self.tail = b""

    def watch(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """`chunks` as they are; a new read starts the watch again."""
        self.head = self.tail = b""
        for chunk in chunks:
            if len(self.head) < _HEAD_BYTES:
                self.head += chunk[: _HEAD_BYTES - len(self.head)]
            self.tail = (self.tail + chunk[-_TAIL_BYTES:])[-_TAIL_BYTES:]
            yield chunk

    def refuse_if_cut_short(self, name: str) -> None:
        """Raises if what was read began as a dump with comments and did not end with its last line."""
        if not _DUMP_HEADER.search(self.head):
            return
        last_line = self.tail.rstrip().rpartition(b"\n")[2].lstrip()
        if not last_line.startswith(_LAST_LINE):
            ends = last_line[:60].decode("utf-8", "replace")
            raise OperationError(
                f"{name}: the file is cut short: it ends with {ends!r}, before the dump's last line "
                f"'{_LAST_LINE.decode()}'"
            )
