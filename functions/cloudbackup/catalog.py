"""The catalog: complete backups (those with a manifest) across the configured stores."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cloudbackup.errors import OperationError, UsageError
from cloudbackup.format.keys import is_manifest_key, safe_segment
from cloudbackup.format.manifest import Manifest
from cloudbackup.storage.base import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogEntry:
    manifest: Manifest
    store: Storage
    manifest_key: str

    @property
    def id(self) -> str:
        return self.manifest.id

    def summary(self) -> dict[str, Any]:
        """The `list --json` object: operators' scripts read these fields, only add to them."""
        m = self.manifest
        return {
            "id": m.id,
            "source": m.source,
            "database": m.database,
            "created_at": m.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished_at": m.finished_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "store": self.store.kind,
            "location": self.store.location(m.data.key),
            "manifest": self.store.location(self.manifest_key),
            "size": m.data.size,
            "sha256": m.data.sha256,
            "compression": m.compression,
            "tables": len(m.tables),
            "rows": sum(t.rows for t in m.tables),
            "server_version": m.server.version,
        }


def list_backups(
    stores: Iterable[Storage], *, database: str | None = None, source: str | None = None
) -> list[CatalogEntry]:
    """Complete backups, newest first. Objects without a manifest are never listed."""
    prefix = ""
    if source is not None:
        prefix = safe_segment(source) + "/"
        if database is not None:
            prefix += safe_segment(database) + "/"
    entries: list[CatalogEntry] = []
    for store in stores:
        for info in store.list(prefix):
            if not is_manifest_key(info.key):
                continue
            if database is not None and f"/{safe_segment(database)}/" not in f"/{info.key}":
                continue
            try:
                manifest = Manifest.from_json(store.get_bytes(info.key))
            except (ValidationError, ValueError) as exc:
                log.warning("skipping unreadable manifest %s: %s", store.location(info.key), exc)
                continue
            except OperationError as exc:
                # Listed, then gone (a concurrent prune): not a complete backup any more.
                log.warning("skipping %s: %s", store.location(info.key), exc)
                continue
            if database is not None and manifest.database != database:
                continue
            if source is not None and manifest.source != source:
                continue
            entries.append(CatalogEntry(manifest=manifest, store=store, manifest_key=info.key))
    entries.sort(key=lambda e: (e.manifest.started_at, e.manifest.id), reverse=True)
    return entries


def find_backup(
    stores: Sequence[Storage], ref: str, *, database: str | None = None, source: str | None = None
) -> CatalogEntry:
    """`ref` is a backup id or `latest` (newest complete backup of `database`)."""
    entries = list_backups(stores, database=database, source=source)
    if ref == "latest":
        if database is None:
            databases = {e.manifest.database for e in entries}
            if len(databases) > 1:
                raise UsageError("--backup latest needs --database NAME: the stores hold several databases")
        if not entries:
            what = f"database {database!r}" if database else "any database"
            raise UsageError(f"no complete backup of {what} in {_describe(stores)}")
        return entries[0]
    matches = [e for e in entries if e.id == ref]
    if not matches:
        raise UsageError(f"no complete backup with id {ref!r} in {_describe(stores)}")
    return matches[0]


def _describe(stores: Sequence[Storage]) -> str:
    return " or ".join(s.describe() for s in stores) or "no store"
