"""The functions' database settings: TLS options from the secret and the source, the restore's own secret."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError

from cloudbackup.catalog import find_backup
from cloudbackup.errors import UsageError
from cloudbackup.storage.local import LocalStorage
from handlers.engine import Engine
from handlers.secrets import ASSET_ROOT, RdsSecret
from handlers.settings import SourceConfig
from tests.fixtures.lambda_runtime import SOURCE, settings_env, substitute
from tests.unit.test_handlers_backup import DB, manifest_for, store_backup
from tests.unit.test_handlers_restore import StandInRestore

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

SECRET = {"host": "db.internal", "username": "backup", "password": "pw"}


def test_the_secret_carries_the_mysql_clients_tls_options() -> None:
    secret = RdsSecret.model_validate({**SECRET, "ssl_mode": "verify_identity", "ssl_ca": "ca/orders-db.pem"})
    db = secret.db_settings()
    assert db.tls_mode() == "VERIFY_IDENTITY"
    # a relative CA names a file shipped in the function's asset
    assert db.ssl_ca == str(ASSET_ROOT / "ca" / "orders-db.pem")


def test_a_secret_without_tls_options_is_required_tls_for_a_remote_host() -> None:
    assert RdsSecret.model_validate(SECRET).db_settings().tls_mode() == "REQUIRED"


def test_a_bad_ssl_mode_in_the_secret_names_the_field_not_the_password() -> None:
    with pytest.raises(ValidationError) as info:
        RdsSecret.model_validate({**SECRET, "password": "hunter2", "ssl_mode": "SOMETIMES"})
    assert "ssl_mode" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_the_sources_tls_options_override_the_secrets() -> None:
    from_secret = RdsSecret.model_validate({**SECRET, "ssl_mode": "REQUIRED"}).db_settings()
    source = SourceConfig(secret_arn="arn:s", ssl_ca="ca/orders-db.pem")
    db = source.with_tls(from_secret)
    assert (db.ssl_mode, db.ssl_ca) == ("REQUIRED", str(ASSET_ROOT / "ca" / "orders-db.pem"))
    assert (
        SourceConfig(secret_arn="arn:s", ssl_mode="VERIFY_CA").with_tls(from_secret).ssl_mode == "VERIFY_CA"
    )
    assert SourceConfig(secret_arn="arn:s").with_tls(from_secret) == from_secret


def restore_function_over_a_backup(
    load_handler: Callable[..., ModuleType],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    config: dict[str, Any],
    **engine_parts: Any,
) -> ModuleType:
    """The restore function of a source configured so, over a local store holding one backup of shop,
    with a stand-in engine (`engine_parts` replace its parts)."""
    store = LocalStorage(tmp_path)
    store_backup(store, manifest_for("shop", "newer0002"))
    module = load_handler("restore", settings_env(sources={SOURCE: config}))
    parts: dict[str, Any] = {
        "read_secret": lambda arn, fresh: DB,
        "open_store": lambda: store,
        "resolve_databases": lambda *a: [],
        "backup_database": lambda *a, **k: None,
        "restore_backup": StandInRestore().restore,
        "find_backup": find_backup,
    }
    substitute(monkeypatch, module, engine=Engine(**(parts | engine_parts)))
    return module


@pytest.mark.parametrize(
    ("config", "read"),
    [
        ({"secret_arn": "arn:backup", "restore_secret_arn": "arn:restore"}, "arn:restore"),
        ({"secret_arn": "arn:backup"}, "arn:backup"),
    ],
)
def test_the_restore_function_reads_its_own_secret_when_configured(
    config: dict[str, str],
    read: str,
    load_handler: Callable[..., ModuleType],
    lambda_context: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    arns: list[str] = []

    def read_secret(arn: str, fresh: bool) -> Any:
        arns.append(arn)
        return DB

    engine = StandInRestore()
    module = restore_function_over_a_backup(
        load_handler, monkeypatch, tmp_path, {**config, "restore_allow": ["shop_r"]},
        read_secret=read_secret, restore_backup=engine.restore,
    )  # fmt: skip
    event = {"source": SOURCE, "database": "shop", "backup": "latest", "target_database": "shop_r"}
    module.handler(event, lambda_context())
    assert arns == [read]
    assert len(engine.calls) == 1


@pytest.mark.parametrize(
    ("config", "ssl_mode"),
    [
        # drilled on the source's own server: with the source's TLS options, as its backups are
        ({"secret_arn": "arn:backup", "ssl_mode": "VERIFY_IDENTITY"}, "VERIFY_IDENTITY"),
        # on a drill server of its own: that server's secret says its TLS options
        ({"secret_arn": "arn:backup", "ssl_mode": "VERIFY_IDENTITY", "drill_secret_arn": "arn:drill"}, None),
    ],
)
def test_a_drill_connects_with_the_tls_options_of_the_server_it_drills_on(
    config: dict[str, str],
    ssl_mode: str | None,
    load_handler: Callable[..., ModuleType],
    lambda_context: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Given a source whose deployment config asks for a verified TLS connection, and a backup of it
    drilled_with: list[Any] = []

    def drill(db: Any, entry: Any, **kwargs: Any) -> Any:
        drilled_with.append(db)
        raise UsageError("stand-in: stop after connecting")

    module = restore_function_over_a_backup(
        load_handler, monkeypatch, tmp_path, {**config, "drill": True}, run_drill=drill
    )
    # When the restore function runs a drill of it
    with pytest.raises(RuntimeError, match="stand-in"):
        module.handler({"source": SOURCE, "database": "shop", "drill": True}, lambda_context())
    # Then the drill's connection carries the TLS options of the server it drills on
    (db,) = drilled_with
    assert db.ssl_mode == ssl_mode
