"""What --backup names: a backup in a store (an id, a prefix of one, `latest`) or a dump file's path."""

from __future__ import annotations

import os
import re

from cloudbackup.errors import UsageError

# A backup id is 12 hex digits, given whole or by 4 or more of its first ones.
_ID_LIKE = re.compile(r"[0-9a-fA-F]{4,}")


def names_a_file(backup: str) -> bool:
    """Whether --backup names a dump file rather than a backup in a store: a path, a dump's name, or
    anything there by that name (`exports`, a directory, is said to be one, as `./exports` is) that
    cannot be `latest` or an id."""
    if os.path.isfile(backup) or os.sep in backup or backup.endswith((".sql", ".gz", ".zst")):
        return True
    return os.path.exists(backup) and backup != "latest" and not _ID_LIKE.fullmatch(backup)


def backup_in_a_store(backup: str, command: str) -> None:
    """verify and show read a manifest: given a path, "no backup with id './shop.sql'" hid the mistake."""
    if names_a_file(backup):
        raise UsageError(
            f"--backup {backup} is a path, not a backup id: {command} reads a backup in a store "
            "(an id, or latest); `restore --backup FILE` restores a dump file"
        )
