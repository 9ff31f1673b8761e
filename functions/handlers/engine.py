"""The engine functions the handlers call, gathered in one place so tests can substitute them.

The engine modules are imported on first use: they pull in the MySQL driver, compression and boto3,
which a cold start should not pay before an event has even been validated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from handlers.secrets import read_db_secret
from handlers.settings import Settings
from handlers.store import open_store

if TYPE_CHECKING:
    from cloudbackup.binlog.archive import ArchiveResult
    from cloudbackup.binlog.pitr import PointInTimeResult
    from cloudbackup.catalog import CatalogEntry
    from cloudbackup.dburl import DbSettings
    from cloudbackup.drill.run import DrillResult
    from cloudbackup.format.manifest import Manifest
    from cloudbackup.restore import RestoreResult
    from cloudbackup.storage.base import Storage


def _archive_binlog(*args: Any, **kwargs: Any) -> ArchiveResult:
    from cloudbackup.binlog.archive import archive_binlog

    return archive_binlog(*args, **kwargs)


def _restore_to_time(*args: Any, **kwargs: Any) -> PointInTimeResult:
    from cloudbackup.binlog.pitr import restore_to_time

    return restore_to_time(*args, **kwargs)


@dataclass(frozen=True)
class Engine:
    # (secret ARN, fresh): `fresh` skips the cache, for a retry after the cached credentials failed.
    read_secret: Callable[[str, bool], DbSettings]
    open_store: Callable[[], Storage]
    resolve_databases: Callable[[DbSettings, list[str] | None], list[str]]
    backup_database: Callable[..., Manifest]
    restore_backup: Callable[..., RestoreResult]
    find_backup: Callable[..., CatalogEntry]
    # Point-in-time recovery (the engine's own by default: tests of other runs need not name them).
    archive_binlog: Callable[..., ArchiveResult] = _archive_binlog
    restore_to_time: Callable[..., PointInTimeResult] = _restore_to_time
    run_drill: Callable[..., DrillResult] = field(default=lambda *a, **k: _run_drill(*a, **k))


def engine_for(settings: Settings) -> Engine:
    return Engine(
        read_secret=lambda arn, fresh: read_db_secret(
            arn, max_age=settings.secret_max_age_seconds, force_fetch=fresh
        ),
        open_store=lambda: open_store(settings),
        resolve_databases=_resolve_databases,
        backup_database=_backup_database,
        restore_backup=_restore_backup,
        find_backup=_find_backup,
        run_drill=_run_drill,
    )


def _resolve_databases(db: DbSettings, names: list[str] | None) -> list[str]:
    from cloudbackup.backup import resolve_databases

    return resolve_databases(db, names)


def _backup_database(*args: Any, **kwargs: Any) -> Manifest:
    from cloudbackup.backup import backup_database

    return backup_database(*args, **kwargs)


def _restore_backup(*args: Any, **kwargs: Any) -> RestoreResult:
    from cloudbackup.restore import restore_backup

    return restore_backup(*args, **kwargs)


def _run_drill(*args: Any, **kwargs: Any) -> DrillResult:
    from cloudbackup.drill.run import run_drill

    return run_drill(*args, **kwargs)


def _find_backup(*args: Any, **kwargs: Any) -> CatalogEntry:
    from cloudbackup.catalog import find_backup

    return find_backup(*args, **kwargs)
