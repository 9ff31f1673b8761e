"""Spatial reference systems a server's own users defined (MySQL's `CREATE SPATIAL REFERENCE SYSTEM`):
the server's objects, not the database's, so a backup does not hold them, and a server without one
refuses every table with a column bound to it. The backup names each such column's table in one warning
line, so the operator learns now, not on the day of a restore on a new server, what to recreate first."""

from __future__ import annotations

import logging
import re

from cloudbackup.mysql.identifiers import quote_identifier
from cloudbackup.printable import one_line

log = logging.getLogger(__name__)

_SRID = re.compile(rb"/\*!80003 SRID (\d+) \*/")
# SRIDs MySQL lets users define: outside EPSG's (1-32767, 60000000-69999999) and the reserved ones
# (0, 2000000000 and up).
_OWN = ((32768, 59_999_999), (70_000_000, 1_999_999_999))


def warn_of_own_reference_systems(table: str, create: bytes, database: str) -> None:
    """Warn in one line if `create` (a table's DDL) binds a column to a user-defined SRID."""
    own = sorted({int(n) for n in _SRID.findall(create) if any(lo <= int(n) <= hi for lo, hi in _OWN)})
    if own:
        log.warning(
            "table %s of %s has columns bound to SRID %s, a spatial reference system of the server "
            "that the backup does not hold: a server without it refuses the table",
            one_line(quote_identifier(table)),
            one_line(database),
            ", ".join(map(str, own)),
        )
