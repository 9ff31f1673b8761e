"""Object keys: `{source}/{database}/{YYYY}/{MM}/{DD}/{YYYYMMDDTHHMMSSZ}-{id}.sql.zst` + `.manifest.json`.

Keys here are relative to a store's prefix (the S3 `s3://bucket/prefix` or the local data directory).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from cloudbackup.format.manifest import Compression, Manifest

MANIFEST_SUFFIX = ".manifest.json"
DATA_SUFFIXES: dict[str, str] = {"zstd": ".sql.zst", "gzip": ".sql.gz", "none": ".sql"}
_SAFE_SEGMENT = re.compile(r"[^A-Za-z0-9._$-]")


def new_backup_id() -> str:
    return secrets.token_hex(6)


def safe_segment(name: str) -> str:
    """A database or source name as one key segment: keep it readable, never a path separator."""
    cleaned = _SAFE_SEGMENT.sub("_", name)
    return cleaned if cleaned not in ("", ".", "..") else "_"


def backup_stem(source: str, database: str, started_at: datetime, backup_id: str) -> str:
    ts = started_at.astimezone(UTC)
    return f"{safe_segment(source)}/{safe_segment(database)}/{ts:%Y/%m/%d}/{ts:%Y%m%dT%H%M%SZ}-{backup_id}"


def data_key(stem: str, compression: Compression) -> str:
    return stem + DATA_SUFFIXES[compression]


# A data object's key, read loosely; data_key_stem keeps only what backup_stem and data_key would write.
_DATA_KEY = re.compile(
    r"([^/]+)/([^/]+)/\d{4}/\d{2}/\d{2}/(\d{8}T\d{6}Z)-([0-9a-z]{6,40})("
    + "|".join(map(re.escape, DATA_SUFFIXES.values()))
    + ")"
)


def data_key_stem(key: str) -> tuple[str, datetime] | None:
    """(backup stem, start time) of `key` when it is a data object's key exactly as backup_stem and
    data_key make it (written back from its parts, it is the same key); None for any other key."""
    m = _DATA_KEY.fullmatch(key)
    if m is None:
        return None
    try:
        started = datetime.strptime(m[3], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    stem = backup_stem(m[1], m[2], started, m[4])
    return (stem, started) if key == stem + m[5] else None


def manifest_key(stem: str) -> str:
    return stem + MANIFEST_SUFFIX


def is_manifest_key(key: str) -> bool:
    return key.endswith(MANIFEST_SUFFIX)


def key_mismatch(key: str, manifest: Manifest) -> str:
    """Why the manifest stored at `key` is not one this tool wrote there ("" when it is).

    A manifest is trusted only at the key its own source, database, start time and id give, and only
    with the data object beside it: otherwise a manifest planted under one source could claim another
    source's backups (prune would then count or delete them) or point at their data object.
    """
    stem = key.removesuffix(MANIFEST_SUFFIX)
    own_stem = backup_stem(manifest.source, manifest.database, manifest.started_at, manifest.id)
    if not key.endswith(MANIFEST_SUFFIX) or stem != own_stem:
        return (
            f"it names source {manifest.source!r}, database {manifest.database!r} and id {manifest.id!r}, "
            f"whose manifest key is {manifest_key(own_stem)}"
        )
    own_data = data_key(stem, manifest.compression)
    if manifest.data.key != own_data:
        return f"its data key {manifest.data.key!r} is not its own {own_data!r}"
    return ""
