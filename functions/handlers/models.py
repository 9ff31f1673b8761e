"""The events the functions accept and the summaries they return, as typed models.

A bad event is rejected before anything happens, with one line naming the offending field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    model_validator,
)

from cloudbackup.mysql.identifiers import database_name_problem
from cloudbackup.validation import describe_errors

# MySQL/MariaDB identifiers are at most 64 characters; the engine quotes them, so any other
# character is allowed.
Identifier = Annotated[str, Field(min_length=1, max_length=64)]
DatabaseName = Identifier


def _usable_database_name(name: str) -> str:
    problem = database_name_problem(name)
    if problem is not None:
        raise ValueError(f"{name!r} {problem}")
    return name


# A database a restore creates: also a name the server takes (no trailing space, no emoji, …).
NewDatabaseName = Annotated[Identifier, AfterValidator(_usable_database_name)]
TableName = Identifier
SourceName = Annotated[str, Field(min_length=1, max_length=128)]
_BACKUP_ID_PREFIX = re.compile(r"[0-9a-z]{4,40}")  # as the CLI: a unique prefix of 4+ characters


def _backup_ref(ref: str) -> str:
    if ref != "latest" and not _BACKUP_ID_PREFIX.fullmatch(ref):
        raise ValueError('"latest", or a backup id (its first 4 or more characters)')
    return ref


BackupRef = Annotated[str, AfterValidator(_backup_ref)]
_NUMBER = re.compile(r"\s*[-+]?[0-9]+(?:\.[0-9]*)?\s*")


def _iso_text(value: Any) -> Any:
    """A time as text, as the CLI's --to-time takes it: pydantic would also read a bare number as Unix
    seconds (or milliseconds, by its size), which a time pasted from a log may be either of."""
    if not isinstance(value, str) or _NUMBER.fullmatch(value):
        raise ValueError("an ISO 8601 time with its zone, such as 2026-12-03T14:02:00Z")
    return value


IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


def _no_wildcard(names: list[str]) -> list[str]:
    # A schedule written `["*"]` meant every database: backing up one named `*` would fail every run.
    if "*" in names:
        raise ValueError('every database is "*" itself, not a list holding it')
    return names


def _each_once(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))  # `["orders", "orders"]` is one table, restored (and counted) once


Model = TypeVar("Model", bound=BaseModel)


class InvalidEvent(ValueError):
    """The event does not match its model; the message names the field."""


# Models build their validators on first use, not at import: that keeps ~40 ms off the cold start.
LAZY = ConfigDict(defer_build=True)


class _Event(BaseModel):
    # Unknown fields are refused: a typo (`database` for `databases`) must not silently mean "default".
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    # Optional id to follow one run through logs; the Lambda request id is used when absent.
    correlation_id: str | None = Field(default=None, max_length=256)


class BackupEvent(_Event):
    """Schedule input: `{"source": "orders-db", "databases": ["shop"]}` or `"databases": "*"`."""

    source: SourceName
    databases: Annotated[list[DatabaseName], Field(min_length=1), AfterValidator(_no_wildcard)] | Literal["*"]

    def names(self) -> list[str] | None:
        """The requested databases in order without repeats; None means every configured database."""
        return None if self.databases == "*" else list(dict.fromkeys(self.databases))


class BinlogEvent(_Event):
    """Schedule input of the binlog function: `{"source": "orders-db"}`."""

    source: SourceName


class BinlogFollowEvent(_Event):
    """The binlog follower of a fargate source (its ECS service's task): `{"source": "orders-db",
    "binlog": "follow"}`: archive continuously until the task is stopped."""

    source: SourceName
    binlog: Literal["follow"]


class RestoreEvent(_Event):
    """On-demand input: a new `target_database`, or `"in_place": true`; optional `tables`, `dry_run`,
    `definer`, or `to_time` (ISO 8601 with a zone: the newest backup before it, then its archived
    binlog)."""

    source: SourceName
    database: DatabaseName
    backup: BackupRef
    target_database: NewDatabaseName | None = None
    in_place: StrictBool = False
    tables: Annotated[list[TableName], Field(min_length=1), AfterValidator(_each_once)] | None = None
    dry_run: StrictBool = False
    to_time: IsoTime | None = None
    # "current": views, routines, triggers and events owned by another account are created as the
    # restoring user (RDS grants no SUPER or SET_ANY_DEFINER), as the CLI's --definer current.
    definer: Literal["keep", "current"] = "keep"

    @model_validator(mode="after")
    def _one_target(self) -> RestoreEvent:
        if self.to_time is not None and (self.backup != "latest" or self.tables):
            raise ValueError('to_time picks the newest backup before it: give "backup": "latest", no tables')
        if self.in_place and self.target_database is not None:
            raise ValueError("give either target_database or in_place: true, not both")
        if not self.in_place and self.target_database is None:
            raise ValueError("target_database is required (or in_place: true to replace the database itself)")
        if self.target_database == self.database:
            raise ValueError(
                "target_database equals database: an in-place restore needs in_place: true instead"
            )
        return self

    @property
    def target(self) -> str:
        return self.database if self.in_place else str(self.target_database)


class DrillEvent(_Event):
    """Schedule (or console) input: `{"source": "orders-db", "database": "shop", "drill": true}`;
    optional `backup` (default `latest`)."""

    source: SourceName
    database: DatabaseName
    drill: Literal[True]
    backup: BackupRef = "latest"


def parse_restore_event(event: Any) -> RestoreEvent | DrillEvent:
    """The restore function's input: a drill when it carries `drill`, a restore otherwise."""
    is_drill = isinstance(event, Mapping) and "drill" in event
    return parse_event(DrillEvent, event) if is_drill else parse_event(RestoreEvent, event)


def parse_event(model: type[Model], event: Any) -> Model:
    """Validate a Lambda event; raise InvalidEvent with one line naming each bad field (never values)."""
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"invalid event: expected a JSON object, got {type(event).__name__}")
    try:
        return model.model_validate(dict(event))
    except ValidationError as exc:
        raise InvalidEvent(f"invalid event: {describe_errors(exc)}") from None


BackupStatus = Literal["succeeded", "failed", "stopped", "not_started"]


class DatabaseOutcome(BaseModel):
    """What happened to one database in a backup run; also the detail of its result event."""

    model_config = LAZY

    database: str
    status: BackupStatus
    backup_id: str | None = None
    location: str | None = None  # s3:// URL of the data object
    size: int | None = None  # bytes stored
    tables: int | None = None
    rows: int | None = None
    duration_seconds: float = 0.0
    error: str | None = None
    # The engine called the failure bad usage (an unknown database, a wrong password): the task's exit
    # code 2. Not part of the result or its event.
    bad_usage: bool = Field(default=False, exclude=True)


class BackupRunResult(BaseModel):
    """The backup function's return value (and the body of its failure message)."""

    model_config = LAZY

    source: str
    databases: list[DatabaseOutcome]

    @property
    def complete(self) -> bool:
        return all(o.status == "succeeded" for o in self.databases)

    @property
    def bad_usage(self) -> bool:
        """Not complete, and only for bad usage: every database not backed up was refused as such."""
        not_done = [o for o in self.databases if o.status != "succeeded"]
        return bool(not_done) and all(o.bad_usage for o in not_done)

    def describe(self) -> str:
        """One line: which databases were done and which were not, and why."""
        done = [f"{o.database} ({o.backup_id})" for o in self.databases if o.status == "succeeded"]
        not_done = [
            f"{o.database} ({o.status}: {o.error})" for o in self.databases if o.status != "succeeded"
        ]
        return (
            f"backup of source {self.source!r}: done: {', '.join(done) or 'none'}; "
            f"not done: {', '.join(not_done) or 'none'}"
        )


class BinlogRunResult(BaseModel):
    """The binlog function's return value."""

    model_config = LAZY

    source: str
    segments: int
    events: int
    bytes: int
    position: str | None = None
    newest_event_time: str | None = None
    reached_end: bool
    gap: str | None = None
    overtaken: str | None = None  # another run of the source committed the next segment first: it stopped


class RestoreSummary(BaseModel):
    """The restore function's return value."""

    model_config = LAZY

    source: str
    database: str
    backup_id: str
    backup_created_at: str
    target_database: str
    in_place: bool
    dry_run: bool
    tables: list[str]  # restored (or, in a dry run, that would be)
    rows: int
    bytes: int  # SQL bytes loaded (in a dry run: held by the backup for those tables)
    seconds: float
    previous_tables_kept_in: str | None = None
    verified: bool = False  # the data object matched its manifest (SHA-256, size, frames)
    message: str = ""
    # As `restore --json` says them: what an in-place target held before (a dry run: what it would
    # replace), the DEFINERs set to the restoring user, and stale staging databases dropped on the way.
    replaces: list[str] = Field(default_factory=list)
    definers_rewritten: list[str] = Field(default_factory=list)
    stale_staging_dropped: list[str] = Field(default_factory=list)
    to_time: str | None = None  # a point-in-time restore: up to this time
    binlog_transactions: int | None = None  # replayed after the backup (none in a dry run)
    binlog_from: str | None = None  # a point-in-time restore replays from this binlog file:offset


class DrillSummary(BaseModel):
    """The restore function's return value for a drill; also the detail of its result event."""

    model_config = LAZY

    source: str
    database: str
    backup_id: str | None = None
    backup_created_at: str | None = None
    target: Literal["source", "drill"] = "source"  # the server drilled on: the source's or the drill's
    tables: int = 0
    rows: int = 0
    seconds: float = 0.0
    restore_seconds: float = 0.0  # the restore alone: the figure for a recovery-time objective
    verified: bool = False
    error: str | None = None
    message: str = ""
