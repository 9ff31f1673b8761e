"""MySQL's JavaScript libraries (`CREATE LIBRARY`, 9.2 and later): objects of a database that a backup
does not hold. Their JavaScript, which can run SQL of its own, is beyond what the restore's confinement
check can read (a restore refuses them in a mysqldump file too). A server without a JavaScript engine
creates them all the same, so a backup names each in one warning line, and the operator learns now,
not after a restore, that they must be recreated by hand (`SHOW CREATE LIBRARY`)."""

from __future__ import annotations

import logging
from typing import Any

from cloudbackup.mysql.identifiers import quote_identifier
from cloudbackup.mysql.server_text import text
from cloudbackup.printable import one_line

log = logging.getLogger(__name__)


def warn_of_libraries(cur: Any, database: str) -> list[str]:
    """Warn of each library of `database`, one line each; returns the lines."""
    cur.execute(
        "SELECT COUNT(*) FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = 'information_schema' AND TABLE_NAME = 'LIBRARIES'"
    )
    if not cur.fetchone()[0]:  # MariaDB, MySQL before 9.2
        return []
    cur.execute(
        "SELECT LIBRARY_NAME FROM information_schema.LIBRARIES WHERE LIBRARY_SCHEMA = %s ORDER BY 1",
        (database,),
    )
    lines = [
        f"library {one_line(quote_identifier(text(name)))} of {one_line(database)} is not in the backup"
        for (name,) in cur.fetchall()
    ]
    for line in lines:
        log.warning("%s: recreate it by hand after a restore (SHOW CREATE LIBRARY)", line)
    return lines
