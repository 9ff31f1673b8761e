"""What --backup names: a backup in a store (an id, a prefix of one, `latest`) or a dump file's path."""

from __future__ import annotations

import os
import re

from cloudbackup.errors import UsageError

# A backup id is 12 hex digits, given whole or by 4 or more of its first ones.
_ID_LIKE = re.compile(r"[0-9a-fA-F]{4,}")


def names_a_file(backup: str) -> bool:
    """Whether --backup names a dump file rather than a backup in a store: a path, a dump's name, or
    anything there by that name (`exports`, a directory, is said to be one, as `./exports` is).

    `latest` and an id (or a prefix of one) always name a backup, as the contract's `--backup
    ID|latest` says, whatever the directory the command runs in holds: a `latest` link to the newest
    dump there must not turn a restore of the store's newest backup into one of that file. Such a
    file is named as a path (`./latest`)."""
    if os.sep in backup or backup.endswith((".sql", ".gz", ".zst")):
        return True
    return os.path.exists(backup) and backup != "latest" and not _ID_LIKE.fullmatch(backup)


def backup_in_a_store(backup: str, command: str) -> None:
    """verify and show read a manifest: given a path, "no backup with id './shop.sql'" hid the mistake."""
    if names_a_file(backup):
        raise UsageError(
            f"--backup {backup} is a path, not a backup id: {command} reads a backup in a store "
            "(an id, or latest); `restore --backup FILE` restores a dump file"
        )


def file_named_like(backup: str) -> str:
    """What to add when `latest` or an id matched no backup while a file of that name is here: that
    file is restored when given as a path."""
    if os.path.isfile(backup) and not names_a_file(backup):
        return f" (a file named {backup} is here: give it as ./{backup} to restore that file)"
    return ""
