"""The binlog follower's reports while it runs, over a stand-in engine: the lag alarm needs a value in
every period from a run that never returns, and a gap must reach the alarm topic once, not at every report.

The real engine, server and bucket are exercised in tests/integration/test_task_binlog_follow.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
from handlers.models import BinlogFollowEvent
from handlers.settings import load_settings
from tests.fixtures.lambda_runtime import SOURCE, emitted_metrics, settings_env

GAP = "binlog b.000001 from position 4 is no longer on the server"


@dataclass
class StandInFollower:
    """Archives two segments while busy, then idles (a heartbeat), and returns when asked to stop."""

    calls: list[str] = field(default_factory=list)

    def archive_binlog(self, db: DbSettings, store: Any, source: str, **options: Any) -> ArchiveResult:
        self.calls.append(f"archive {source} follow={options['follow']}")
        progress: Callable[[ArchiveResult, bool], None] = options["progress"]
        ten_minutes_ago = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
        result = ArchiveResult(source=source, gap=GAP)
        for events in (5, 12):  # two commits, the newest event ten minutes old: busy catching up
            result.segments, result.events, result.newest_event_time = (
                result.segments + 1,
                events,
                ten_minutes_ago,
            )
            progress(result, False)
        progress(result, True)  # a heartbeat: the server has nothing more
        assert options["should_stop"]()
        return result

    def engine(self, store_dir: Path) -> Engine:
        return Engine(
            read_secret=lambda arn, fresh: DbSettings(host="db.internal", port=3306, user="repl"),
            open_store=lambda: LocalStorage(store_dir),
            resolve_databases=lambda *a: pytest.fail("a follower never lists databases"),
            backup_database=lambda *a, **k: pytest.fail("a follower never backs up"),
            restore_backup=lambda *a, **k: pytest.fail("a follower never restores"),
            find_backup=lambda *a, **k: pytest.fail("a follower never looks up backups"),
            archive_binlog=self.archive_binlog,
        )


@dataclass
class RecordingPublisher:
    gaps: list[tuple[str, str]] = field(default_factory=list)

    def binlog_gap(self, source: str, gap: str) -> bool:
        self.gaps.append((source, gap))
        return True


@contextlib.contextmanager
def no_segment(name: str, **annotations: str) -> Iterator[None]:
    yield


def test_the_follower_reports_lag_and_events_while_it_runs_and_its_gap_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a follower whose archive commits twice while behind, then catches up, then is stopped
    engine, publisher = StandInFollower(), RecordingPublisher()
    metrics = Metrics(namespace=c.DEFAULT_NAMESPACE, service=c.DEFAULT_SERVICE)
    run = BinlogRun(
        settings=load_settings(settings_env()),
        engine=engine.engine(tmp_path),
        publisher=publisher,  # type: ignore[arg-type]
        metrics=metrics,
        segment=no_segment,
        remaining_ms=lambda: 10**12,
    )
    # When it follows with a report at every word from the archive
    result = run.follow(BinlogFollowEvent(source=SOURCE, binlog="follow"), lambda: True, report_seconds=0)
    metrics.flush_metrics()  # what the task does at exit
    # Then each report went out as it came, with the source dimension the alarms name
    docs = [d for d in emitted_metrics(capsys.readouterr().out) if c.METRIC_BINLOG_LAG in d]
    assert [d[c.DIMENSION_SOURCE] for d in docs] == [SOURCE] * 4
    assert [d[c.METRIC_BINLOG_EVENTS] for d in docs] == [[5.0], [7.0], [0.0], [0.0]]
    lags = [d[c.METRIC_BINLOG_LAG][0] for d in docs]
    assert all(590 < lag < 700 for lag in lags[:2])  # behind: the newest archived event's age
    assert lags[2:] == [0.0, 0.0]  # caught up, and still so when stopped
    # And the gap was published and counted once, with the first report
    assert publisher.gaps == [(SOURCE, GAP)]
    assert [c.METRIC_BINLOG_GAPS in d for d in docs] == [True, False, False, False]
    assert engine.calls == [f"archive {SOURCE} follow=True"]
    assert (result.events, result.segments, result.gap) == (12, 2, GAP)
