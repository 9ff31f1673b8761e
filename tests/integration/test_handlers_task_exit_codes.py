"""The Fargate task's exit code (handlers.task.main, in-process, on the real server and the local AWS
endpoint) is the CLI's for the same outcome: 0 done, 1 the operation failed, 2 bad usage. The same
mistakes raise the runs' bad-usage classes, so a function's error type tells them apart too."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters import base as parameters_base

from cloudbackup.catalog import list_backups
from cloudbackup.dburl import DbSettings
from handlers import constants as c
from handlers import task
from tests.fixtures.lambda_runtime import Deployment, fill_table
from tests.fixtures.mariadb import admin_connect

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore:No application metrics")]


@pytest.fixture
def backed_up(deployment: Deployment, make_database: Callable[[str], str], db_settings: DbSettings) -> str:
    """A database of one small table with one backup, made by the backup function."""
    name = make_database("hexit")
    fill_table(db_settings, name, "orders", 40)
    deployment.backup({"source": deployment.source, "databases": [name]})
    return name


def run_task(
    deployment: Deployment, event: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """The task's exit code and its stderr, run as its container runs it: the event in its environment."""
    capsys.readouterr()
    code = task.main({**deployment.environment(), c.ENV_TASK_EVENT: json.dumps(event)})
    return code, capsys.readouterr().err


def restore_event(deployment: Deployment, name: str, **fields: Any) -> dict[str, Any]:
    return {"source": deployment.source, "database": name, "backup": "latest", **fields}


def test_a_restore_into_a_non_empty_target_is_bad_usage(
    deployment: Deployment, backed_up: str, db_settings: DbSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a target that already holds a table
    target = f"{backed_up}_full"
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{target}`")
        cur.execute(f"CREATE TABLE `{target}`.kept (id INT)")
    # When the restore task is asked to restore into it
    code, err = run_task(deployment, restore_event(deployment, backed_up, target_database=target), capsys)
    # Then it exits 2, as the CLI does, with one line naming the problem in the event's terms
    assert code == 2
    assert err.strip().splitlines() == [
        f"cloudbackup task: target database {target} exists and is not empty (1 tables/views); "
        'choose a new name or use "in_place": true'
    ]


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"tables": ["nosuch"]}, "tables nosuch: backup "),
        ({"to_time": "2001-01-01T00:00:00Z"}, "to_time 2001-01-01T00:00:00+00:00 is before every backup of"),
    ],
)
def test_a_restore_of_what_the_backups_do_not_hold_is_bad_usage(
    deployment: Deployment,
    backed_up: str,
    capsys: pytest.CaptureFixture[str],
    fields: dict[str, Any],
    said: str,
) -> None:
    event = restore_event(deployment, backed_up, target_database=f"{backed_up}_new", **fields)
    code, err = run_task(deployment, event, capsys)
    assert code == 2
    [line] = err.strip().splitlines()
    assert said in line


def test_a_backup_of_an_unknown_database_is_bad_usage(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_task(deployment, {"source": deployment.source, "databases": ["cbt_nosuch_db"]}, capsys)
    assert code == 2
    [line] = err.strip().splitlines()
    assert "cbt_nosuch_db (failed: unknown database 'cbt_nosuch_db'" in line


def test_a_wrong_database_password_is_bad_usage_for_a_backup_and_a_restore(
    deployment: Deployment, backed_up: str, db_settings: DbSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a secret whose password is not the server's
    secret = {"host": db_settings.host, "port": db_settings.port, "username": db_settings.user}
    deployment.put_secret({**secret, "password": "not-the-Pa55word"})
    parameters_base.DEFAULT_PROVIDERS.clear()  # a new task holds no secret cached by the backup above
    # When each task runs
    for event in (
        {"source": deployment.source, "databases": [backed_up]},
        restore_event(deployment, backed_up, target_database=f"{backed_up}_pw"),
    ):
        code, err = run_task(deployment, event, capsys)
        # Then each exits 2 with one line saying the credentials were refused
        assert code == 2, err
        [line] = err.strip().splitlines()
        assert "access denied" in line


def test_a_failed_operation_still_exits_1(
    deployment: Deployment, backed_up: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a backup whose data object was damaged after it was written
    [entry] = list_backups([deployment.store()], database=backed_up, source=deployment.source)
    key = f"{deployment.prefix}/{entry.manifest.data.key}"
    s3 = deployment.aws("s3")
    data = bytearray(s3.get_object(Bucket=deployment.bucket, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0xFF
    s3.put_object(Bucket=deployment.bucket, Key=key, Body=bytes(data))
    # When the restore task runs, it fails the operation: exit 1, not bad usage
    code, err = run_task(
        deployment, restore_event(deployment, backed_up, target_database=f"{backed_up}_x"), capsys
    )
    assert code == 1
    assert "SHA-256" in err or "sha256" in err.lower()


def test_a_restore_that_succeeds_exits_0(
    deployment: Deployment, backed_up: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_task(
        deployment, restore_event(deployment, backed_up, target_database=f"{backed_up}_ok"), capsys
    )
    assert code == 0, err
