"""Settings are checked at cold start: a deployment mistake stops the function with one line naming it.
Database secrets are read in the RDS secret format and their values never appear in a message."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from handlers import constants as c
from handlers.secrets import RdsSecret, SecretError, read_db_secret
from handlers.settings import SettingsError, SourceConfig, load_settings
from tests.fixtures.lambda_runtime import settings_env

REPO = Path(__file__).resolve().parents[2]


def test_the_infrastructure_environment_loads_into_typed_settings() -> None:
    settings = load_settings(
        settings_env(CLOUDBACKUP_SAFETY_MARGIN_SECONDS="45", CLOUDBACKUP_COMPRESSION="gzip")
    )
    assert settings.bucket == "cbt-bucket"
    assert settings.prefix == "backups"
    assert settings.kms_key_id is None  # empty means the bucket's default key
    assert settings.safety_margin_seconds == 45.0
    assert settings.compression == "gzip"
    assert settings.source("orders-db").restore_allow == ["cbt_*"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({c.ENV_BUCKET: None}, f"{c.ENV_BUCKET}: Field required"),
        ({c.ENV_BUCKET: "Not_A_Bucket"}, f"{c.ENV_BUCKET}: String should match pattern"),
        ({c.ENV_EVENT_BUS: None}, f"{c.ENV_EVENT_BUS}: Field required"),
        ({c.ENV_REGION: None}, f"{c.ENV_REGION}: Field required"),
        ({c.ENV_SOURCES: "{not json"}, f"{c.ENV_SOURCES} is not JSON"),
        ({c.ENV_SOURCES: "{}"}, f"{c.ENV_SOURCES}: Dictionary should have at least 1 item"),
        (
            {c.ENV_SOURCES: json.dumps({"db": {"databases": "*"}})},
            f"{c.ENV_SOURCES}.db.secret_arn: Field required",
        ),
        (
            {c.ENV_SOURCES: json.dumps({"db": {"secret_arn": "a", "dbs": []}})},
            f"{c.ENV_SOURCES}.db.dbs: Extra",
        ),
        ({c.ENV_SAFETY_MARGIN: "soon"}, f"{c.ENV_SAFETY_MARGIN}: Input should be a valid number"),
        ({c.ENV_SAFETY_MARGIN: "0"}, f"{c.ENV_SAFETY_MARGIN}: Input should be greater than 0"),
        ({c.ENV_COMPRESSION: "lz4"}, f"{c.ENV_COMPRESSION}: Input should be 'zstd', 'gzip' or 'none'"),
    ],
)
def test_a_bad_environment_is_one_line_naming_the_variable(change: dict[str, str | None], named: str) -> None:
    env = settings_env()
    for key, value in change.items():
        if value is None:
            del env[key]
        else:
            env[key] = value
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    assert named in str(raised.value)
    assert str(raised.value).startswith("invalid Lambda settings: ")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("module", ["backup", "restore"])
def test_the_handler_module_refuses_to_start_with_bad_settings(
    module: str, load_handler: Callable[[str, dict[str, str]], ModuleType]
) -> None:
    env = settings_env()
    del env[c.ENV_BUCKET]
    with pytest.raises(SettingsError, match=f"{c.ENV_BUCKET}: Field required"):
        load_handler(module, env)


def test_a_cold_start_with_bad_settings_fails_at_import_in_a_fresh_interpreter() -> None:
    # As the Lambda runtime does it: import the entry point's module in a new process.
    env = {"PATH": "/usr/bin:/bin", **settings_env(CLOUDBACKUP_COMPRESSION="rar")}
    proc = subprocess.run(
        [sys.executable, "-c", "import handlers.backup"],
        cwd=REPO / "functions",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert (
        "handlers.settings.SettingsError: invalid Lambda settings: CLOUDBACKUP_COMPRESSION: "
        "Input should be 'zstd', 'gzip' or 'none'" in proc.stderr
    )


def test_restore_allow_list_is_fnmatch_patterns_and_empty_allows_nothing() -> None:
    source = SourceConfig(secret_arn="arn", restore_allow=["shop_restored*", "staging"])
    assert source.allows_restore_into("shop_restored")
    assert source.allows_restore_into("shop_restored_2026")
    assert source.allows_restore_into("staging")
    assert not source.allows_restore_into("shop")
    assert not source.allows_restore_into("Staging")
    assert not SourceConfig(secret_arn="arn").allows_restore_into("anything")


def test_rds_secret_maps_to_connection_settings() -> None:
    secret = RdsSecret.model_validate(
        {
            "engine": "mysql",
            "host": "db.internal",
            "port": 3307,
            "username": "bk",
            "password": "pw",
            "dbname": "shop",
        }
    )
    db = secret.db_settings()
    assert (db.host, db.port, db.user, db.password, db.database) == ("db.internal", 3307, "bk", "pw", "shop")
    assert RdsSecret.model_validate({"host": "h", "username": "u", "password": ""}).db_settings().port == 3306


def test_a_malformed_secret_is_named_without_its_values(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a secret whose JSON lacks the host and has a bad port; its password must never be echoed
    value: dict[str, Any] = {"username": "bk", "password": "hunter2-very-secret", "port": "not-a-port"}
    monkeypatch.setattr(
        "aws_lambda_powertools.utilities.parameters.get_secret", lambda name, **kwargs: dict(value)
    )
    with pytest.raises(SecretError) as raised:
        read_db_secret("arn:aws:secretsmanager:us-east-1:1:secret:x", max_age=0)
    message = str(raised.value)
    assert "not in the RDS secret format" in message
    assert "host: Field required" in message
    assert "port: Input should be a valid integer" in message
    assert "hunter2" not in message
    assert "not-a-port" not in message
