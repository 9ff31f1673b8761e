"""The restore function invoked in-process as Lambda would, against the real MariaDB and a local AWS
endpoint, restoring backups the backup function made."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pymysql
import pytest

from cloudbackup.catalog import list_backups
from cloudbackup.dburl import DbSettings
from handlers.models import InvalidEvent
from handlers.restore_run import RestoreFailed
from tests.fixtures.lambda_runtime import Deployment, FakeLambdaContext, fill_table, table_fingerprint
from tests.fixtures.mariadb import admin_connect

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore:No application metrics")]

CHECKSUM = "SELECT COUNT(*), SUM(CRC32(CONCAT_WS('|', id, payload, created))) FROM `{table}`"


def table_state(db: DbSettings, database: str, table: str = "orders") -> tuple[Any, ...]:
    with admin_connect(db, database) as conn, conn.cursor() as cur:
        cur.execute(CHECKSUM.format(table=table))
        row = cur.fetchone()
        assert row is not None
        return tuple(row)


def database_exists(db: DbSettings, name: str) -> bool:
    with admin_connect(db) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,))
        row = cur.fetchone()
        return row is not None and row[0] == 1


@pytest.fixture
def backed_up(
    deployment: Deployment, make_database: Callable[[str], str], db_settings: DbSettings
) -> tuple[str, str]:
    """A database with two tables, backed up by the backup function: (database, backup id)."""
    name = make_database("hrest")
    fill_table(db_settings, name, "orders", 500)
    fill_table(db_settings, name, "customers", 120)
    result = deployment.backup({"source": deployment.source, "databases": [name]})
    return name, result["databases"][0]["backup_id"]


def test_dry_run_verifies_the_backup_and_reports_without_touching_anything(
    deployment: Deployment, backed_up: tuple[str, str], db_settings: DbSettings
) -> None:
    name, backup_id = backed_up
    target = f"{name}_dry"
    event = {"source": deployment.source, "database": name, "backup": "latest", "target_database": target}
    summary = deployment.restore({**event, "dry_run": True})
    assert summary["dry_run"] is True
    assert summary["verified"] is True
    assert summary["backup_id"] == backup_id
    assert sorted(summary["tables"]) == ["customers", "orders"]
    assert summary["rows"] == 620
    assert summary["message"].startswith(
        f"would restore 2 tables (620 rows) of {name!r} from backup {backup_id}"
    )
    assert not database_exists(db_settings, target)


def test_dry_run_of_a_corrupted_backup_fails_before_anything_changes(
    deployment: Deployment, backed_up: tuple[str, str], db_settings: DbSettings
) -> None:
    # Given a backup whose data object was damaged after it was written (same size, one byte flipped)
    name, _ = backed_up
    [entry] = list_backups([deployment.store()], database=name, source=deployment.source)
    key = f"{deployment.prefix}/{entry.manifest.data.key}"
    s3 = deployment.aws("s3")
    data = bytearray(s3.get_object(Bucket=deployment.bucket, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0xFF
    s3.put_object(Bucket=deployment.bucket, Key=key, Body=bytes(data))
    # When a dry run and a real restore are asked for
    target = f"{name}_bad"
    event = {"source": deployment.source, "database": name, "backup": entry.id, "target_database": target}
    for dry_run in (True, False):
        with pytest.raises(RestoreFailed) as raised:
            deployment.restore({**event, "dry_run": dry_run})
        # Then both refuse with one line, and no database was created
        assert "\n" not in str(raised.value)
        assert "SHA-256" in str(raised.value) or "sha256" in str(raised.value).lower()
        assert not database_exists(db_settings, target)


def test_restore_into_a_new_database_gives_back_every_row(
    deployment: Deployment, backed_up: tuple[str, str], db_settings: DbSettings
) -> None:
    name, backup_id = backed_up
    target = f"{name}_copy"
    summary = deployment.restore(
        {"source": deployment.source, "database": name, "backup": backup_id, "target_database": target}
    )
    assert (summary["dry_run"], summary["in_place"], summary["rows"]) == (False, False, 620)
    assert summary["previous_tables_kept_in"] is None
    for table in ("orders", "customers"):
        assert table_state(db_settings, target, table) == table_state(db_settings, name, table)
    # And restoring over the now non-empty target is refused in the event's terms, leaving it as it is
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM orders WHERE id <= 100")
    changed = table_state(db_settings, target)
    with pytest.raises(RestoreFailed) as raised:
        deployment.restore(
            {"source": deployment.source, "database": name, "backup": backup_id, "target_database": target}
        )
    assert f"target database {target} exists and is not empty" in str(raised.value)
    assert '"in_place": true' in str(raised.value)
    assert "--" not in str(raised.value)
    assert table_state(db_settings, target) == changed


def test_in_place_restore_swaps_the_tables_back_and_keeps_the_previous_ones(
    deployment: Deployment, backed_up: tuple[str, str], db_settings: DbSettings
) -> None:
    # Given a backed-up database that has since lost and changed rows
    name, backup_id = backed_up
    before = table_state(db_settings, name)
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM orders WHERE id > 400")
        cur.execute("UPDATE orders SET payload = 'damaged' WHERE id <= 10")
    damaged = table_state(db_settings, name)
    assert damaged != before
    # When an operator asks for an in-place restore of the latest backup
    summary = deployment.restore(
        {"source": deployment.source, "database": name, "backup": "latest", "in_place": True}
    )
    # Then the database is as it was at the backup, and the damaged tables are kept aside
    assert table_state(db_settings, name) == before
    kept = summary["previous_tables_kept_in"]
    assert kept
    assert kept.startswith(f"{name}_before_")
    assert table_state(db_settings, kept) == damaged
    assert (summary["backup_id"], summary["in_place"], summary["target_database"]) == (backup_id, True, name)
    assert kept in summary["message"]


def test_in_place_is_refused_unless_explicit_and_the_database_is_untouched(
    deployment: Deployment, backed_up: tuple[str, str], db_settings: DbSettings
) -> None:
    name, _ = backed_up
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM orders WHERE id > 250")
    changed = table_state(db_settings, name)
    for event in (
        {"source": deployment.source, "database": name, "backup": "latest", "target_database": name},
        {"source": deployment.source, "database": name, "backup": "latest"},
        {"source": deployment.source, "database": name, "backup": "latest", "in_place": "yes"},
    ):
        with pytest.raises(InvalidEvent):
            deployment.restore(event)
    assert table_state(db_settings, name) == changed


def test_a_subset_of_tables_restores_only_those(
    deployment: Deployment, backed_up: tuple[str, str], db_settings: DbSettings
) -> None:
    name, _ = backed_up
    target = f"{name}_part"
    summary = deployment.restore(
        {
            "source": deployment.source,
            "database": name,
            "backup": "latest",
            "target_database": target,
            "tables": ["customers"],
        }
    )
    assert (summary["tables"], summary["rows"]) == (["customers"], 120)
    assert table_state(db_settings, target, "customers") == table_state(db_settings, name, "customers")
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        assert [row[0] for row in cur.fetchall()] == ["customers"]


def staging_databases(db: DbSettings, target: str) -> list[str]:
    with admin_connect(db) as conn, conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        return [str(n) for (n,) in cur.fetchall() if str(n).startswith(f"{target}__cbrestore_")]


@contextmanager
def time_runs_out_mid_load(db: DbSettings, target: str, context: FakeLambdaContext) -> Iterator[list[int]]:
    """Watches the restore's staging database; once rows are arriving in it, the invocation's time left
    drops to nothing, as if the load had taken the whole budget. Yields the rows seen in staging then."""
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            for staging in staging_databases(db, target):
                try:
                    with admin_connect(db, staging) as conn, conn.cursor() as cur:
                        cur.execute("SELECT COUNT(*) FROM orders")
                        rows = int(cur.fetchone()[0])
                except pymysql.err.MySQLError:  # the table is not created yet, or staging already dropped
                    rows = 0
                if rows:
                    seen.append(rows)
                    context.budget_ms = 0
                    return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        done.set()
        watcher.join()


@pytest.mark.parametrize("in_place", [False, True])
def test_a_restore_whose_time_runs_out_mid_load_stops_drops_its_staging_and_leaves_the_target(
    deployment: Deployment, make_database: Callable[[str], str], db_settings: DbSettings, in_place: bool
) -> None:
    # Given a backup of a table big enough that its load takes many statements (and seconds)
    name = make_database("hbudget")
    fill_table(db_settings, name, "orders", 400_000, payload=100)
    deployment.backup({"source": deployment.source, "databases": [name]})
    target = name if in_place else f"{name}_copy"
    before = table_fingerprint(db_settings, name)
    event = {"source": deployment.source, "database": name, "backup": "latest"}
    event |= {"in_place": True} if in_place else {"target_database": target}
    # When the invocation's time left falls under the safety margin while the rows are loading
    context = FakeLambdaContext()
    with time_runs_out_mid_load(db_settings, target, context) as seen, pytest.raises(RestoreFailed) as raised:
        deployment.restore(event, context, CLOUDBACKUP_SAFETY_MARGIN_SECONDS="5")
    assert seen, "the restore ended before its rows began to load"
    assert seen[0] < before[0]
    # Then the failure is one line: the time budget stopped it, the target is as it was, where to run it
    message = str(raised.value)
    assert message == (
        f"time budget: less than 5 s of the invocation left; restore into {target} stopped before "
        f"publishing; {target} was left as it was; run it as a Fargate restore task or with the "
        "cloudbackup CLI, which have no time limit"
    )
    # And its staging database is gone, and the target is as it was: not created, or unchanged
    assert staging_databases(db_settings, target) == []
    if in_place:
        assert table_fingerprint(db_settings, name) == before
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                (f"{name}_before%",),
            )
            assert cur.fetchone()[0] == 0
    else:
        assert not database_exists(db_settings, target)
