"""Turn the STORAGE flags into the store new backups go to and the stores that are read."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field

from cloudbackup.storage.base import Storage
from cloudbackup.storage.local import LocalStorage

DEFAULT_DATA = "~/.cloudbackup"


@dataclass
class StoreSet:
    write: Storage
    read: list[Storage] = field(default_factory=list)


def data_dir(args: argparse.Namespace) -> str:
    return str(args.data or os.environ.get("CLOUDBACKUP_DATA") or DEFAULT_DATA)


def stores_from_args(args: argparse.Namespace) -> StoreSet:
    """Local only for now; S3 (`--backup-bucket`) plugs in here."""
    local = LocalStorage(data_dir(args))
    return StoreSet(write=local, read=[local])
