"""A scheduled binlog run overtaken by another run of its source (a function without reserved concurrency):
it returns, as a run that had nothing to do does, and leaves the lag to the run that won.

The engine's side (the race on a real server and store) is in tests/integration/test_pitr_overlapping_runs.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from cloudbackup.binlog.archive import ArchiveResult
from cloudbackup.dburl import DbSettings
from cloudbackup.storage.local import LocalStorage
from handlers import constants as c
from handlers.binlog_run import BinlogRun
from handlers.engine import Engine
from handlers.models import BinlogEvent
from handlers.settings import load_settings
from tests.fixtures.lambda_runtime import SOURCE, emitted_metrics, settings_env

OVERTAKEN = f"another run archived binlog segment 8 of {SOURCE} first; this run stopped there"


def overtaken_archive(db: DbSettings, store: Any, source: str, **options: Any) -> ArchiveResult:
    """What the engine returns to a run that lost the race for its first segment, begun an hour behind."""
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    return ArchiveResult(source=source, newest_event_time=an_hour_ago, overtaken=OVERTAKEN)


def engine(store_dir: Path) -> Engine:
    return Engine(
        read_secret=lambda arn, fresh: DbSettings(host="db.internal", port=3306, user="repl"),
        open_store=lambda: LocalStorage(store_dir),
        resolve_databases=lambda *a: pytest.fail("a binlog run never lists databases"),
        backup_database=lambda *a, **k: pytest.fail("a binlog run never backs up"),
        restore_backup=lambda *a, **k: pytest.fail("a binlog run never restores"),
        find_backup=lambda *a, **k: pytest.fail("a binlog run never looks up backups"),
        archive_binlog=overtaken_archive,
    )


class NoGaps:
    def binlog_gap(self, source: str, gap: str) -> bool:
        pytest.fail("an overtaken run has no gap to publish")


@contextlib.contextmanager
def no_segment(name: str, **annotations: str) -> Iterator[None]:
    yield


def test_an_overtaken_run_returns_saying_so_and_reports_no_lag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a scheduled run whose archive is overtaken by another run of the source
    metrics = Metrics(namespace=c.DEFAULT_NAMESPACE, service=c.DEFAULT_SERVICE)
    run = BinlogRun(
        settings=load_settings(settings_env()),
        engine=engine(tmp_path),
        publisher=NoGaps(),  # type: ignore[arg-type]
        metrics=metrics,
        segment=no_segment,
        remaining_ms=lambda: 10**6,
    )
    # When it runs
    result = run.run(BinlogEvent(source=SOURCE))
    metrics.flush_metrics()
    # Then it returns (no failure for the error alarm) saying it was overtaken
    assert result.overtaken == OVERTAKEN
    assert result.events == 0
    # and counts its events, but sends no lag: where the archive ended when it began (an hour behind)
    # would tell the lag alarm the archive is behind while the run that won is keeping it current
    docs = emitted_metrics(capsys.readouterr().out)
    assert [d[c.METRIC_BINLOG_EVENTS] for d in docs if c.METRIC_BINLOG_EVENTS in d] == [[0.0]]
    assert not any(c.METRIC_BINLOG_LAG in d for d in docs)
