"""Parse `mysql://USER[:PASSWORD]@HOST[:PORT][/DATABASE]` into connection settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from urllib.parse import unquote, urlsplit

from cloudbackup.errors import UsageError

EXPECTED_FORM = "mysql://USER[:PASSWORD]@HOST[:PORT][/DATABASE]"


@dataclass(frozen=True)
class DbSettings:
    host: str
    port: int
    user: str
    password: str = ""
    database: str | None = None

    def with_database(self, database: str | None) -> DbSettings:
        return replace(self, database=database)

    def redacted(self) -> str:
        """How the server is named in messages: never the password."""
        return f"{self.user}@{self.host}:{self.port}"


def parse_db_url(url: str, environ: dict[str, str] | None = None) -> DbSettings:
    env = os.environ if environ is None else environ
    try:
        parts = urlsplit(url)
        port = parts.port or 3306
    except ValueError as exc:
        raise UsageError(f"bad --db-url: {exc}; expected {EXPECTED_FORM}") from None
    if parts.scheme not in ("mysql", "mariadb") or not parts.hostname or not parts.username:
        raise UsageError(f"bad --db-url {_redact(url)!r}: expected {EXPECTED_FORM}")
    if parts.query or parts.fragment:
        raise UsageError(
            f"bad --db-url {_redact(url)!r}: no query or fragment allowed; expected {EXPECTED_FORM}"
        )
    path = parts.path.strip("/")
    if "/" in path:
        raise UsageError(
            f"bad --db-url {_redact(url)!r}: at most one database name; expected {EXPECTED_FORM}"
        )
    password = unquote(parts.password) if parts.password is not None else env.get("MYSQL_PWD", "")
    return DbSettings(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=password,
        database=unquote(path) or None,
    )


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
