"""The binlog follower of a fargate source for real: the task's container command (bootstrap, fetched
asset, `handlers.task`) with the follower service's event, archiving a real server's binary log into the
bucket of the local endpoint while the server writes, stopped (SIGTERM) or killed (SIGKILL) as ECS does,
and replaced by a follower that resumes after the last committed segment.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from cloudbackup.binlog.segments import follows, read_indexes
from cloudbackup.dburl import DbSettings
from handlers import constants as c
from tests.fixtures.fargate_task import FargateTask
from tests.fixtures.lambda_runtime import Deployment, emitted_metrics
from tests.fixtures.mariadb import admin_connect
from tests.fixtures.processes import stop as stop_process
from tests.integration.pitr_helpers import (
    archived_positions,
    create_shop,
    first_changes,
    second_changes,
    server_positions,
)

pytestmark = [pytest.mark.integration]

ARCHIVE_TIMEOUT_SECONDS = 60  # the follower commits at least every 10 s while events arrive


@pytest.fixture
def db_settings(log_server: DbSettings) -> DbSettings:
    """The deployment's database secret points at a server with its binary log on."""
    return log_server


def follow_event(deployment: Deployment) -> dict[str, Any]:
    """The follower service's event (infra.tasks.binlog_follow_event)."""
    from infra.tasks import binlog_follow_event  # loads the CDK: not at collection

    event: dict[str, Any] = binlog_follow_event(deployment.source)
    return event


def newest_binlog(settings: DbSettings) -> str:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        return str(cur.fetchall()[-1][0])


def wait_until_archived_to_the_end(
    deployment: Deployment, settings: DbSettings, follower: subprocess.Popen[str]
) -> None:
    """Until every event of the server's newest binlog file is in the archive (the follower's commits)."""
    newest = newest_binlog(settings)
    wanted = server_positions(settings, newest)
    deadline = time.monotonic() + ARCHIVE_TIMEOUT_SECONDS
    while archived_positions(deployment.store(), deployment.source).get(newest) != wanted:
        assert follower.poll() is None, follower.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"{newest} not archived to its end in {ARCHIVE_TIMEOUT_SECONDS} s"
        time.sleep(0.5)


def stop(follower: subprocess.Popen[str], signum: int) -> tuple[str, str]:
    _, out, err = stop_process(follower, signum, timeout=60)
    return out, err


def test_the_follower_archives_as_the_server_writes_and_stops_cleanly(
    fargate_task: FargateTask,
    deployment: Deployment,
    log_server: DbSettings,
    make_log_database: Callable[[str], str],
) -> None:
    # Given the follower task running with its service's event
    follower = fargate_task.start(follow_event(deployment))
    try:
        # When the server writes, and ECS stops the task once those events are archived
        db, other = make_log_database("tfollow"), make_log_database("tfollow_o")
        create_shop(log_server, db, other)
        first_changes(log_server, db, other)
        wait_until_archived_to_the_end(deployment, log_server, follower)
    finally:
        out, err = stop(follower, signal.SIGTERM)
    # Then it exits 0 with its summary: the events it archived, in segments under the source's _binlog/
    assert follower.returncode == 0, err[-3000:]
    [result] = [json.loads(line) for line in out.splitlines() if line.startswith('{"source"')]
    assert result["source"] == deployment.source
    assert result["events"] > 0
    assert result["segments"] >= 1
    segments = read_indexes(deployment.store(), deployment.source)
    assert sum(s.events for s in segments) == result["events"]
    assert deployment.object_keys(f"{deployment.source}/_binlog/")
    # And it reported the archive's lag and events for the lag alarm (CloudWatch EMF on stdout)
    metrics = [m for m in emitted_metrics(out) if c.METRIC_BINLOG_LAG in m]
    assert metrics
    assert all(m[c.DIMENSION_SOURCE] == deployment.source for m in metrics)
    assert sum(sum(m[c.METRIC_BINLOG_EVENTS]) for m in metrics) == result["events"]  # EMF: lists of values


def test_a_follower_that_dies_is_replaced_by_one_that_resumes_after_the_last_committed_segment(
    fargate_task: FargateTask,
    deployment: Deployment,
    log_server: DbSettings,
    make_log_database: Callable[[str], str],
) -> None:
    # Given a follower that archived the first changes, then died (SIGKILL) with newer events in hand
    db, other = make_log_database("tdied"), make_log_database("tdied_o")
    first = fargate_task.start(follow_event(deployment))
    try:
        create_shop(log_server, db, other)
        wait_until_archived_to_the_end(deployment, log_server, first)
        first_changes(log_server, db, other)
        time.sleep(1)
    finally:
        stop(first, signal.SIGKILL)
    committed = read_indexes(deployment.store(), deployment.source)
    newest = newest_binlog(log_server)
    assert archived_positions(deployment.store(), deployment.source)[newest] != server_positions(
        log_server, newest
    )
    # When the service starts another follower, and the server writes more
    second = fargate_task.start(follow_event(deployment))
    try:
        second_changes(log_server, db, other)
        wait_until_archived_to_the_end(deployment, log_server, second)
    finally:
        out, err = stop(second, signal.SIGTERM)
    assert second.returncode == 0, err[-3000:]
    # Then it went on from the dead follower's last committed segment: every event once, none skipped
    segments = read_indexes(deployment.store(), deployment.source)
    assert segments[: len(committed)] == committed
    assert [s.seq for s in segments] == list(range(1, len(segments) + 1))
    assert all(follows(before, after) for before, after in itertools.pairwise(segments))
    [result] = [json.loads(line) for line in out.splitlines() if line.startswith('{"source"')]
    assert result["events"] == sum(s.events for s in segments[len(committed) :])
    assert result["events"] > 0
