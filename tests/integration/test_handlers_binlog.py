"""The binlog and restore functions invoked in-process as Lambda would: archive on a schedule into the
bucket (local AWS endpoint), then a console `to_time` restore, against a real server with its binlog on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cloudbackup.binlog.segments import read_indexes
from cloudbackup.dburl import DbSettings
from handlers import constants as c
from handlers.models import InvalidEvent
from tests.fixtures.compare import assert_databases_equal
from tests.fixtures.lambda_runtime import Deployment, FakeLambdaContext
from tests.fixtures.mariadb import admin_connect
from tests.integration.pitr_helpers import (
    create_shop,
    disaster,
    first_changes,
    next_second,
    reference_copy,
    run,
    second_changes,
)

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore:No application metrics")]


@pytest.fixture
def db_settings(log_server: DbSettings) -> DbSettings:
    """The deployment's database secret points at a server with its binary log on."""
    return log_server


def archive(deployment: Deployment) -> dict[str, Any]:
    module = deployment.load("binlog", deployment.environment())
    result: dict[str, Any] = module.handler({"source": deployment.source}, FakeLambdaContext())
    return result


def test_scheduled_archives_then_a_to_time_restore_from_the_console(
    deployment: Deployment, log_server: DbSettings, make_log_database: Callable[[str], str]
) -> None:
    # Given a backup by the backup function and the binlog function run on its schedule
    db, other, ref = make_log_database("hpitr"), make_log_database("hpitr_o"), make_log_database("hpitr_r")
    create_shop(log_server, db, other)
    deployment.backup({"source": deployment.source, "databases": [db]})
    first_changes(log_server, db, other)
    first = archive(deployment)
    second_changes(log_server, db, other)
    to_time = next_second()
    reference_copy(log_server, db, ref)
    disaster(log_server, db, other)
    second = archive(deployment)
    # When the restore function gets a to_time event, first as a dry run
    target = make_log_database("hpitr_t")
    event = {
        "source": deployment.source,
        "database": db,
        "backup": "latest",
        "target_database": target,
        "to_time": to_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    dry = deployment.restore({**event, "dry_run": True})
    # Then the dry run names the backup and where the replay starts, and loads nothing
    assert dry["dry_run"] is True
    assert dry["message"].startswith(f"would restore {db!r} as it was at ")
    assert dry["binlog_from"]
    assert dry["binlog_transactions"] is None
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s", (target,))
        assert cur.fetchone()[0] == 0
    summary = deployment.restore(event)
    # Then the archive runs read to the server's end, under _binlog/ in the bucket,
    assert first["reached_end"] is True
    assert second["events"] > 0
    assert read_indexes(deployment.store(), deployment.source)
    # and the target is the database as it was at that time
    assert summary["to_time"].startswith(to_time.strftime("%Y-%m-%dT%H:%M:%S"))
    assert summary["binlog_transactions"] > 0
    assert summary["dry_run"] is False
    assert summary["binlog_from"] == dry["binlog_from"]
    assert_databases_equal(log_server, ref, target)


def test_a_to_time_event_with_a_named_backup_is_refused(deployment: Deployment) -> None:
    event = {
        "source": deployment.source,
        "database": "shop",
        "backup": "abcdef123456",
        "target_database": "cbt_x",
        "to_time": "2026-12-03T14:02:00Z",
    }
    with pytest.raises(InvalidEvent, match="to_time picks the newest backup"):
        deployment.restore(event)


def test_a_purged_binlog_is_published_as_a_binlog_gap_event(
    deployment: Deployment, log_server: DbSettings, make_log_database: Callable[[str], str]
) -> None:
    # Given an archive, then a binlog file purged before the next scheduled run
    db, other = make_log_database("hgap"), make_log_database("hgap_o")
    archive(deployment)
    run(log_server, "FLUSH BINARY LOGS")
    create_shop(log_server, db, other)
    run(log_server, "FLUSH BINARY LOGS")
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        newest = [str(row[0]) for row in cur.fetchall()][-1]
        cur.execute(f"PURGE BINARY LOGS TO '{newest}'")
    # When the binlog function runs
    result = archive(deployment)
    # Then it reports the gap and publishes it as a Binlog Gap event
    assert result["gap"] is not None
    [event] = deployment.received_events(1)
    assert event["detail-type"] == c.EVENT_BINLOG_GAP
    assert event["detail"] == {"source": deployment.source, "gap": result["gap"]}
