"""The Storage protocol every store implements, and the pieces they share."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

StoreKind = Literal["local", "s3"]


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # relative to the store's prefix
    size: int
    last_modified: datetime | None = None


@dataclass(frozen=True)
class WrittenObject:
    key: str
    size: int
    sha256: str  # hex digest of the bytes as stored


class ObjectWriter(Protocol):
    """A streaming write that becomes visible only on commit(); abort() leaves nothing behind."""

    def write(self, data: bytes) -> None: ...
    def commit(self) -> WrittenObject: ...
    def abort(self) -> None: ...


class Storage(Protocol):
    kind: StoreKind

    def open_writer(self, key: str) -> ObjectWriter: ...

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write a small object atomically (the manifest)."""
        ...

    def get_bytes(self, key: str) -> bytes: ...

    def iter_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream bytes [start, start+length) (to the end when length is None) in chunks."""
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with prefix (relative to the store's own prefix)."""
        ...

    def delete(self, key: str) -> None: ...

    def location(self, key: str) -> str:
        """What an operator sees: a filesystem path or an s3:// URL."""
        ...

    def describe(self) -> str:
        """One line naming the store for messages (never a secret)."""
        ...

    def absence(self) -> str:
        """Why the store holds nothing, where that is plain without asking it (a local directory
        that does not exist: a mistyped --data); else empty. Said beside "no backups found"."""
        ...

    def abandoned_writes(self, untouched_since: datetime) -> tuple[ObjectInfo, ...]:
        """Writes never finished (their process was killed) and not written to since the time given:
        what `prune` removes. Their keys are the keys they would have had."""
        ...

    def drop_abandoned(self, key: str) -> None:
        """Remove the unfinished write of `key` (one of abandoned_writes)."""
        ...


class Sha256Counter:
    """Size and SHA-256 of a stream, computed as it is written."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes) -> None:
        self._hash.update(data)
        self.size += len(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
