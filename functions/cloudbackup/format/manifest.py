"""The manifest: written last, it is what makes a backup exist. Operators' scripts read it: only extend.

The records are plain dataclasses, so writing a backup never loads pydantic (about 0.2 s of start-up,
paid before the first row); reading a manifest validates it with pydantic, imported then.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pydantic import TypeAdapter

FORMAT_VERSION: Literal[1] = 1

Compression = Literal["zstd", "gzip", "none"]
# Frame order in the data object: header (session settings), sequence* (before the tables whose defaults
# call NEXTVAL), table* (DDL + rows + triggers), routines, views, events, footer. Backups made before the
# data object named no database begin with a database frame (CREATE DATABASE + USE of the source), which
# a restore skips: the target is its own to choose.
FrameKind = Literal["database", "header", "sequence", "table", "routines", "views", "events", "footer"]

_ID = re.compile(r"^[0-9a-z]{6,40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, kw_only=True)
class Frame:
    """One compression frame (zstd frame / gzip member) of the data object."""

    kind: FrameKind
    name: str = ""  # table or sequence name; empty for header/routines/views/events/footer
    offset: int  # byte offset in the (compressed) data object
    length: int  # compressed length in bytes
    rows: int = 0
    raw_length: int = 0  # uncompressed SQL bytes in this frame
    # A table's content digest (format/digest.py), recorded when its rows were read in key order;
    # absent from older manifests and from tables read on several connections at once.
    sha256: str | None = None


@dataclass(frozen=True, kw_only=True)
class TableEntry:
    name: str
    rows: int
    offset: int
    length: int
    sha256: str | None = None


@dataclass(frozen=True, kw_only=True)
class DataObject:
    key: str  # key inside the store (relative to its prefix)
    size: int
    sha256: str


@dataclass(frozen=True, kw_only=True)
class ServerInfo:
    version: str
    flavour: Literal["mariadb", "mysql"]


@dataclass(frozen=True, kw_only=True)
class SnapshotPosition:
    binlog_file: str | None = None
    binlog_pos: int | None = None
    gtid: str | None = None


@dataclass(frozen=True, kw_only=True)
class ObjectCounts:
    tables: int = 0
    views: int = 0
    routines: int = 0
    triggers: int = 0
    events: int = 0
    sequences: int = 0


@dataclass(frozen=True, kw_only=True)
class NameCaseReference:
    """A stored program naming a table in another letter case than the table's own (mysql/name_case.py):
    it works only on a server comparing table names without case, as the source did."""

    kind: str  # trigger, procedure, function, event
    name: str
    table: str = ""  # a trigger's table
    written: str  # the name as the body writes it
    means: str  # the table it names there


@dataclass(frozen=True, kw_only=True)
class Manifest:
    format_version: Literal[1] = FORMAT_VERSION
    id: str
    source: str
    database: str
    charset: str  # the database's default character set, so a restore creates the target alike
    collation: str
    server: ServerInfo
    started_at: datetime
    finished_at: datetime
    snapshot: SnapshotPosition = field(default_factory=SnapshotPosition)
    # The source server's clock as the snapshot opened (started_at is the backup machine's, which may be
    # off it): what a point-in-time restore compares its TIME with. Older backups do not record it.
    snapshot_taken_at: datetime | None = None
    compression: Compression
    data: DataObject
    frames: list[Frame]
    counts: ObjectCounts = field(default_factory=ObjectCounts)
    tool_version: str = ""
    # A partial backup (tables left out, or no rows): never what `latest` picks for a restore.
    schema_only: bool = False
    excluded_tables: list[str] = field(default_factory=list)
    # Objects every restore will refuse as they are (another database named in a body, …): one line
    # each, as the backup warned of them, so verify says so too. Older backups do not list them.
    unrestorable: list[str] = field(default_factory=list)
    # Views left out with the excluded tables they read (directly or through other views): a restore
    # could not create them. Older backups do not list them (and older readers ignore the field).
    excluded_views: list[str] = field(default_factory=list)
    # Triggers of kept tables left out as their bodies name an excluded table or a view left out: a
    # restore would create them, failing at their first use. Older backups do not list them.
    excluded_triggers: list[str] = field(default_factory=list)
    # Routines and events kept though their bodies name what was left out (`procedure p`, `event e`):
    # restored, they fail where they use it. Older backups do not list them.
    programs_naming_excluded: list[str] = field(default_factory=list)
    # The source server's lower_case_table_names (None: an older backup, which did not record it), and
    # the programs naming a table in another letter case, which a server comparing names with case
    # (lower_case_table_names = 0) would fail at their first use: a restore there refuses them.
    lower_case_table_names: int | None = None
    name_case_references: list[NameCaseReference] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        left_out = self.excluded_tables or self.excluded_views or self.excluded_triggers
        return self.schema_only or bool(left_out)

    @property
    def snapshot_time(self) -> datetime:
        """When the snapshot opened, on the server's clock where the backup recorded it."""
        return self.snapshot_taken_at or self.started_at

    @property
    def sql_bytes(self) -> int:
        """The SQL the data object decodes to, all frames together."""
        return sum(f.raw_length for f in self.frames)

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", _utc(self.started_at))
        object.__setattr__(self, "finished_at", _utc(self.finished_at))
        if self.snapshot_taken_at is not None:
            object.__setattr__(self, "snapshot_taken_at", _utc(self.snapshot_taken_at))
        problems = _problems(self)
        if problems:
            raise ValueError("invalid manifest: " + "; ".join(problems))

    @property
    def tables(self) -> list[TableEntry]:
        return [
            TableEntry(name=f.name, rows=f.rows, offset=f.offset, length=f.length, sha256=f.sha256)
            for f in self.frames
            if f.kind == "table"
        ]

    def to_json(self) -> bytes:
        document = {**asdict(self), "tables": [asdict(t) for t in self.tables]}
        return json.dumps(document, indent=2, ensure_ascii=False, default=_json_value).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        """The manifest in `data`; ValueError naming its bad fields in one line if it is not one."""
        from pydantic import ValidationError

        from cloudbackup.validation import describe_errors

        try:
            return _adapter().validate_json(data)
        except ValidationError as exc:  # (its own text spans lines and echoes what the file holds)
            version = _format_version(data)
            if version is not None and version > FORMAT_VERSION:
                raise NewerFormat(version) from None
            raise ValueError(describe_errors(exc)) from None


class NewerFormat(ValueError):
    """A manifest of a format this cloudbackup does not know: a newer version of it wrote the backup."""

    def __init__(self, version: int) -> None:
        super().__init__(
            f"written by a newer cloudbackup (backup format {version}; this one reads format "
            f"{FORMAT_VERSION}): upgrade cloudbackup to list, restore or prune it"
        )
        self.version = version


def _format_version(data: bytes | str) -> int | None:
    """The document's format_version, where it is a JSON object holding a whole number there."""
    try:
        document = json.loads(data)
    except ValueError:
        return None
    version = document.get("format_version") if isinstance(document, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _problems(manifest: Manifest) -> list[str]:
    """What the types alone do not say (pydantic checks the types when a manifest is read)."""
    problems = []
    if not _ID.match(manifest.id):
        problems.append(f"id {manifest.id!r} is not 6-40 lower-case letters and digits")
    if not _SHA256.match(manifest.data.sha256):
        problems.append("data.sha256 is not 64 lower-case hex digits")
    if manifest.data.size < 0:
        problems.append("data.size is negative")
    for i, frame in enumerate(manifest.frames):
        if min(frame.offset, frame.length, frame.rows, frame.raw_length) < 0:
            problems.append(f"frames[{i}] has a negative offset, length or count")
        if frame.sha256 is not None and not _SHA256.match(frame.sha256):
            problems.append(f"frames[{i}].sha256 is not 64 lower-case hex digits")
    return problems


def utc_text(moment: datetime) -> str:
    """A UTC time as the manifest writes it: ISO 8601 ending in Z."""
    return moment.isoformat().replace("+00:00", "Z")


def _json_value(value: Any) -> str:
    if isinstance(value, datetime):
        return utc_text(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


@cache
def _adapter() -> TypeAdapter[Manifest]:
    from pydantic import TypeAdapter  # only reading validates: a backup never pays for the import

    return TypeAdapter(Manifest)
