"""Open connections with clear one-line errors for the failures operators actually hit."""

from __future__ import annotations

import contextlib
import socket
import ssl
from functools import cache
from typing import Any

import pymysql
import pymysql.cursors
from pymysql.constants import CLIENT

from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError, UsageError

# Server error codes that mean "your input is wrong" rather than "the operation failed".
ER_ACCESS_DENIED = 1045
ER_DBACCESS_DENIED = 1044
ER_ACCESS_DENIED_NO_PASSWORD = 1698  # MariaDB, for a user that does not exist
ER_BAD_DB = 1049
CR_CONN_HOST_ERROR = 2003
CR_UNKNOWN_HOST = 2005


class _Connection(pymysql.connections.Connection):
    """pymysql's connection, sharing one context for the TLS it offers when no TLS option is given.

    Without options pymysql still builds a context per connect (taking TLS when the server offers it),
    unverified: CERT_NONE, no host name check. It builds it with ssl.create_default_context(), which
    loads the system CA store (~30 ms) that an unverified context never reads (the standard library's
    own unverified contexts skip it too). Given TLS options, pymysql's own code builds the context.
    """

    def _create_ssl_ctx(self, sslp: Any) -> Any:
        if sslp == {}:
            return _unverified_tls()
        return super()._create_ssl_ctx(sslp)  # type: ignore[misc]  # private: not in the stubs


@cache
def _unverified_tls() -> ssl.SSLContext:
    """What pymysql builds for `{}`: a client context, no hostname check, no certificate check, and
    VERIFY_X509_STRICT off (Python 3.13 turns it on; servers' self-signed certificates fail it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


def connect(
    settings: DbSettings,
    *,
    database: str | None = None,
    unbuffered: bool = False,
    connect_timeout: int = 10,
    **kwargs: Any,
) -> pymysql.connections.Connection[Any]:
    """Connect with utf8mb4, binary-safe results and autocommit on.

    `database` overrides the URL's database. Results come back as bytes/str exactly as pymysql
    decodes them; dump code that needs raw bytes passes `binary_prefix`/conv via kwargs.
    """
    try:
        return _Connection(
            host=settings.host,
            port=settings.port,
            user=settings.user,
            password=settings.password,
            database=database if database is not None else settings.database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=connect_timeout,
            client_flag=CLIENT.MULTI_STATEMENTS if kwargs.pop("multi_statements", False) else 0,
            cursorclass=pymysql.cursors.SSCursor if unbuffered else pymysql.cursors.Cursor,
            **kwargs,
        )
    except pymysql.err.OperationalError as exc:
        raise connection_error(exc, settings, database or settings.database) from None


def connection_error(exc: pymysql.err.MySQLError, settings: DbSettings, database: str | None) -> Exception:
    code = exc.args[0] if exc.args else 0
    where = settings.redacted()
    if code in (ER_ACCESS_DENIED, ER_DBACCESS_DENIED, ER_ACCESS_DENIED_NO_PASSWORD):
        return UsageError(f"access denied for {where}: wrong user or password")
    if code == ER_BAD_DB:
        return UsageError(f"unknown database {database!r} on {settings.host}:{settings.port}")
    if code in (CR_CONN_HOST_ERROR, CR_UNKNOWN_HOST):
        return UsageError(f"cannot reach MySQL/MariaDB server at {settings.host}:{settings.port}")
    message = exc.args[1] if len(exc.args) > 1 else str(exc)
    return OperationError(f"database error {code} on {where}: {message}")


def interrupt(conn: Any) -> None:
    """Wake a thread blocked reading `conn` by shutting its socket; the connection is unusable after."""
    sock = getattr(conn, "_sock", None)
    if sock is None:
        return
    with contextlib.suppress(OSError):  # already closed: nothing is blocked on it
        sock.shutdown(socket.SHUT_RDWR)
