"""The backup function as Lambda runs it, over a stand-in engine: events, time budget, reports.

The real engine, database and bucket are exercised in tests/integration/test_handlers_*.py; here the
engine is replaced so the adapter's own decisions (what to refuse, when to stop, what to report) are
checked exactly and fast.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError, UsageError
from cloudbackup.format.keys import backup_stem, data_key, manifest_key
from cloudbackup.format.manifest import DataObject, Frame, Manifest, ServerInfo
from cloudbackup.storage.local import LocalStorage
from handlers import constants as c
from handlers.backup_run import BackupRunFailed
from handlers.engine import Engine
from handlers.models import DatabaseOutcome, InvalidEvent
from handlers.secrets import SecretError
from tests.fixtures.lambda_runtime import SOURCE, captured_logs, emitted_metrics, settings_env, substitute

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

DB = DbSettings(host="db.internal", port=3306, user="backup", password="s3cr3t-pw")


def manifest_for(database: str, backup_id: str, rows: int = 7) -> Manifest:
    now = datetime.now(UTC)
    return Manifest(
        id=backup_id,
        source=SOURCE,
        database=database,
        charset="utf8mb4",
        collation="utf8mb4_general_ci",
        server=ServerInfo(version="10.11.6-MariaDB", flavour="mariadb"),
        started_at=now,
        finished_at=now,
        compression="zstd",
        data=DataObject(
            key=data_key(backup_stem(SOURCE, database, now, backup_id), "zstd"), size=1234, sha256="0" * 64
        ),
        frames=[Frame(kind="table", name="t", offset=0, length=1234, rows=rows)],
    )


def store_backup(store: LocalStorage, manifest: Manifest) -> None:
    """`manifest` and a data object of the size it records: the catalog lists a backup only with both."""
    store.put_bytes(manifest.data.key, bytes(manifest.data.size))
    stem = backup_stem(manifest.source, manifest.database, manifest.started_at, manifest.id)
    store.put_bytes(manifest_key(stem), manifest.to_json())


@dataclass
class StandInEngine:
    """Records every call; a database in `slow` takes `chunks` x 20 ms and checks should_stop between."""

    databases: list[str]
    slow: set[str] = field(default_factory=set)
    chunks: int = 100
    secret_error: Exception | None = None
    calls: list[str] = field(default_factory=list)
    stopped_by_budget: list[str] = field(default_factory=list)

    def read_secret(self, arn: str, fresh: bool) -> DbSettings:
        self.calls.append(f"secret {arn}" + (" (fresh)" if fresh else ""))
        if self.secret_error:
            raise self.secret_error
        return DB

    def resolve(self, db: DbSettings, names: list[str] | None) -> list[str]:
        self.calls.append(f"resolve {names}")
        if names is None:
            return list(self.databases)
        for name in names:
            if name not in self.databases:
                raise UsageError(f"unknown database {name!r} on db.internal:3306")
        return names

    def backup(self, db: DbSettings, database: str, store: Any, **kwargs: Any) -> Manifest:
        self.calls.append(f"backup {database}")
        should_stop: Callable[[], bool] = kwargs["should_stop"]
        for _ in range(self.chunks if database in self.slow else 1):
            if should_stop():
                self.stopped_by_budget.append(database)
                raise OperationError(f"backup of {database} cancelled")
            if database in self.slow:
                time.sleep(0.02)
        return manifest_for(database, f"{database}0001")

    def engine(self, store_dir: Path) -> Engine:
        return Engine(
            read_secret=self.read_secret,
            open_store=lambda: LocalStorage(store_dir),
            resolve_databases=self.resolve,
            backup_database=self.backup,
            restore_backup=lambda *a, **k: pytest.fail("a backup never restores"),
            find_backup=lambda *a, **k: pytest.fail("a backup never looks up backups"),
        )


@dataclass
class RecordingPublisher:
    published: list[tuple[str, DatabaseOutcome]] = field(default_factory=list)

    def backup_outcome(self, source: str, outcome: DatabaseOutcome) -> bool:
        self.published.append((source, outcome))
        return True


@pytest.fixture
def backup_function(
    load_handler: Callable[..., ModuleType], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., tuple[ModuleType, StandInEngine, RecordingPublisher]]:
    def make(
        engine: StandInEngine, sources: dict[str, Any] | None = None, **env: str
    ) -> tuple[ModuleType, StandInEngine, RecordingPublisher]:
        module = load_handler("backup", settings_env(sources=sources, **env))
        publisher = RecordingPublisher()
        substitute(monkeypatch, module, engine=engine.engine(tmp_path), publisher=publisher)
        return module, engine, publisher

    return make


@pytest.mark.parametrize(
    ("event", "field_named"),
    [
        ({"databases": ["shop"]}, "source: Field required"),
        ({"source": SOURCE}, "databases: Field required"),
        ({"source": SOURCE, "databases": []}, "databases"),
        ({"source": SOURCE, "databases": "shop"}, "databases"),
        ({"source": SOURCE, "databases": [""]}, "databases.0"),
        # every database is "*", not ["*"]: a database named `*` would fail on every run
        ({"source": SOURCE, "databases": ["shop", "*"]}, 'databases: every database is "*" itself'),
        ({"source": SOURCE, "database": ["shop"]}, "database: Extra inputs are not permitted"),
        ({"source": "", "databases": "*"}, "source"),
        ({"source": "billing-db", "databases": "*"}, "source: 'billing-db' is not configured"),
        ("orders-db", "invalid event: expected a JSON object, got str"),
        ([{"source": SOURCE, "databases": "*"}], "invalid event: expected a JSON object, got list"),
        (None, "invalid event: expected a JSON object, got NoneType"),
    ],
)
def test_bad_backup_event_names_the_field_and_touches_nothing(
    backup_function: Callable[..., Any],
    lambda_context: Callable[..., Any],
    event: Any,
    field_named: str,
) -> None:
    # Given a deployed backup function
    module, engine, publisher = backup_function(StandInEngine(["shop"]))
    # When it receives a malformed event
    with pytest.raises(InvalidEvent) as raised:
        module.handler(event, lambda_context())
    # Then the one-line error names the field, and nothing was read, dumped or published
    assert field_named in str(raised.value)
    assert "\n" not in str(raised.value)
    assert engine.calls == []
    assert publisher.published == []


def test_a_database_outside_the_source_configuration_is_refused(
    backup_function: Callable[..., Any], lambda_context: Callable[..., Any]
) -> None:
    sources = {SOURCE: {"secret_arn": "arn:secret", "databases": ["shop"]}}
    module, engine, _ = backup_function(StandInEngine(["shop", "hr"]), sources=sources)
    with pytest.raises(InvalidEvent, match=r"databases: hr not configured for source 'orders-db'"):
        module.handler({"source": SOURCE, "databases": ["shop", "hr"]}, lambda_context())
    assert engine.calls == []


def test_all_databases_backed_up_returns_summary_events_and_metrics(
    backup_function: Callable[..., Any],
    lambda_context: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a source whose server holds two databases
    module, engine, publisher = backup_function(StandInEngine(["shop", "hr"]))
    # When the schedule asks for all of them
    result = module.handler({"source": SOURCE, "databases": "*"}, lambda_context())
    # Then both are backed up one after the other and reported
    assert [d["database"] for d in result["databases"]] == ["shop", "hr"]
    assert {d["status"] for d in result["databases"]} == {"succeeded"}
    assert result["databases"][0]["backup_id"] == "shop0001"
    assert result["databases"][0]["location"].endswith("-shop0001.sql.zst")
    assert engine.calls == [
        "secret arn:aws:secretsmanager:us-east-1:123456789012:secret:orders-db-AbCdEf",
        "resolve None",
        "backup shop",
        "backup hr",
    ]
    assert [(s, o.database, o.status) for s, o in publisher.published] == [
        (SOURCE, "shop", "succeeded"),
        (SOURCE, "hr", "succeeded"),
    ]
    # And the metrics the alarms watch carry the source dimension in the shared namespace
    docs = emitted_metrics(capsys.readouterr().out)
    backup_doc = next(d for d in docs if c.METRIC_BACKUP_SUCCEEDED in d)
    directive = backup_doc["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == c.DEFAULT_NAMESPACE
    assert sorted(directive["Dimensions"][0]) == ["service", c.DIMENSION_SOURCE]
    assert backup_doc[c.DIMENSION_SOURCE] == SOURCE
    assert backup_doc[c.METRIC_BACKUP_SUCCEEDED] == [1.0, 1.0]
    assert backup_doc[c.METRIC_BACKUP_ROWS] == [7.0, 7.0]
    assert backup_doc[c.METRIC_BACKUP_BYTES] == [1234.0, 1234.0]
    assert c.METRIC_BACKUP_FAILURES not in backup_doc


def test_time_budget_stops_mid_dump_reports_and_fails_the_invocation(
    backup_function: Callable[..., Any],
    lambda_context: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given three databases, the second one slow (2 s), and an invocation with 1.5 s left of which
    # 1 s is kept as the safety margin
    engine = StandInEngine(["shop", "big", "hr"], slow={"big"})
    module, engine, publisher = backup_function(engine, CLOUDBACKUP_SAFETY_MARGIN_SECONDS="1")
    # When the schedule fires
    started = time.monotonic()
    with pytest.raises(BackupRunFailed) as raised:
        module.handler({"source": SOURCE, "databases": ["shop", "big", "hr"]}, lambda_context(1500))
    # Then the slow dump was stopped by the budget, not run to its end, and hr was never started
    assert time.monotonic() - started < 1.5
    assert engine.stopped_by_budget == ["big"]
    assert "backup hr" not in engine.calls
    outcomes = {o.database: o for o in raised.value.result.databases}
    assert {name: o.status for name, o in outcomes.items()} == {
        "shop": "succeeded",
        "big": "stopped",
        "hr": "not_started",
    }
    # And the failure message says which were done and which were not
    message = str(raised.value)
    assert "done: shop (shop0001)" in message
    assert "big (stopped: time budget" in message
    assert "hr (not_started: time budget" in message
    # And each outcome was published and counted
    assert [(o.database, o.status) for _, o in publisher.published] == [
        ("shop", "succeeded"),
        ("big", "stopped"),
        ("hr", "not_started"),
    ]
    doc = next(d for d in emitted_metrics(capsys.readouterr().out) if c.METRIC_BACKUP_FAILURES in d)
    assert doc[c.METRIC_BACKUP_FAILURES] == [1.0, 1.0]
    assert doc[c.METRIC_BACKUP_SUCCEEDED] in (1.0, [1.0])


def test_unreadable_secret_fails_every_requested_database_without_dumping(
    backup_function: Callable[..., Any], lambda_context: Callable[..., Any]
) -> None:
    engine = StandInEngine(
        ["shop"], secret_error=SecretError("cannot read database secret arn:x: AccessDenied")
    )
    module, engine, publisher = backup_function(engine)
    with pytest.raises(
        BackupRunFailed, match="shop \\(failed: cannot read database secret arn:x: AccessDenied\\)"
    ):
        module.handler({"source": SOURCE, "databases": ["shop"]}, lambda_context())
    assert not any(call.startswith("backup") for call in engine.calls)
    assert [(o.database, o.status) for _, o in publisher.published] == [("shop", "failed")]


def test_a_missing_database_does_not_stop_the_others(
    backup_function: Callable[..., Any], lambda_context: Callable[..., Any]
) -> None:
    module, engine, publisher = backup_function(StandInEngine(["shop", "hr"]))
    with pytest.raises(BackupRunFailed) as raised:
        module.handler({"source": SOURCE, "databases": ["shop", "gone", "hr"]}, lambda_context())
    statuses = {o.database: (o.status, o.error) for o in raised.value.result.databases}
    assert statuses["shop"][0] == statuses["hr"][0] == "succeeded"
    assert statuses["gone"] == ("failed", "unknown database 'gone' on db.internal:3306")
    assert "backup gone" not in engine.calls
    assert len(publisher.published) == 3


def test_logs_carry_the_correlation_id_and_never_the_password(
    backup_function: Callable[..., Any], lambda_context: Callable[..., Any]
) -> None:
    module, _, _ = backup_function(StandInEngine(["shop"]))
    context = lambda_context()
    with captured_logs() as with_request_id:
        module.handler({"source": SOURCE, "databases": ["shop"]}, context)
    with captured_logs() as with_event_id:
        module.handler(
            {"source": SOURCE, "databases": ["shop"], "correlation_id": "run-42"}, lambda_context()
        )
    summary = [r for r in with_request_id if "backup of source" in r["message"]]
    assert summary
    assert summary[0]["correlation_id"] == context.aws_request_id
    assert summary[0]["function_request_id"] == context.aws_request_id
    assert {r["correlation_id"] for r in with_event_id} == {"run-42"}
    assert DB.password not in repr(with_request_id + with_event_id)


def test_all_databases_of_a_server_that_shows_none_is_a_failure_not_a_quiet_success(
    backup_function: Callable[..., Any], lambda_context: Callable[..., Any]
) -> None:
    # Given a backup user whose grants let it see no database at all
    module, engine, publisher = backup_function(StandInEngine([]))
    # When the schedule asks for every database
    with pytest.raises(
        BackupRunFailed, match=r"\* \(failed: no databases to back up: backup@db.internal:3306"
    ):
        module.handler({"source": SOURCE, "databases": "*"}, lambda_context())
    # Then the failure is published (and counted), so the operator hears of it
    assert [(o.database, o.status) for _, o in publisher.published] == [("*", "failed")]
    assert not any(call.startswith("backup ") for call in engine.calls)
