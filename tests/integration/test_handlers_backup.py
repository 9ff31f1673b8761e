"""The backup function invoked in-process as Lambda would, against the real MariaDB and a local AWS
endpoint (S3, Secrets Manager and EventBridge on one moto server; result events routed to SQS)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from cloudbackup.catalog import list_backups
from cloudbackup.dburl import DbSettings
from handlers.backup_run import BackupRunFailed
from tests.fixtures.lambda_runtime import Deployment, captured_logs, fill_table
from tests.fixtures.mariadb import admin_connect

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore:No application metrics")]


def small_database(make_database: Callable[[str], str], db_settings: DbSettings, rows: int = 50) -> str:
    name = make_database("hsmall")
    fill_table(db_settings, name, "orders", rows)
    return name


def test_scheduled_backup_stores_complete_backups_and_publishes_success(
    deployment: Deployment, make_database: Callable[[str], str], db_settings: DbSettings
) -> None:
    # Given two databases on the configured server
    first = small_database(make_database, db_settings, rows=30)
    second = small_database(make_database, db_settings, rows=40)
    # When the schedule delivers its event to the backup function
    result = deployment.backup({"source": deployment.source, "databases": [first, second]})
    # Then both are backed up, one complete backup each, listed from the bucket
    assert [(d["database"], d["status"], d["rows"]) for d in result["databases"]] == [
        (first, "succeeded", 30),
        (second, "succeeded", 40),
    ]
    listed = {e.manifest.database: e for e in list_backups([deployment.store()], source=deployment.source)}
    assert set(listed) == {first, second}
    assert listed[first].id == result["databases"][0]["backup_id"]
    assert result["databases"][0]["location"] == deployment.store().location(listed[first].manifest.data.key)
    assert listed[first].manifest.data.key.startswith(f"{deployment.source}/{first}/")
    # And one "Backup Succeeded" event per database reached EventBridge
    events = deployment.received_events(2)
    assert {(e["detail-type"], e["source"], e["detail"]["database"]) for e in events} == {
        ("Backup Succeeded", "cloudbackup", first),
        ("Backup Succeeded", "cloudbackup", second),
    }
    detail = next(e["detail"] for e in events if e["detail"]["database"] == first)
    assert detail["source"] == deployment.source
    assert detail["backup_id"] == listed[first].id
    assert detail["size"] == listed[first].manifest.data.size
    assert detail["error"] is None


def test_time_budget_running_out_mid_dump_keeps_nothing_of_that_database(
    deployment: Deployment, make_database: Callable[[str], str], db_settings: DbSettings
) -> None:
    # Given a small database and a bigger one whose dump takes longer than the time left
    small = small_database(make_database, db_settings)
    big = make_database("hbig")
    fill_table(db_settings, big, "events", 800_000, payload=200, incompressible=True)  # ~60 MB to upload
    # When the dumps start with 1.8 s left of the invocation, 1 s of which is the safety margin
    with pytest.raises(BackupRunFailed) as raised:
        deployment.backup(
            {"source": deployment.source, "databases": [small, big]},
            budget_ms=1800,
            CLOUDBACKUP_SAFETY_MARGIN_SECONDS="1",
        )
    # Then the small database is backed up and the big one's dump was stopped part way
    outcomes = {o.database: o for o in raised.value.result.databases}
    assert outcomes[small].status == "succeeded"
    assert outcomes[big].status == "stopped"
    assert outcomes[big].duration_seconds > 0.3  # it was dumping, not refused up front
    assert f"done: {small} (" in str(raised.value)
    assert f"{big} (stopped: time budget" in str(raised.value)
    # And nothing of the big database is left: no manifest, no data object, no open upload
    assert deployment.object_keys(f"{deployment.source}/{big}/") == []
    assert deployment.open_uploads() == []
    assert [e.manifest.database for e in list_backups([deployment.store()], source=deployment.source)] == [
        small
    ]
    # And the failure is published for the big database
    events = deployment.received_events(2)
    failed = [e for e in events if e["detail-type"] == "Backup Failed"]
    assert [e["detail"]["database"] for e in failed] == [big]
    assert failed[0]["detail"]["status"] == "stopped"
    assert failed[0]["detail"]["backup_id"] is None


def test_a_wrong_password_in_the_secret_fails_every_database_and_stores_nothing(
    deployment: Deployment, make_database: Callable[[str], str], db_settings: DbSettings
) -> None:
    # Given a secret whose password is wrong (rotated on the server, not in the secret)
    name = small_database(make_database, db_settings)
    secret = {"host": db_settings.host, "port": db_settings.port, "username": db_settings.user}
    deployment.put_secret({**secret, "password": "rotated-Pa55word"})
    # When the schedule fires
    with pytest.raises(BackupRunFailed) as raised:
        deployment.backup({"source": deployment.source, "databases": [name]})
    # Then it fails with one line naming the problem, never the password, and nothing is stored
    where = f"{db_settings.user}@{db_settings.host}:{db_settings.port}"
    assert f"{name} (failed: access denied for {where}: wrong user or password)" in str(raised.value)
    assert "rotated-Pa55word" not in str(raised.value)
    assert deployment.object_keys("") == []
    [event] = deployment.received_events(1)
    assert event["detail-type"] == "Backup Failed"
    assert event["detail"]["database"] == name
    assert "rotated-Pa55word" not in json.dumps(event)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, "cannot read database secret arn:aws:secretsmanager"),
        ("not json at all", "is not JSON (RDS secret format expected)"),
        ({"username": "root", "password": ""}, "is not in the RDS secret format: host: Field required"),
    ],
)
def test_a_missing_or_malformed_secret_is_one_clear_line(
    deployment: Deployment,
    secret: Any,
    message: str,
    make_database: Callable[[str], str],
    db_settings: DbSettings,
) -> None:
    name = small_database(make_database, db_settings)
    if secret is None:
        deployment.delete_secret()
    else:
        deployment.put_secret(secret)
    with pytest.raises(BackupRunFailed) as raised:
        deployment.backup({"source": deployment.source, "databases": [name]})
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert deployment.object_keys("") == []


def test_a_missing_database_fails_alone_and_the_others_are_backed_up(
    deployment: Deployment, make_database: Callable[[str], str], db_settings: DbSettings
) -> None:
    present = small_database(make_database, db_settings)
    missing = "cbt_gone_4f1c2a"
    with pytest.raises(BackupRunFailed) as raised:
        deployment.backup({"source": deployment.source, "databases": [missing, present]})
    statuses = {o.database: (o.status, o.error) for o in raised.value.result.databases}
    assert statuses[present][0] == "succeeded"
    assert statuses[missing] == (
        "failed",
        f"unknown database {missing!r} on {db_settings.host}:{db_settings.port}",
    )
    assert [e.manifest.database for e in list_backups([deployment.store()], source=deployment.source)] == [
        present
    ]
    events = deployment.received_events(2)
    assert {(e["detail-type"], e["detail"]["database"]) for e in events} == {
        ("Backup Succeeded", present),
        ("Backup Failed", missing),
    }


def test_a_duplicate_delivery_adds_a_second_complete_backup_and_leaves_the_first_untouched(
    deployment: Deployment, make_database: Callable[[str], str], db_settings: DbSettings
) -> None:
    # Given a scheduled event delivered once and backed up
    name = small_database(make_database, db_settings, rows=25)
    event = {"source": deployment.source, "databases": [name]}
    first = deployment.backup(event)["databases"][0]
    objects_after_first = deployment.object_versions()
    # When EventBridge delivers the same event again (at-least-once delivery)
    second = deployment.backup(event)["databases"][0]
    # Then there are two complete backups with distinct ids, both intact
    assert first["backup_id"] != second["backup_id"]
    entries = list_backups([deployment.store()], database=name, source=deployment.source)
    assert sorted(e.id for e in entries) == sorted([first["backup_id"], second["backup_id"]])
    for entry in entries:
        deployment.assert_intact(entry)
    # And every object of the first backup is exactly as it was (same version, same ETag)
    after = deployment.object_versions()
    assert {k: after[k] for k in objects_after_first} == objects_after_first
    assert len(after) == len(objects_after_first) + 2  # one data object + one manifest


def test_a_retry_after_a_stopped_run_makes_one_complete_backup(
    deployment: Deployment, make_database: Callable[[str], str], db_settings: DbSettings
) -> None:
    big = make_database("hretry")
    fill_table(db_settings, big, "events", 200_000, payload=200, incompressible=True)  # ~15 MB to upload
    event = {"source": deployment.source, "databases": [big]}
    with pytest.raises(BackupRunFailed):
        deployment.backup(event, budget_ms=1050, CLOUDBACKUP_SAFETY_MARGIN_SECONDS="1")
    assert deployment.object_keys("") == []
    retried = deployment.backup(event)["databases"][0]
    [entry] = list_backups([deployment.store()], database=big, source=deployment.source)
    assert entry.id == retried["backup_id"]
    assert entry.manifest.tables[0].rows == 200_000
    deployment.assert_intact(entry)
    with admin_connect(db_settings, big) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM events")
        assert cur.fetchone() == (200_000,)


def test_an_event_bus_that_refuses_the_result_does_not_undo_a_complete_backup(
    deployment: Deployment, make_database: Callable[[str], str], db_settings: DbSettings
) -> None:
    # Given a function configured with an event bus that does not exist (a deployment mistake)
    name = small_database(make_database, db_settings)
    with captured_logs() as logs:
        result = deployment.backup(
            {"source": deployment.source, "databases": [name]}, CLOUDBACKUP_EVENT_BUS="cbt-no-such-bus"
        )
    # Then the backup still succeeds and is listed, and the lost notification is logged as an error
    assert result["databases"][0]["status"] == "succeeded"
    [entry] = list_backups([deployment.store()], database=name, source=deployment.source)
    assert entry.id == result["databases"][0]["backup_id"]
    errors = [r["message"] for r in logs if r["level"] == "ERROR"]
    assert any("'Backup Succeeded'" in m and "cbt-no-such-bus" in m for m in errors), errors


def test_a_password_rotated_while_the_secret_is_cached_is_picked_up(
    deployment: Deployment, make_database: Callable[[str], str], db_settings: DbSettings
) -> None:
    # Given a backup user whose secret the function has read (and cached) on an earlier run
    name = small_database(make_database, db_settings)
    user = f"cbt_rot_{name[-8:]}"
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'first-Pa55'")
        cur.execute(f"GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON `{name}`.* TO '{user}'@'%'")
    try:
        secret = {"host": db_settings.host, "port": db_settings.port, "username": user}
        deployment.put_secret({**secret, "password": "first-Pa55"})
        event = {"source": deployment.source, "databases": [name]}
        assert deployment.backup(event)["databases"][0]["status"] == "succeeded"
        # When the password is rotated (server and secret) within the cache's lifetime
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute(f"ALTER USER '{user}'@'%' IDENTIFIED BY 'second-Pa55'")
        deployment.put_secret({**secret, "password": "second-Pa55"})
        # Then the next run notices the cached secret fails, reads it again and backs up
        with captured_logs() as logs:
            assert deployment.backup(event)["databases"][0]["status"] == "succeeded"
        assert len(list_backups([deployment.store()], database=name, source=deployment.source)) == 2
        # And neither password ever reached the logs
        assert any("cached database secret was out of date" in r["message"] for r in logs)
        assert "Pa55" not in json.dumps(logs)
    finally:
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
