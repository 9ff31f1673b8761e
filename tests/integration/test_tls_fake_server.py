"""TLS against a fake server playing the man in the middle: the password never reaches it.

The fake offers TLS with a certificate of its own choosing (or no TLS) and then asks for the password
in cleartext (mysql_clear_password), recording every byte it receives.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cloudbackup.dburl import DbSettings
from cloudbackup.errors import UsageError
from cloudbackup.mysql.connection import connect
from tests.fixtures.fake_mysql import fake_mysql
from tests.fixtures.tls_certs import make_ca, make_server_cert

PASSWORD = "s3cret-never-sent"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | tuple[Path, Path]]:
    """The operator's CA, an attacker's CA, and server certificates signed by each."""
    d = tmp_path_factory.mktemp("fake-certs")
    good, evil = make_ca(d, "good"), make_ca(d, "evil")
    return {
        "good_ca": good[0],
        "evil_ca": evil[0],
        "signed_by_evil": make_server_cert(d, evil, ["127.0.0.1", "localhost"], stem="evil-server"),
        "signed_by_good": make_server_cert(d, good, ["127.0.0.1", "localhost"], stem="good-server"),
        "other_name": make_server_cert(d, good, ["db.example.com"], stem="other-name"),
    }


def settings(port: int, **tls: str) -> DbSettings:
    return DbSettings(host="127.0.0.1", port=port, user="backup", password=PASSWORD, **tls)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["VERIFY_CA", "VERIFY_IDENTITY"])
def test_a_certificate_from_another_ca_gets_no_password(certs, mode):
    # Given a server whose certificate the operator's CA did not sign
    # When the client verifies against the operator's CA
    with (
        fake_mysql(certs["signed_by_evil"]) as fake,
        pytest.raises(UsageError, match="certificate does not verify") as info,
    ):
        connect(settings(fake.port, ssl_mode=mode, ssl_ca=str(certs["good_ca"])))
    # Then it stops at the handshake: one line, and the password never left the client
    assert "\n" not in str(info.value)
    assert not fake.saw(PASSWORD)


def test_a_certificate_for_another_host_name_gets_no_password(certs):
    with (
        fake_mysql(certs["other_name"]) as fake,
        pytest.raises(UsageError, match=r"TLS to 127\.0\.0\.1") as info,
    ):
        connect(settings(fake.port, ssl_mode="VERIFY_IDENTITY", ssl_ca=str(certs["good_ca"])))
    assert "127.0.0.1" in str(info.value)
    assert "\n" not in str(info.value)
    assert not fake.saw(PASSWORD)


def test_a_ca_alone_means_verify_identity(certs):
    with fake_mysql(certs["other_name"]) as fake, pytest.raises(UsageError, match="TLS to"):
        connect(settings(fake.port, ssl_ca=str(certs["good_ca"])))
    assert not fake.saw(PASSWORD)


def test_required_refuses_a_server_without_tls():
    with fake_mysql(None) as fake, pytest.raises(UsageError, match="does not offer TLS") as info:
        connect(settings(fake.port, ssl_mode="REQUIRED"))
    assert "\n" not in str(info.value)
    assert not fake.saw(PASSWORD)


@pytest.mark.parametrize("mode", ["PREFERRED", "REQUIRED"])
def test_no_cleartext_password_over_unverified_tls(certs, mode):
    with fake_mysql(certs["signed_by_evil"]) as fake, pytest.raises(UsageError, match="mysql_clear_password"):
        connect(settings(fake.port, ssl_mode=mode))
    assert fake.tls_used
    assert not fake.saw(PASSWORD)


def test_no_cleartext_password_without_tls():
    with fake_mysql(None) as fake, pytest.raises(UsageError, match="mysql_clear_password"):
        connect(settings(fake.port, ssl_mode="PREFERRED"))
    assert not fake.saw(PASSWORD)


def test_the_cleartext_plugin_is_allowed_once_the_server_is_verified(certs):
    # The control: this fake does collect a password when the client lets it (RDS IAM tokens use
    # this plugin over verified TLS, as the mysql client with --enable-cleartext-plugin does).
    with fake_mysql(certs["signed_by_good"]) as fake, pytest.raises(UsageError, match="access denied"):
        connect(settings(fake.port, ssl_mode="VERIFY_IDENTITY", ssl_ca=str(certs["good_ca"])))
    assert fake.tls_used
    assert fake.saw(PASSWORD)


def test_cli_backup_against_an_unverified_server_is_one_line_exit_2_and_writes_nothing(certs, tmp_path):
    data = tmp_path / "store"
    with fake_mysql(certs["signed_by_evil"]) as fake:
        url = f"mysql://backup:{PASSWORD}@127.0.0.1:{fake.port}/shop?ssl-mode=VERIFY_CA&ssl-ca={certs['good_ca']}"
        result = subprocess.run(
            [sys.executable, "-m", "cloudbackup.cli.main", "backup", "--db-url", url, "--data", str(data)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "certificate does not verify" in result.stderr
    assert PASSWORD not in result.stderr
    assert not fake.saw(PASSWORD)
    assert not data.exists() or not any(data.rglob("*.*"))
