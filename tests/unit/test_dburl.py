import logging

import pytest

from cloudbackup.dburl import DbSettings, parse_db_url
from cloudbackup.errors import UsageError
from cloudbackup.mysql.connection import connect, tls_arguments, warn_if_unverified


def test_full_url_is_parsed_and_percent_decoded():
    s = parse_db_url("mysql://app:p%40ss@db.example:3307/shop", environ={})
    assert (s.user, s.password, s.host, s.port, s.database) == ("app", "p@ss", "db.example", 3307, "shop")


def test_password_falls_back_to_mysql_pwd_and_port_to_3306():
    s = parse_db_url("mysql://root@127.0.0.1", environ={"MYSQL_PWD": "secret"})
    assert (s.password, s.port, s.database) == ("secret", 3306, None)


@pytest.mark.parametrize(
    "url",
    ["postgres://u@h/db", "mysql://h/db", "127.0.0.1:3306", "mysql://u@h:notaport/db", "mysql://u@h/a/b"],
)
def test_bad_urls_are_usage_errors_that_show_the_expected_form(url):
    with pytest.raises(UsageError, match="mysql://USER"):
        parse_db_url(url, environ={})


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:hunter2@h/a/b",
        # malformed beyond parsing: no scheme, a scheme without its slashes or its colon, another scheme
        "root:hunter2@127.0.0.1",
        "mysql//root:hunter2@127.0.0.1",
        "mysql:/root:hunter2@127.0.0.1",
        "postgres://root:hunter2@127.0.0.1/db",
        "root:hunter2@with@127.0.0.1",
    ],
)
def test_the_password_never_appears_in_the_error(url):
    with pytest.raises(UsageError) as info:
        parse_db_url(url, environ={})
    assert "hunter2" not in str(info.value)
    assert "127.0.0.1" in str(info.value) or url.endswith("/a/b")  # the rest is still shown


# TLS options, spelled as the mysql client's flags.


def test_ssl_options_are_read_from_the_query():
    s = parse_db_url(
        "mysql://u@db.example/shop?ssl-mode=verify_ca&ssl-ca=/etc/rds/global-bundle.pem", environ={}
    )
    assert (s.ssl_mode, s.ssl_ca, s.tls_mode(), s.database) == (
        "VERIFY_CA",
        "/etc/rds/global-bundle.pem",
        "VERIFY_CA",
        "shop",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:pw@h/db?ssl-mode=SOMETIMES", "not one of DISABLED, PREFERRED"),
        ("mysql://u:pw@h/db?sslmode=require", "unknown option 'sslmode'"),
        ("mysql://u:pw@h/db?ssl-ca=", "ssl-ca is empty"),
        ("mysql://u:pw@h/db?ssl-mode=DISABLED&ssl-ca=/ca.pem", "makes no sense"),
        ("mysql://u:pw@h/db?ssl-mode=REQUIRED&ssl-mode=DISABLED", "given twice"),
    ],
)
def test_bad_ssl_options_are_usage_errors_without_the_password(url, message):
    with pytest.raises(UsageError, match=message) as info:
        parse_db_url(url, environ={})
    assert "pw@" not in str(info.value)


@pytest.mark.parametrize(
    ("host", "ca", "expected"),
    [
        ("db.example.com", None, "REQUIRED"),  # over a network: encrypted at least
        ("10.0.0.7", None, "REQUIRED"),
        ("db.example.com", "/ca.pem", "VERIFY_IDENTITY"),  # a CA given: checked
        ("127.0.0.1", "/ca.pem", "VERIFY_IDENTITY"),
        ("127.0.0.1", None, "PREFERRED"),  # this machine: as before
        ("localhost", None, "PREFERRED"),
        ("::1", None, "PREFERRED"),
    ],
)
def test_default_tls_mode(host, ca, expected):
    assert DbSettings(host=host, port=3306, user="u", ssl_ca=ca).tls_mode() == expected


def test_an_explicit_mode_wins_over_the_default():
    assert (
        DbSettings(host="db.example.com", port=3306, user="u", ssl_mode="DISABLED").tls_mode() == "DISABLED"
    )


def test_required_by_default_warns_once_that_the_identity_is_unchecked(caplog):
    settings = DbSettings(host="warn-once.example.com", port=3306, user="u")
    with caplog.at_level(logging.WARNING):
        tls_arguments(settings)  # (the arguments alone say nothing: no connection was made yet)
        warn_if_unverified(settings)
        warn_if_unverified(settings)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "identity is unchecked" in warnings[0]


def test_an_unreachable_server_gets_one_line_and_no_tls_warning(caplog):
    # Given a server by a name that is not loopback (TLS by default), which cannot be reached
    settings = DbSettings(host="unreachable.invalid", port=3306, user="u")
    assert settings.tls_mode() == "REQUIRED"
    # When a connection is tried
    with caplog.at_level(logging.WARNING), pytest.raises(UsageError, match="cannot reach"):
        connect(settings)
    # Then the error is all that is said: nothing of a TLS connection that was never made
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_repr_hides_the_password():
    s = parse_db_url("mysql://app:hunter2@db.example/shop", environ={})
    assert "hunter2" not in repr(s)
    assert "hunter2" not in str(s)
    assert s.password == "hunter2"


@pytest.mark.parametrize("password", ["hunt#er2", "hunt/er2", "hunt?er2", "hunt#er2:x"])
def test_a_password_holding_a_url_delimiter_is_said_to_need_encoding_and_no_part_of_it_shown(password):
    # Given a URL whose password holds #, / or ?, which end a URL's host part (`hunt` becomes the port)
    url = f"mysql://app:{password}@127.0.0.1/shop"
    # When it is parsed
    with pytest.raises(UsageError) as info:
        parse_db_url(url, environ={})
    # Then the error says how to write it, and shows no part of the password
    message = str(info.value)
    assert "percent-encoded" in message
    assert "--db-password-file" in message
    assert "hunt" not in message
    assert "er2" not in message
