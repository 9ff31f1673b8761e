"""Parse `mysql://USER[:PASSWORD]@HOST[:PORT][/DATABASE][?ssl-mode=MODE&ssl-ca=FILE]` into settings."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from typing import Literal, get_args
from urllib.parse import parse_qsl, unquote, urlsplit

from cloudbackup.errors import UsageError

EXPECTED_FORM = "mysql://USER[:PASSWORD]@HOST[:PORT][/DATABASE][?ssl-mode=MODE&ssl-ca=FILE]"

# The mysql client's --ssl-mode values, weakest first.
SslMode = Literal["DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"]
SSL_MODES: tuple[SslMode, ...] = get_args(SslMode)
VERIFYING_MODES: frozenset[SslMode] = frozenset({"VERIFY_CA", "VERIFY_IDENTITY"})
# URL options, spelled as the mysql client's flags (underscores accepted, as in option files).
_OPTIONS = ("ssl-mode", "ssl-ca")


@dataclass(frozen=True)
class DbSettings:
    host: str
    port: int
    user: str
    password: str = field(default="", repr=False)  # never in a repr, a log line or a traceback
    database: str | None = None
    ssl_mode: SslMode | None = None  # None: chosen from ssl_ca and the host (see tls_mode)
    ssl_ca: str | None = None  # PEM file of the CA(s) the server's certificate must chain to
    # Where the password came from, said when access is denied: with a password in several places the
    # one used is not the one an operator may think (empty: not the command line's to say, e.g. a secret).
    password_from: str = field(default="", compare=False)

    def with_database(self, database: str | None) -> DbSettings:
        return replace(self, database=database)

    def redacted(self) -> str:
        """How the server is named in messages: never the password."""
        return f"{self.user}@{self.host}:{self.port}"

    def tls_mode(self) -> SslMode:
        """The mode in force: the one given, else VERIFY_IDENTITY with a CA, REQUIRED for a server
        reached over a network, PREFERRED on this machine (where nobody sits in between)."""
        if self.ssl_mode is not None:
            return self.ssl_mode
        if self.ssl_ca:
            return "VERIFY_IDENTITY"
        return "PREFERRED" if is_loopback(self.host) else "REQUIRED"


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_tls_options(ssl_mode: str | None, ssl_ca: str | None, where: str) -> SslMode | None:
    """Validate an ssl-mode / ssl-ca pair from a URL, a secret or a config; `where` names the source."""
    mode: SslMode | None = None
    if ssl_mode is not None:
        upper = ssl_mode.strip().upper()
        if upper not in SSL_MODES:
            raise UsageError(f"{where}: ssl-mode {ssl_mode!r} is not one of {', '.join(SSL_MODES)}")
        mode = upper
    if ssl_ca is not None and not ssl_ca:
        raise UsageError(f"{where}: ssl-ca is empty; name a PEM file of CA certificates")
    if ssl_ca and mode == "DISABLED":
        raise UsageError(f"{where}: ssl-ca makes no sense with ssl-mode=DISABLED")
    return mode


def parse_db_url(url: str, environ: dict[str, str] | None = None) -> DbSettings:
    env = os.environ if environ is None else environ
    if _userinfo_cut_short(url):
        raise UsageError(
            "bad --db-url: a password holding #, / or ? must be percent-encoded (%23, %2F, %3F), "
            f"or given with --db-password-file; expected {EXPECTED_FORM}"
        )
    try:
        parts = urlsplit(url)
        port = parts.port or 3306
    except ValueError as exc:
        raise UsageError(f"bad --db-url: {exc}; expected {EXPECTED_FORM}") from None
    if parts.scheme not in ("mysql", "mariadb") or not parts.hostname or not parts.username:
        raise UsageError(f"bad --db-url {_redact(url)!r}: expected {EXPECTED_FORM}")
    if parts.fragment:
        raise UsageError(f"bad --db-url {_redact(url)!r}: no fragment allowed; expected {EXPECTED_FORM}")
    path = parts.path.strip("/")
    if "/" in path:
        raise UsageError(
            f"bad --db-url {_redact(url)!r}: at most one database name; expected {EXPECTED_FORM}"
        )
    options = _query_options(parts.query, _redact(url))
    where = f"bad --db-url {_redact(url)!r}"
    mode = check_tls_options(options.get("ssl-mode"), options.get("ssl-ca"), where)
    password = unquote(parts.password) if parts.password is not None else env.get("MYSQL_PWD", "")
    if parts.password is not None:
        said = "the password in --db-url" + ("; MYSQL_PWD is ignored" if "MYSQL_PWD" in env else "")
    else:
        said = "the password from MYSQL_PWD"
        if "MYSQL_PWD" not in env:
            said = "no password given: --db-url, MYSQL_PWD or --db-password-file"
    return DbSettings(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=password,
        database=unquote(path) or None,
        ssl_mode=mode,
        ssl_ca=options.get("ssl-ca"),
        password_from=said,
    )


def _userinfo_cut_short(url: str) -> bool:
    """Whether a #, / or ? before the `@` ended the URL's host part early: in `u:pa#ss@h` the parser
    reads `pa` as the port, and its error would show that piece of the password."""
    _, scheme_end, rest = url.partition("://")
    if not scheme_end:
        return False
    host_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return "@" not in rest[:host_end] and "@" in rest[host_end:]


def _query_options(query: str, shown: str) -> dict[str, str]:
    options: dict[str, str] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise UsageError(
            f"bad --db-url {shown!r}: cannot read the options; expected {EXPECTED_FORM}"
        ) from None
    for raw_name, value in pairs:
        name = raw_name.replace("_", "-").lower()
        if name not in _OPTIONS:
            raise UsageError(
                f"bad --db-url {shown!r}: unknown option {raw_name!r} (known: {', '.join(_OPTIONS)})"
            )
        if name in options:
            raise UsageError(f"bad --db-url {shown!r}: option {raw_name!r} given twice")
        options[name] = value
    return options


def _redact(url: str) -> str:
    """The URL as an error may show it: never its password, even in a URL too malformed to parse
    (`root:pw@host`, `mysql//root:pw@host`): there everything from the first `:` of what may be the
    user's part to the last `@` is hidden."""
    parts = urlsplit(url)
    if parts.password is not None and parts.scheme in ("mysql", "mariadb"):
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    at = url.rfind("@")
    scheme_end = url.find("://")
    begin = scheme_end + 3 if 0 <= scheme_end < at else 0
    colon = url.find(":", begin, at) if at != -1 else -1
    return url if colon == -1 else f"{url[: colon + 1]}***{url[at:]}"
