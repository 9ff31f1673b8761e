"""sql_mode values a MariaDB dump sets that MySQL 8+ no longer knows, and would refuse to set.

They only ever changed what GRANT did or how SHOW CREATE printed, never how an object is parsed or
runs: dropping them from a `SET sql_mode = '…'` changes nothing an object does on MySQL. (Modes that
do change parsing, such as ORACLE, are left in: MySQL refuses them and the restore stops unpublished.)
"""

from __future__ import annotations

import re

REMOVED_IN_MYSQL = frozenset(
    {
        b"NO_AUTO_CREATE_USER",
        b"NO_FIELD_OPTIONS",
        b"NO_KEY_OPTIONS",
        b"NO_TABLE_OPTIONS",
        b"MYSQL323",
        b"MYSQL40",
    }
)
_SET_SQL_MODE = re.compile(rb"\bsql_mode = '([A-Z_,0-9]*)'")


def for_mysql(sql: bytes) -> bytes:
    """`sql` (a SET statement) without the sql_mode values MySQL no longer has."""
    if sql[:4].upper() != b"SET " or b"sql_mode" not in sql:
        return sql

    def keep_known(match: re.Match[bytes]) -> bytes:
        modes = [m for m in match.group(1).split(b",") if m and m not in REMOVED_IN_MYSQL]
        return b"sql_mode = '" + b",".join(modes) + b"'"

    return _SET_SQL_MODE.sub(keep_known, sql)
