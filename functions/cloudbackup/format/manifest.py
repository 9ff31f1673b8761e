"""The manifest: written last, it is what makes a backup exist. Operators' scripts read it: only extend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

FORMAT_VERSION: Literal[1] = 1

Compression = Literal["zstd", "gzip", "none"]
# Frame order in the data object: database (CREATE DATABASE + USE, so `zstd -dc F | mysql` needs no
# arguments; our restore skips it to choose the target), header (session settings), sequence* (before the
# tables whose defaults call NEXTVAL), table* (DDL + rows + triggers), routines, views, events, footer.
FrameKind = Literal["database", "header", "sequence", "table", "routines", "views", "events", "footer"]


class Frame(BaseModel):
    """One compression frame (zstd frame / gzip member) of the data object."""

    model_config = ConfigDict(extra="ignore")

    kind: FrameKind
    name: str = ""  # table or sequence name; empty for header/routines/views/events/footer
    offset: int = Field(ge=0)  # byte offset in the (compressed) data object
    length: int = Field(ge=0)  # compressed length in bytes
    rows: int = Field(default=0, ge=0)
    raw_length: int = Field(default=0, ge=0)  # uncompressed SQL bytes in this frame


class TableEntry(BaseModel):
    name: str
    rows: int
    offset: int
    length: int


class DataObject(BaseModel):
    key: str  # key inside the store (relative to its prefix)
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ServerInfo(BaseModel):
    version: str
    flavour: Literal["mariadb", "mysql"]


class SnapshotPosition(BaseModel):
    binlog_file: str | None = None
    binlog_pos: int | None = None
    gtid: str | None = None


class ObjectCounts(BaseModel):
    tables: int = 0
    views: int = 0
    routines: int = 0
    triggers: int = 0
    events: int = 0
    sequences: int = 0


class Manifest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format_version: Literal[1] = FORMAT_VERSION
    id: str = Field(pattern=r"^[0-9a-z]{6,40}$")
    source: str
    database: str
    charset: str  # the database's default character set, so a restore creates the target alike
    collation: str
    server: ServerInfo
    started_at: datetime
    finished_at: datetime
    snapshot: SnapshotPosition = SnapshotPosition()
    compression: Compression
    data: DataObject
    frames: list[Frame]
    counts: ObjectCounts = ObjectCounts()
    tool_version: str = ""

    @field_validator("started_at", "finished_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tables(self) -> list[TableEntry]:
        return [
            TableEntry(name=f.name, rows=f.rows, offset=f.offset, length=f.length)
            for f in self.frames
            if f.kind == "table"
        ]

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        return cls.model_validate_json(data)
