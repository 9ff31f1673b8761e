"""TLS against real servers: a MariaDB with a test CA's certificate, and MySQL 9.7's own certificates."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from cloudbackup.dburl import parse_db_url
from cloudbackup.errors import UsageError
from cloudbackup.mysql.connection import connect
from tests.fixtures.mariadb import admin_connect
from tests.fixtures.mysql_server import MySQLServer
from tests.fixtures.tls_server import TlsServer
from tests.integration.restore_helpers import server_global

CLI = [sys.executable, "-m", "cloudbackup.cli.main"]


def cloudbackup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, check=False)


def url(server: TlsServer, query: str) -> str:
    s = server.settings
    return f"mysql://{s.user}:{s.password}@{s.host}:{s.port}?{query}"


@pytest.fixture
def shop(tls_mariadb: TlsServer):
    with admin_connect(tls_mariadb.settings) as conn, conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS tls_shop")
        cur.execute("DROP DATABASE IF EXISTS tls_shop_copy")
        cur.execute("CREATE DATABASE tls_shop")
        cur.execute("USE tls_shop")
        cur.execute("CREATE TABLE tls_shop.t (id INT PRIMARY KEY, s VARCHAR(20))")
        cur.execute("INSERT INTO tls_shop.t SELECT seq, CONCAT('row ', seq) FROM seq_1_to_300")
    return "tls_shop"


def test_backup_and_restore_over_verified_tls(tls_mariadb, shop, tmp_path):
    # Given a server whose certificate names 127.0.0.1 and the CA that signed it
    query = f"ssl-mode=VERIFY_IDENTITY&ssl-ca={tls_mariadb.ca}"
    data = str(tmp_path / "store")
    # When backing up and restoring into a copy with the identity checked
    backup = cloudbackup("backup", "--db-url", url(tls_mariadb, query), "--database", shop, "--data", data)
    assert backup.returncode == 0, backup.stderr
    restore = cloudbackup(
        "restore", "--db-url", url(tls_mariadb, query), "--backup", "latest", "--database", shop,
        "--target-database", "tls_shop_copy", "--data", data,
    )  # fmt: skip
    assert restore.returncode == 0, restore.stderr
    # Then the copy holds the rows, and the connection was encrypted
    with admin_connect(tls_mariadb.settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*), SUM(id) FROM tls_shop_copy.t")
        assert cur.fetchone() == (300, 45150)
    with connect(tls_mariadb.settings.with_database(None)) as conn, conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        assert cur.fetchone()[1]


def test_a_wrong_ca_is_one_line_exit_2_and_nothing_written(tls_mariadb, shop, tmp_path):
    data = tmp_path / "store"
    query = f"ssl-mode=VERIFY_IDENTITY&ssl-ca={tls_mariadb.wrong_ca}"
    result = cloudbackup(
        "backup", "--db-url", url(tls_mariadb, query), "--database", shop, "--data", str(data)
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "certificate does not verify" in result.stderr
    assert tls_mariadb.settings.password not in result.stderr
    assert not data.exists() or not any(p.is_file() for p in data.rglob("*"))


def test_a_ca_alone_verifies_the_identity(tls_mariadb):
    with pytest.raises(UsageError, match="certificate does not verify"):
        connect(replace(tls_mariadb.settings, ssl_ca=str(tls_mariadb.wrong_ca)))


def mysql_ca(server: MySQLServer) -> Path:
    return server.home / "data" / "ca.pem"  # made by the server at initialisation


def test_verify_ca_on_mysql_with_its_own_ca(mysql_server):
    settings = parse_db_url(
        f"{mysql_server.url}?ssl-mode=VERIFY_CA&ssl-ca={mysql_ca(mysql_server)}", environ={}
    )
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        assert cur.fetchone()[1]


def test_verify_identity_on_mysql_refuses_its_self_named_certificate(mysql_server):
    # MySQL's generated certificate names "MySQL_Server_..._Auto_Generated_Server_Certificate", not the host
    settings = parse_db_url(f"{mysql_server.url}?ssl-ca={mysql_ca(mysql_server)}", environ={})
    with pytest.raises(UsageError, match="TLS to") as info:
        connect(settings)
    assert "\n" not in str(info.value)


def test_verify_ca_on_mysql_with_a_wrong_ca(mysql_server, tls_mariadb):
    settings = parse_db_url(
        f"{mysql_server.url}?ssl-mode=VERIFY_CA&ssl-ca={tls_mariadb.wrong_ca}", environ={}
    )
    with pytest.raises(UsageError, match="certificate does not verify"):
        connect(settings)


def test_a_server_requiring_tls_refuses_ssl_mode_disabled_in_one_line_saying_what_to_do(mysql_server):
    settings = parse_db_url(mysql_server.url, environ={})
    # Given a server accepting only TLS connections (a parameter group's setting on RDS)
    with server_global(settings, "require_secure_transport", "ON"):
        # When a connection is asked for without TLS
        without_tls = parse_db_url(f"{mysql_server.url}?ssl-mode=DISABLED", environ={})
        with pytest.raises(UsageError) as refused:
            connect(without_tls)
        # Then a usage error (exit 2) says why, in one line naming the setting and the way out
        message = str(refused.value)
        assert "\n" not in message
        for named in ("require_secure_transport", "ssl-mode=DISABLED", "ssl-mode=REQUIRED"):
            assert named in message, message
        # And with the default mode the same server is reached, over TLS
        with connect(settings) as conn, conn.cursor() as cur:
            cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            assert cur.fetchone()[1]


def test_an_account_requiring_tls_is_told_apart_from_a_wrong_password(mysql_server):
    settings = parse_db_url(mysql_server.url, environ={})
    user, password = "cb_tls_only", "tls-Only-pw-1"
    # Given an account of MySQL's default plugin (caching_sha2_password) that must use TLS, with the
    # server's authentication cache empty (a new account, then FLUSH PRIVILEGES)
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(
            f"CREATE USER '{user}'@'%' IDENTIFIED WITH caching_sha2_password BY '{password}' REQUIRE SSL"
        )
        cur.execute("FLUSH PRIVILEGES")
    try:
        account = parse_db_url(f"mysql://{user}:{password}@127.0.0.1:{mysql_server.port}", environ={})
        # When it connects without TLS, with the right password
        with pytest.raises(UsageError) as refused:
            connect(replace(account, ssl_mode="DISABLED"))
        # Then the one line says the account may require TLS, not only that the password may be wrong
        message = str(refused.value)
        assert "\n" not in message
        assert "REQUIRE SSL" in message, message
        # And with the default mode (TLS where the server offers it) it connects, a full authentication
        with connect(account) as conn, conn.cursor() as cur:
            cur.execute("SELECT CURRENT_USER()")
            assert cur.fetchone()[0] == f"{user}@%"
    finally:
        with admin_connect(settings) as conn, conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
