"""Open connections with clear one-line errors for the failures operators actually hit."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from functools import cache
from typing import Any

import pymysql
import pymysql.cursors
from pymysql.constants import CLIENT

from cloudbackup.dburl import VERIFYING_MODES, DbSettings, SslMode
from cloudbackup.errors import OperationError, UsageError

# Server error codes that mean "your input is wrong" rather than "the operation failed".
ER_ACCESS_DENIED = 1045
ER_DBACCESS_DENIED = 1044
ER_ACCESS_DENIED_NO_PASSWORD = 1698  # MariaDB, for a user that does not exist
ER_BAD_DB = 1049
CR_CONN_HOST_ERROR = 2003
CR_UNKNOWN_HOST = 2005
CR_SSL_CONNECTION_ERROR = 2026
ER_SECURE_TRANSPORT_REQUIRED = 3159  # require_secure_transport=ON, and no TLS asked for

log = logging.getLogger(__name__)


class Unreachable(UsageError):
    """No server answers at the address: a wrong --db-url at the start of a run (exit 2); a server that
    went away when it comes later (the caller says so)."""


class _Connection(pymysql.connections.Connection):
    """pymysql's connection with the mysql client's TLS modes (see tls_arguments) and one refusal:
    the password never goes in cleartext (mysql_clear_password) unless the server's certificate was
    verified, whoever asks for it."""

    _verified = False  # set by connect(): TLS with a verified certificate is required

    def _create_ssl_ctx(self, sslp: Any) -> Any:
        # PREFERRED (no TLS option): pymysql builds a context per connect with
        # ssl.create_default_context(), which loads the system CA store (~30 ms) that an unverified
        # context never reads. One cached context instead.
        if sslp == {}:
            return _unverified_tls()
        return super()._create_ssl_ctx(sslp)  # type: ignore[misc]  # private: not in the stubs

    def _request_authentication(self) -> None:
        if getattr(self, "_auth_plugin_name", "") == CLEARTEXT_PLUGIN:
            self._refuse_cleartext()
        super()._request_authentication()  # type: ignore[misc]  # private: not in the stubs

    def _process_auth(self, plugin_name: bytes, auth_packet: Any, handler: Any = None) -> Any:
        if plugin_name == CLEARTEXT_PLUGIN.encode():
            self._refuse_cleartext()
        return super()._process_auth(plugin_name, auth_packet, handler)  # type: ignore[misc]

    def _refuse_cleartext(self) -> None:
        if not (self._verified and getattr(self, "_secure", False)):
            raise UsageError(
                f"the server at {self.host}:{self.port} asks for the password in cleartext "
                f"({CLEARTEXT_PLUGIN}) over a connection whose certificate is not verified; "
                "refused (use ssl-mode=VERIFY_IDENTITY with ssl-ca=FILE)"
            )


CLEARTEXT_PLUGIN = "mysql_clear_password"


@cache
def _unverified_tls() -> ssl.SSLContext:
    """What pymysql builds for `{}`: a client context, no hostname check, no certificate check, and
    VERIFY_X509_STRICT off (Python 3.13 turns it on; servers' self-signed certificates fail it).
    Only for PREFERRED and REQUIRED, which by definition do not check who answers."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


@cache  # one load of the CA file per process, not one per connection
def _verifying_tls(mode: SslMode, ca_file: str | None) -> ssl.SSLContext:
    """A context that checks the certificate chain (against `ca_file`, else the system store) and,
    for VERIFY_IDENTITY, the host name. VERIFY_X509_STRICT stays off as in the mysql client: the
    certificates MySQL generates at initialisation lack extensions the strict mode demands."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise UsageError(f"ssl-ca {ca_file}: cannot load CA certificates: {reason}") from None
    context.check_hostname = mode == "VERIFY_IDENTITY"
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


_warned: set[tuple[str, int]] = set()


def tls_arguments(settings: DbSettings) -> dict[str, Any]:
    """pymysql's arguments for the settings' TLS mode, as the mysql client's --ssl-mode means it."""
    mode = settings.tls_mode()
    if mode == "DISABLED":
        return {"ssl_disabled": True}
    if mode == "PREFERRED":
        return {}  # TLS when offered, unverified (the cached context above)
    if mode == "REQUIRED":
        return {"ssl": _unverified_tls()}  # a context is "required": plaintext is refused
    return {"ssl": _verifying_tls(mode, settings.ssl_ca)}


def warn_if_unverified(settings: DbSettings) -> None:
    """Once per server, after a connection is made: TLS by default encrypts, but checks no identity.
    (Before it, the warning would stand above a "cannot reach" error, about a connection never made.)"""
    if (
        settings.ssl_mode is None
        and settings.tls_mode() == "REQUIRED"
        and (settings.host, settings.port) not in _warned
    ):
        _warned.add((settings.host, settings.port))
        log.warning(
            "TLS to %s:%s is encrypted but the server's identity is unchecked; "
            "give ssl-ca=FILE (or ssl-mode=VERIFY_IDENTITY) to verify it",
            settings.host,
            settings.port,
        )


UNLIMITED = 18446744073709551615  # sql_select_limit's largest value, its default


def connect(
    settings: DbSettings,
    *,
    database: str | None = None,
    unbuffered: bool = False,
    connect_timeout: int = 10,
    local_files: bool = False,
    **kwargs: Any,
) -> pymysql.connections.Connection[Any]:
    """Connect with utf8mb4, binary-safe results and autocommit on.

    `database` overrides the URL's database. Results come back as bytes/str exactly as pymysql
    decodes them; dump code that needs raw bytes passes `binary_prefix`/conv via kwargs.
    `local_files` tells the server the client may send LOAD DATA LOCAL rows (mysql/load_data.py
    sends them; pymysql's own file sending stays off, so a server asking for a file gets an error).
    """
    client_flag = CLIENT.MULTI_STATEMENTS if kwargs.pop("multi_statements", False) else 0
    if local_files:
        client_flag |= CLIENT.LOCAL_FILES
    tls = tls_arguments(settings)
    try:
        conn = _Connection(
            defer_connect=True,
            host=settings.host,
            port=settings.port,
            user=settings.user,
            password=settings.password,
            database=database if database is not None else settings.database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=connect_timeout,
            client_flag=client_flag,
            cursorclass=pymysql.cursors.SSCursor if unbuffered else pymysql.cursors.Cursor,
            **tls,
            **kwargs,
        )
        conn._verified = settings.tls_mode() in VERIFYING_MODES
        conn.connect()
        # pymysql takes autocommit from the server's greeting, which says on whatever the server's
        # global autocommit (a managed default, init_connect) gives the session: say it ourselves.
        # So for the default access mode: a server whose transactions start READ ONLY by default
        # (transaction_read_only, a session default any session may change; read_only is what guards
        # a replica) would fail the restore's first write. (MariaDB before 11.1 knows only its old name.)
        # And no cap on what a query returns, reads or takes, which a server-wide guard against
        # runaway queries gives every session: sql_select_limit would cut a table's rows, or a list of
        # tables, short without a word; max_join_size (sql_big_selects off) would refuse a big table's
        # read; a time limit would stop a big table's index build (MariaDB's max_statement_time applies
        # to every statement, MySQL's max_execution_time to SELECT).
        server = str(conn.get_server_info())  # type: ignore[no-untyped-call]  # untyped in the stubs
        mariadb = "MariaDB" in server
        read_only = "tx_read_only" if mariadb else "transaction_read_only"
        time_limit = "max_statement_time" if mariadb else "max_execution_time"
        with conn.cursor() as cur:
            cur.execute(
                f"SET autocommit = 1, {read_only} = 0, sql_select_limit = {UNLIMITED}, "
                f"sql_big_selects = 1, {time_limit} = 0"
            )
    except pymysql.err.OperationalError as exc:
        raise connection_error(exc, settings, database or settings.database) from None
    warn_if_unverified(settings)
    return conn


def connection_error(exc: pymysql.err.MySQLError, settings: DbSettings, database: str | None) -> Exception:
    code = exc.args[0] if exc.args else 0
    where = settings.redacted()
    if code in (ER_ACCESS_DENIED, ER_DBACCESS_DENIED, ER_ACCESS_DENIED_NO_PASSWORD):
        said = f" ({settings.password_from})" if settings.password_from else ""
        # MySQL and MariaDB deny an account created REQUIRE SSL without TLS just as a wrong password.
        tls = (
            ", or the account requires TLS (REQUIRE SSL) and ssl-mode is DISABLED"
            if _without_tls(settings)
            else ""
        )
        return UsageError(f"access denied for {where}: wrong user or password{said}{tls}")
    if code == ER_BAD_DB:
        return UsageError(f"unknown database {database!r} on {settings.host}:{settings.port}")
    tls_failure = _tls_failure(exc)
    if tls_failure:
        return UsageError(f"TLS to {settings.host}:{settings.port} failed: {tls_failure}")
    if code == CR_SSL_CONNECTION_ERROR:
        return UsageError(
            f"the server at {settings.host}:{settings.port} does not offer TLS and "
            f"ssl-mode is {settings.tls_mode()}; refused"
        )
    if code == ER_SECURE_TRANSPORT_REQUIRED:
        return UsageError(
            f"the server at {settings.host}:{settings.port} accepts only TLS connections "
            "(require_secure_transport=ON) and ssl-mode=DISABLED was given: use ssl-mode=REQUIRED "
            "or a verifying mode with ssl-ca=FILE"
        )
    if code in (CR_CONN_HOST_ERROR, CR_UNKNOWN_HOST):
        return Unreachable(f"cannot reach MySQL/MariaDB server at {settings.host}:{settings.port}")
    message = exc.args[1] if len(exc.args) > 1 else str(exc)
    return OperationError(f"database error {code} on {where}: {message}")


def _without_tls(settings: DbSettings) -> bool:
    return settings.tls_mode() == "DISABLED"


def _tls_failure(exc: pymysql.err.MySQLError) -> str | None:
    """The reason a TLS handshake failed (unverifiable certificate, wrong host name), else None."""
    original = getattr(exc, "original_exception", None)
    if isinstance(original, ssl.SSLCertVerificationError):
        return f"the server's certificate does not verify: {original.verify_message}"
    if isinstance(original, ssl.SSLError):
        return f"{original.reason or original}"
    return None


def interrupt(conn: Any) -> None:
    """Wake a thread blocked reading `conn` by shutting its socket; the connection is unusable after."""
    sock = getattr(conn, "_sock", None)
    if sock is None:
        return
    with contextlib.suppress(OSError):  # already closed: nothing is blocked on it
        sock.shutdown(socket.SHUT_RDWR)
