"""A small database with tables, rows, a trigger, a view, a routine (and a sequence on MariaDB), and
ways to damage its backup: a flipped byte, or rows rewritten inside a frame with the checksums redone."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from cloudbackup.catalog import CatalogEntry, find_backup
from cloudbackup.format.frames import compress_frame
from cloudbackup.format.manifest import Frame, Manifest
from cloudbackup.verify import decode
from tests.fixtures.mariadb import flavour, run_sql

SCHEMA = [
    "CREATE TABLE item (id int auto_increment primary key, name varchar(40), price double, body blob)",
    "CREATE TABLE tag (name varchar(20) primary key, note text)",
    "CREATE TABLE log (at int, what varchar(50))",  # no key: read in scan order
    "CREATE TRIGGER item_ai AFTER INSERT ON item FOR EACH ROW INSERT INTO log VALUES (NEW.id, NEW.name)",
    "CREATE VIEW v_item AS SELECT id, name FROM item",
    "CREATE FUNCTION f_twice(x int) RETURNS int DETERMINISTIC RETURN x * 2",
]


def make_store_db(settings, database: str, rows: int = 300) -> None:
    statements = list(SCHEMA)
    if flavour(settings) == "mariadb":
        statements.append("CREATE SEQUENCE seq START WITH 5")
    values = ",".join(f"('item{i:04d}', {i}.25, X'{i:04x}00ff')" for i in range(rows))
    statements += [
        f"INSERT INTO item (name, price, body) VALUES {values}",
        "DELETE FROM item WHERE id > 290",  # AUTO_INCREMENT stays past the last row
        "INSERT INTO tag VALUES ('alpha', 'first; ''quoted'' \\\\ and a\nnewline'), ('beta', NULL)",
    ]
    run_sql(settings, database, *statements)


def manifest_path(entry: CatalogEntry) -> Path:
    data = entry.store.root / entry.manifest.data.key  # type: ignore[attr-defined]
    return data.with_name(data.name.split(".", 1)[0] + ".manifest.json")


def write_manifest(entry: CatalogEntry, manifest: Manifest) -> CatalogEntry:
    manifest_path(entry).write_bytes(manifest.to_json())
    return find_backup([entry.store], manifest.id)


def flip_byte(entry: CatalogEntry, table: str) -> None:
    path = entry.store.root / entry.manifest.data.key  # type: ignore[attr-defined]
    data = bytearray(path.read_bytes())
    frame = next(f for f in entry.manifest.frames if f.kind == "table" and f.name == table)
    data[frame.offset + frame.length // 2] ^= 0x01
    path.write_bytes(bytes(data))


def tamper_rows(entry: CatalogEntry, table: str, old: bytes, new: bytes) -> CatalogEntry:
    """Rewrite `old` as `new` in `table`'s rows, recompress its frame, and redo the frame index (with
    its raw length), size and SHA-256 in the manifest: only a proof of content can tell."""
    return rewrite_frame(entry, lambda f: f.kind == "table" and f.name == table, old, new)


def rewrite_frame(
    entry: CatalogEntry, chosen: Callable[[Frame], bool], old: bytes, new: bytes
) -> CatalogEntry:
    """The backup with `old` written as `new` (once) in the frame `chosen` picks, recompressed, with the
    frame index (raw length included), size and SHA-256 redone: as consistent as one this tool made."""
    manifest = entry.manifest
    path = entry.store.root / manifest.data.key  # type: ignore[attr-defined]
    data = path.read_bytes()
    out, frames, at = [], [], 0
    for frame in sorted(manifest.frames, key=lambda f: f.offset):
        body = data[frame.offset : frame.offset + frame.length]
        raw_length = frame.raw_length
        if chosen(frame):
            raw = b"".join(decode(manifest.compression, [body]))
            assert raw.count(old) == 1, f"{old!r} not once in the {frame.kind} frame {frame.name!r}"
            raw_length += len(new) - len(old)
            body = compress_frame(manifest.compression, raw.replace(old, new))
        out.append(body)
        frames.append(replace(frame, offset=at, length=len(body), raw_length=raw_length))
        at += len(body)
    blob = b"".join(out)
    path.write_bytes(blob)
    sha = hashlib.sha256(blob).hexdigest()
    rewritten = replace(manifest, frames=frames, data=replace(manifest.data, size=len(blob), sha256=sha))
    return write_manifest(entry, rewritten)


def without_digests(entry: CatalogEntry) -> CatalogEntry:
    """The manifest as a backup made before content digests wrote it (no `sha256` per table)."""
    document = json.loads(manifest_path(entry).read_bytes())
    for item in document["frames"] + document["tables"]:
        item.pop("sha256", None)
    manifest_path(entry).write_text(json.dumps(document))
    return find_backup([entry.store], entry.manifest.id)
