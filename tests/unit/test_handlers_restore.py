"""The restore function as Lambda runs it, over a stand-in engine: refusals, dry run, summary."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from cloudbackup.catalog import CatalogEntry, find_backup
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError, Stopped, UsageError
from cloudbackup.storage.local import LocalStorage
from handlers.drill_run import DrillFailed
from handlers.engine import Engine
from handlers.models import InvalidEvent
from handlers.restore_run import RestoreFailed, RestoreRefused, in_event_terms
from tests.fixtures.lambda_runtime import SOURCE, settings_env, substitute
from tests.unit.test_handlers_backup import DB, manifest_for, store_backup

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

SOURCES = {SOURCE: {"secret_arn": "arn:secret", "restore_allow": ["shop_restored*", "shop"], "drill": True}}
EVENT = {"source": SOURCE, "database": "shop", "backup": "latest", "target_database": "shop_restored"}


@dataclass
class StandInRestore:
    calls: list[dict[str, Any]] = field(default_factory=list)
    error: Exception | None = None
    # Loading as the engine does: `should_stop` asked between statements (one every 10 ms), Stopped
    # when it says so. None: a restore that takes no time.
    statements: int | None = None
    asked: int = 0

    def load(self, should_stop: Any, stopped: str) -> None:
        for _ in range(self.statements or 0):
            self.asked += 1
            if should_stop():
                raise Stopped(stopped)
            time.sleep(0.01)

    def restore(self, db: DbSettings, entry: CatalogEntry, **kwargs: Any) -> Any:
        should_stop = kwargs.pop("should_stop", lambda: False)
        self.calls.append({"backup": entry.id, **kwargs})
        if self.error:
            raise self.error
        target = kwargs["target_database"] or entry.manifest.database
        self.load(
            should_stop, f"restore into {target} stopped before publishing; {target} was left as it was"
        )
        in_place = kwargs["in_place"]
        return SimpleNamespace(
            tables=1,
            rows=12,
            bytes=3456,
            seconds=0.25,
            previous_tables_kept_in="shop_before_20261126T101500Z"
            if in_place and not kwargs["dry_run"]
            else None,
            replaces=["2 tables/views"] if in_place else [],
            definers_rewritten=[],
            stale_staging_dropped=[],
        )

    def restore_to_time(self, db: DbSettings, stores: Any, database: str, to_time: Any, **kwargs: Any) -> Any:
        should_stop = kwargs.pop("should_stop", lambda: False)
        self.calls.append({"to_time": to_time, **kwargs})
        target = kwargs["target_database"]
        self.load(
            should_stop, f"restore into {target} stopped before publishing; {target} was left as it was"
        )
        pytest.fail("the stand-in's point-in-time restore always runs out of time")

    def drill(self, db: DbSettings, entry: CatalogEntry, **kwargs: Any) -> Any:
        should_stop = kwargs.pop("should_stop", lambda: False)
        self.calls.append({"drill": entry.id, **kwargs})
        where = f"drill of backup {entry.id} of 'shop'"
        self.load(should_stop, f"{where} stopped during its restore, its scratch database dropped")
        return SimpleNamespace(tables=1, rows=7, seconds=0.5, restore_seconds=0.25, verified=True)


@pytest.fixture
def restore_function(
    load_handler: Callable[..., ModuleType], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., tuple[ModuleType, StandInRestore]]:
    store = LocalStorage(tmp_path)
    for backup_id in ("older0001", "newer0002"):
        store_backup(store, manifest_for("shop", backup_id))

    def make(**env: str) -> tuple[ModuleType, StandInRestore]:
        module = load_handler("restore", settings_env(sources=SOURCES, **env))
        engine = StandInRestore()
        substitute(
            monkeypatch,
            module,
            # The drill's outcome event: not the test's subject, and no event bus here.
            publisher=SimpleNamespace(drill_outcome=lambda summary: True),
            engine=Engine(
                read_secret=lambda arn, fresh: DB,
                open_store=lambda: store,
                resolve_databases=lambda *a: pytest.fail("a restore never lists databases"),
                backup_database=lambda *a, **k: pytest.fail("a restore never backs up"),
                restore_backup=engine.restore,
                find_backup=find_backup,
                restore_to_time=engine.restore_to_time,
                run_drill=engine.drill,
            ),
        )
        return module, engine

    return make


@pytest.mark.parametrize(
    ("event", "named"),
    [
        ({"source": SOURCE, "database": "shop", "backup": "latest"}, "target_database is required"),
        (
            {"source": SOURCE, "database": "shop", "backup": "latest", "target_database": "shop"},
            "an in-place restore needs in_place: true",
        ),
        (
            {"source": SOURCE, "database": "shop", "backup": "latest", "in_place": "true"},
            "in_place: Input should be a valid boolean",
        ),
        (
            {"source": SOURCE, "database": "shop", "backup": "latest", "in_place": 1},
            "in_place: Input should be a valid boolean",
        ),
        (
            {
                "source": SOURCE,
                "database": "shop",
                "backup": "latest",
                "in_place": True,
                "target_database": "x",
            },
            "either target_database or in_place",
        ),
        (
            {"source": SOURCE, "database": "shop", "target_database": "shop_restored"},
            "backup: Field required",
        ),
        (
            {"source": SOURCE, "database": "shop", "backup": "2026-11-25", "target_database": "shop_r"},
            'backup: "latest", or a backup id (its first 4 or more characters)',
        ),
        (
            {"source": SOURCE, "database": "shop", "backup": "Latest", "target_database": "shop_r"},
            'backup: "latest", or a backup id',
        ),
        # a bare number is no time: Unix seconds or milliseconds? (the CLI's --to-time refuses it too)
        *(
            (
                {
                    "source": SOURCE,
                    "database": "shop",
                    "backup": "latest",
                    "target_database": "shop_r",
                    "to_time": number,
                },
                "to_time: an ISO 8601 time with its zone",
            )
            for number in (1796585821, "1796585821", 1796585821000.0)
        ),
        (
            {
                "source": SOURCE,
                "database": "shop",
                "backup": "latest",
                "target_database": "shop_r",
                "definer": "root",
            },
            "definer: Input should be 'keep' or 'current'",
        ),
        (
            {
                "source": SOURCE,
                "database": "shop",
                "backup": "latest",
                "target_database": "shop_r",
                "tables": "t",
            },
            "tables: Input should be a valid list",
        ),
        (
            {
                "source": SOURCE,
                "database": "shop",
                "backup": "latest",
                "target_database": "x",
                "dry_run": "no",
            },
            "dry_run: Input should be a valid boolean",
        ),
        (
            {"source": SOURCE, "database": "shop", "backup": "latest", "target_database": "shop_restored "},
            "target_database: 'shop_restored ' ends with a space, which the server does not allow",
        ),
        (
            {"source": SOURCE, "database": "shop", "backup": "latest", "target_database": "production"},
            "target_database: restoring into 'production' is not allowed for source 'orders-db' "
            "(its restore allow-list: shop_restored*, shop)",
        ),
        (
            {
                "source": "billing-db",
                "database": "shop",
                "backup": "latest",
                "target_database": "shop_restored",
            },
            "source: 'billing-db' is not configured",
        ),
    ],
)
def test_a_refused_restore_names_the_field_and_touches_nothing(
    restore_function: Callable[..., tuple[ModuleType, StandInRestore]],
    lambda_context: Callable[..., Any],
    event: dict[str, Any],
    named: str,
) -> None:
    module, engine = restore_function()
    with pytest.raises(InvalidEvent) as raised:
        module.handler(event, lambda_context())
    assert named in str(raised.value)
    assert engine.calls == []


def test_in_place_is_refused_when_the_database_itself_is_not_allowed(
    load_handler: Callable[..., ModuleType], lambda_context: Callable[..., Any]
) -> None:
    module = load_handler(
        "restore", settings_env(sources={SOURCE: {"secret_arn": "arn", "restore_allow": ["shop_restored*"]}})
    )
    event = {"source": SOURCE, "database": "shop", "backup": "latest", "in_place": True}
    with pytest.raises(InvalidEvent, match="in_place: restoring into 'shop' is not allowed"):
        module.handler(event, lambda_context())


def test_restore_of_latest_into_a_new_database_returns_the_summary(
    restore_function: Callable[..., tuple[ModuleType, StandInRestore]], lambda_context: Callable[..., Any]
) -> None:
    module, engine = restore_function()
    event = {"source": SOURCE, "database": "shop", "backup": "latest", "target_database": "shop_restored"}
    summary = module.handler(event, lambda_context())
    assert engine.calls == [
        {
            "backup": "newer0002",
            "target_database": "shop_restored",
            "in_place": False,
            "tables": None,
            "dry_run": False,
            "definer": "keep",
        }
    ]
    assert summary["backup_id"] == "newer0002"
    assert summary["target_database"] == "shop_restored"
    assert (summary["tables"], summary["rows"], summary["bytes"]) == (["t"], 12, 3456)
    assert summary["previous_tables_kept_in"] is None
    assert summary["message"].startswith("restored 1 table (12 rows) of 'shop' from backup newer0002")


def test_in_place_dry_run_of_a_named_backup_says_what_it_would_do(
    restore_function: Callable[..., tuple[ModuleType, StandInRestore]], lambda_context: Callable[..., Any]
) -> None:
    module, engine = restore_function()
    event = {
        "source": SOURCE,
        "database": "shop",
        "backup": "older0001",
        "in_place": True,
        "tables": ["t"],
        "dry_run": True,
    }
    summary = module.handler(event, lambda_context())
    assert engine.calls[0] | {"backup": "older0001"} == {
        "backup": "older0001",
        "target_database": None,
        "in_place": True,
        "tables": ["t"],
        "dry_run": True,
        "definer": "keep",
    }
    assert summary["dry_run"] is True
    # Nothing was loaded: the rows are what the backup holds for the table
    assert (summary["tables"], summary["rows"]) == (["t"], 7)
    assert summary["message"].startswith("would restore 1 table (7 rows) of 'shop' from backup older0001")
    # and it says what the target holds now, which a real run would replace, as restore --json does
    assert (
        "into 'shop' in place; it would replace what 'shop' holds now: 2 tables/views" in summary["message"]
    )
    assert summary["replaces"] == ["2 tables/views"]


def test_an_unknown_backup_id_fails_with_one_line(
    restore_function: Callable[..., tuple[ModuleType, StandInRestore]], lambda_context: Callable[..., Any]
) -> None:
    module, engine = restore_function()
    event = {"source": SOURCE, "database": "shop", "backup": "abcdef123", "target_database": "shop_restored"}
    with pytest.raises(
        RestoreFailed,
        match="no complete backup of database 'shop' from source 'orders-db' with id 'abcdef123'",
    ):
        module.handler(event, lambda_context())
    assert engine.calls == []


def test_engine_messages_name_event_fields_not_command_line_flags(
    restore_function: Callable[..., tuple[ModuleType, StandInRestore]], lambda_context: Callable[..., Any]
) -> None:
    module, engine = restore_function()
    engine.error = UsageError("--table orders: backup newer0002 of shop has no such table")
    event = {
        "source": SOURCE,
        "database": "shop",
        "backup": "latest",
        "target_database": "shop_restored",
        "tables": ["orders"],
    }
    with pytest.raises(RestoreFailed, match=r"^tables orders: backup newer0002 of shop has no such table$"):
        module.handler(event, lambda_context())


def test_a_short_id_prefix_repeated_tables_and_the_definer_choice_reach_the_engine_as_meant(
    restore_function: Callable[[], tuple[ModuleType, StandInRestore]], lambda_context: Callable[..., Any]
) -> None:
    module, engine = restore_function()
    # When a console event names the backup by 4 characters (as the CLI takes), a table twice, and
    # asks for objects owned by other accounts to be created as the restoring user
    event = {
        "source": SOURCE, "database": "shop", "backup": "newe", "target_database": "shop_restored",
        "tables": ["t", "t"], "definer": "current",
    }  # fmt: skip
    summary = module.handler(event, lambda_context())
    # Then that backup is restored, the table once, with the definer choice passed on
    (call,) = engine.calls
    assert (call["backup"], call["tables"], call["definer"]) == ("newer0002", ["t"], "current")
    assert summary["tables"] == ["t"]
    assert summary["message"].startswith("restored 1 table ")


def test_the_definer_advice_names_the_events_field() -> None:
    advice = "view v has DEFINER pa_other@%: rerun with --definer current to create it as the restoring user"
    assert in_event_terms(advice) == (
        'view v has DEFINER pa_other@%: rerun with "definer": "current" to create it as the restoring user'
    )


ELSEWHERE = "run it as a Fargate restore task or with the cloudbackup CLI, which have no time limit"


@pytest.mark.parametrize(
    ("event", "what"),
    [
        (EVENT, "restore of 'shop' into 'shop_restored' not started"),
        ({**EVENT, "to_time": "2026-11-26T10:15:00Z"}, "restore of 'shop' into 'shop_restored' not started"),
        ({"source": SOURCE, "database": "shop", "drill": True}, "restore drill of 'shop' not started"),
    ],
)
def test_with_less_than_the_safety_margin_left_nothing_is_started(
    restore_function: Callable[..., tuple[ModuleType, StandInRestore]],
    lambda_context: Callable[..., Any],
    event: dict[str, Any],
    what: str,
) -> None:
    # Given an invocation with 50 s left and the default safety margin of 60 s
    module, engine = restore_function()
    # When a restore, a point-in-time restore or a drill is asked for
    with pytest.raises((RestoreFailed, DrillFailed)) as raised:
        module.handler(event, lambda_context(50_000))
    # Then it is refused with one line saying why and where to run it, and the engine was never called
    message = str(raised.value)
    assert f"time budget: less than 60 s of the invocation left; {what}; {ELSEWHERE}" in message
    assert "\n" not in message
    assert engine.calls == []


@pytest.mark.parametrize(
    ("event", "stopped"),
    [
        (EVENT, "restore into shop_restored stopped before publishing; shop_restored was left as it was"),
        (
            {**EVENT, "to_time": "2026-11-26T10:15:00Z"},
            "restore into shop_restored stopped before publishing; shop_restored was left as it was",
        ),
        (
            {"source": SOURCE, "database": "shop", "drill": True},
            "drill of backup newer0002 of 'shop' stopped during its restore, its scratch database dropped",
        ),
    ],
)
def test_when_the_time_left_falls_under_the_margin_the_engine_is_stopped_and_the_failure_says_so(
    restore_function: Callable[..., tuple[ModuleType, StandInRestore]],
    lambda_context: Callable[..., Any],
    event: dict[str, Any],
    stopped: str,
) -> None:
    # Given a run of 200 statements (2 s) with 1.3 s left of the invocation, 1 s of it the safety margin
    module, engine = restore_function(CLOUDBACKUP_SAFETY_MARGIN_SECONDS="1")
    engine.statements = 200
    # When it runs
    with pytest.raises((RestoreFailed, DrillFailed)) as raised:
        module.handler(event, lambda_context(1300))
    # Then the engine was asked to stop part way, and the one-line failure says it was the time budget
    assert 10 < engine.asked < 200
    message = str(raised.value)
    assert f"time budget: less than 1 s of the invocation left; {stopped}; {ELSEWHERE}" in message
    assert "\n" not in message


def test_a_run_with_time_to_spare_is_never_stopped(
    restore_function: Callable[..., tuple[ModuleType, StandInRestore]], lambda_context: Callable[..., Any]
) -> None:
    module, engine = restore_function(CLOUDBACKUP_SAFETY_MARGIN_SECONDS="1")
    engine.statements = 20
    summary = module.handler(EVENT, lambda_context(5000))
    assert engine.asked == 20
    assert summary["rows"] == 12


@pytest.mark.parametrize(
    ("error", "refused"),
    [
        (UsageError("target database shop_restored exists and is not empty (1 tables/views)"), True),
        (OperationError("restore into shop_restored failed, shop_restored was left as it was: lost"), False),
    ],
)
def test_bad_usage_raises_the_refusal_class_a_failed_operation_the_failure_class(
    restore_function: Callable[..., tuple[ModuleType, StandInRestore]],
    lambda_context: Callable[..., Any],
    error: Exception,
    refused: bool,
) -> None:
    # Given an engine that reports bad usage, or a failed operation
    module, engine = restore_function()
    engine.error = error
    # When the function runs the restore
    with pytest.raises(RestoreFailed) as raised:  # what callers already catch, either way
        module.handler(EVENT, lambda_context())
    # Then bad usage is told apart by its class and exit code (the task's), as the CLI tells it
    assert isinstance(raised.value, RestoreRefused) is refused
    assert raised.value.exit_code == (2 if refused else 1)
