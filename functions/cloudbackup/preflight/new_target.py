"""Whether the restoring account may publish into a new target database and take it away again.

A restore into a database that does not exist yet creates it at the swap (mysql/swap.py), moves the
staging tables in with one RENAME TABLE (which needs CREATE and INSERT on the new names), and drops it
again if that fails. An account that may create the database but not drop it would leave it behind,
empty, after any failure there: so a new target is refused before anything changes unless the account
holds all three on it.

Read from information_schema's lists of the account's own privileges (global, and per database, whose
names are LIKE patterns as granted). Privileges that come through a role are not listed there as the
account's: with a role active the server is left to tell, as before.
"""

from __future__ import annotations

from typing import Any

from cloudbackup.errors import OperationError

NEEDED = ("CREATE", "INSERT", "DROP")


def missing_for_new_target(cur: Any, target: str) -> list[str]:
    """The privileges of NEEDED the current account lacks on `target` (empty when it has them, or when
    it cannot be told: an active role)."""
    cur.execute("SELECT CURRENT_USER(), CURRENT_ROLE()")
    user, role = cur.fetchone()
    if role is not None and str(role) not in ("NONE", ""):
        return []
    name, _, host = str(user).rpartition("@")
    grantee = f"'{name}'@'{host}'"
    marks = ", ".join(["%s"] * len(NEEDED))
    cur.execute(
        "SELECT privilege_type FROM information_schema.user_privileges "
        f"WHERE grantee = %s AND privilege_type IN ({marks})",
        (grantee, *NEEDED),
    )
    held = {str(p) for (p,) in cur.fetchall()}
    cur.execute(
        "SELECT privilege_type FROM information_schema.schema_privileges "
        f"WHERE grantee = %s AND privilege_type IN ({marks}) AND %s LIKE table_schema",
        (grantee, *NEEDED, target),
    )
    held |= {str(p) for (p,) in cur.fetchall()}
    return [p for p in NEEDED if p not in held]


def refuse_unremovable_new_target(cur: Any, user: str, target: str) -> None:
    """OperationError (one line, nothing changed) when the account lacks any of NEEDED on `target`."""
    missing = missing_for_new_target(cur, target)
    if missing:
        raise OperationError(
            f"restore into {target} refused before any change: {user} lacks {', '.join(missing)} on the "
            f"new database {target}, which a restore needs to publish into it (CREATE, INSERT) and to take "
            f"it away again should publishing fail (DROP); grant them on `{target}`.*"
        )
