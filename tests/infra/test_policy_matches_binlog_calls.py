"""The binlog function's role grants exactly what a scheduled binlog run calls: recorded while it archives a
real server's binary log into the local endpoint, resumes, reads back an index whose answer was lost,
publishes a gap, and streams and aborts a segment as large as a part."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters import base as parameters_base

from cloudbackup.dburl import DbSettings
from handlers.settings import load_settings
from handlers.store import open_store
from infra.functions import BINLOG_DIR, BINLOG_HANDLER
from tests.fixtures.compare import q
from tests.fixtures.lambda_runtime import Deployment, FakeLambdaContext
from tests.fixtures.mariadb import admin_connect
from tests.infra.calls import recorded_calls
from tests.infra.conftest import Synth, function_of, role_statements
from tests.infra.test_policy_matches_calls import assert_matches, first_answer_lost, large_and_aborted_uploads
from tests.integration.pitr_helpers import create_shop, run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.infra,
    pytest.mark.filterwarnings("ignore:No application metrics"),
]

PITR_SOURCE = "billing-db"  # the `full` config's source with pitr


@pytest.fixture
def db_settings(log_server: DbSettings) -> DbSettings:
    """The deployment's database secret points at a server with its binary log on."""
    return log_server


def lose_a_binlog_file(settings: DbSettings, db: str) -> None:
    """Events written to a binlog file that is purged before the archive read it."""
    run(settings, "FLUSH BINARY LOGS", f"CREATE TABLE {q(db)}.lost (id INT PRIMARY KEY)", "FLUSH BINARY LOGS")
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        newest = [str(row[0]) for row in cur.fetchall()][-1]
        cur.execute(f"PURGE BINARY LOGS TO '{newest}'")


def test_the_binlog_role_allows_exactly_the_binlog_functions_calls(
    full: Synth,
    deployment: Deployment,
    log_server: DbSettings,
    make_log_database: Callable[[str], str],
) -> None:
    # Given the binlog function of the pitr source, on a server whose binary log is on
    pitr = dataclasses.replace(deployment, source=PITR_SOURCE)
    env = pitr.environment()

    def archive() -> dict[str, Any]:
        parameters_base.DEFAULT_PROVIDERS.clear()
        result: dict[str, Any] = pitr.load("binlog", env).handler(
            {"source": PITR_SOURCE}, FakeLambdaContext()
        )
        return result

    with recorded_calls() as calls:
        # When its schedule runs it, the server writes, and the next run resumes (the answer to its first
        # index write lost on the way back: it reads the index back)
        archive()
        db = make_log_database("pbin")
        create_shop(log_server, db, make_log_database("pbin_o"))
        with first_answer_lost("PutObject"):
            archive()
        # And a run finds binlog files purged before it archived them (a Binlog Gap event)
        lose_a_binlog_file(log_server, db)
        assert archive()["gap"]
        # And its store streams a segment as large as a part, and aborts a failed one
        settings = load_settings({**env, "AWS_REGION": "us-east-1"})
        large_and_aborted_uploads(open_store(settings), f"{PITR_SOURCE}/{BINLOG_DIR}")
    # Then its role allows each call, under `_binlog/` of its source, and nothing more
    assert {c.operation for c in calls} >= {"ListObjectsV2", "GetObject", "PutObject", "PutEvents"}
    _, function = function_of(full, PITR_SOURCE, BINLOG_HANDLER)
    assert_matches(calls, role_statements(full, function["Properties"]["Role"]["Fn::GetAtt"][0]))
