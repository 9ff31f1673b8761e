"""MySQL's orphan-object protection (8.0.16+), decided before an in-place restore changes anything.

An account without SYSTEM_USER may not drop a view, routine or event whose DEFINER holds SYSTEM_USER
(directly or through any role granted to it, active or not), nor create any object, a trigger too,
with such a DEFINER. An in-place restore drops the target's views, routines and events only after its
tables are swapped in, and keeps copies of them (and of the triggers) under their definers: found
there, the refusal would leave the target half replaced. So it is decided here, from what the account
may learn, changing nothing: its own direct grants (information_schema); for an account that may set
any definer, the server's own answer to creating a procedure with that DEFINER in a database that does
not exist (it checks SET_ANY_DEFINER, then SYSTEM_USER, then the database: error 1227 naming
SYSTEM_USER, or 1049); else the definers' grants and roles (`mysql.global_grants`, `mysql.role_edges`,
`mandatory_roles`), every role granted counted, active or not, as the server counts them (and a
mandatory one, to be safe). Where none of these
answers, a definer other than the account itself is an unknown, and an unknown refuses too: only a
known answer may let the swap start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pymysql

from cloudbackup.errors import OperationError
from cloudbackup.mysql.identifiers import quote_identifier
from cloudbackup.mysql.server_text import query, raw_results, text
from cloudbackup.mysql.staging import staging_prefix

ER_TABLEACCESS_DENIED = 1142
ER_DBACCESS_DENIED = 1044
ER_BAD_DB = 1049
ER_SPECIFIC_ACCESS_DENIED = 1227
PRIVILEGE = "SYSTEM_USER"


@dataclass(frozen=True)
class Owned:
    kind: str  # view | function | procedure | event | trigger
    name: str
    definer: str  # user@host, as information_schema gives it


def server_has_system_user(cur: Any) -> bool:
    """MySQL 8.0.16+ (MariaDB has no SYSTEM_USER)."""
    cur.execute("SELECT VERSION()")
    version = str(cur.fetchone()[0])
    if "mariadb" in version.lower():
        return False
    numbers = tuple(int(part) for part in version.split("-")[0].split(".")[:3] if part.isdigit())
    return numbers >= (8, 0, 16)


def owned_objects(
    cur: Any, database: str, *, with_triggers: bool, tables: list[str] | None = None
) -> list[Owned]:
    """The views, routines and events of `database` (and its triggers, when asked) with their definers;
    with `tables` (a restore of some tables, which replaces no other object), only the triggers of those."""
    parts: list[str] = []
    args: list[Any] = []
    if tables is None:
        parts += [
            "SELECT 'view' AS kind, table_name AS name, definer AS definer FROM information_schema.views "
            "WHERE table_schema = %s",
            "SELECT LOWER(routine_type), routine_name, definer FROM information_schema.routines "
            "WHERE routine_schema = %s",
            "SELECT 'event', event_name, definer FROM information_schema.events WHERE event_schema = %s",
        ]
        args += [database] * 3
    if with_triggers:
        only = "" if tables is None else f" AND event_object_table IN ({', '.join(['%s'] * len(tables))})"
        parts.append(
            "SELECT 'trigger' AS kind, trigger_name AS name, definer AS definer "
            f"FROM information_schema.triggers WHERE trigger_schema = %s{only}"
        )
        args += [database, *(tables or [])]
    if not parts or tables == []:
        return []
    with raw_results(cur):
        rows = query(cur, " UNION ALL ".join(parts) + " ORDER BY 1, 2", args)
    return [Owned(text(r["kind"]), text(r["name"]), text(r["definer"])) for r in rows]


def _account(definer: str) -> tuple[str, str]:
    """(user, host) of `user@host` (a user name may hold an @, a host not); hosts compare in lower case."""
    user, _, host = definer.rpartition("@")
    return user, host.lower()


def current_account(cur: Any) -> tuple[str, str]:
    cur.execute("SELECT CURRENT_USER()")
    return _account(str(cur.fetchone()[0]))


def holds_it_directly(cur: Any, account: tuple[str, str]) -> bool:
    """Whether `account` (the restoring one) was granted SYSTEM_USER itself: information_schema shows an
    account its own grants. (Held only through a role it says no: the definers then decide.)"""
    user, host = account
    grantee = "'{}'@'{}'".format(user.replace("'", "\\'"), host)
    cur.execute(
        "SELECT COUNT(*) FROM information_schema.user_privileges "
        "WHERE privilege_type = %s AND LOWER(grantee) = LOWER(%s)",
        (PRIVILEGE, grantee),
    )
    return int(cur.fetchone()[0]) > 0


def system_accounts(cur: Any) -> set[tuple[str, str]] | None:
    """Every account holding SYSTEM_USER, itself or through a role (granted to it, or mandatory for all);
    None when the account may not read the grant tables."""
    try:
        cur.execute("SELECT user, host FROM mysql.global_grants WHERE priv = %s", (PRIVILEGE,))
        holders = {(str(u), str(h).lower()) for u, h in cur.fetchall()}
        cur.execute("SELECT from_user, from_host, to_user, to_host FROM mysql.role_edges")
        edges = [(_account(f"{fu}@{fh}"), _account(f"{tu}@{th}")) for fu, fh, tu, th in cur.fetchall()]
    except pymysql.err.MySQLError as exc:
        if exc.args and exc.args[0] in (ER_TABLEACCESS_DENIED, ER_DBACCESS_DENIED):
            return None
        raise
    cur.execute("SELECT @@GLOBAL.mandatory_roles")
    if any(_account(role) in holders for role in _mandatory_roles(str(cur.fetchone()[0] or ""))):
        return {("", "*")}  # every account holds it through a mandatory role
    # A role holding it passes it to whoever is granted that role, transitively.
    changed = True
    while changed:
        changed = False
        for role, grantee in edges:
            if role in holders and grantee not in holders:
                holders.add(grantee)
                changed = True
    return holders


def _mandatory_roles(setting: str) -> list[str]:
    """`mandatory_roles` (`r1`@`%`,r2) as user@host names (host % when not given)."""
    names = []
    for part in (p.strip() for p in setting.split(",") if p.strip()):
        user, at, host = part.replace("`", "").replace("'", "").rpartition("@")
        names.append(f"{user}@{host}" if at else f"{host}@%")
    return names


def server_says(cur: Any, definer: str, absent_database: str) -> bool | None:
    """Whether the server refuses this account an object with DEFINER `definer` for want of SYSTEM_USER,
    asked by creating a procedure in `absent_database`, a database that does not exist (so nothing is
    created); None when the server does not say (the account may not set another definer, or may not
    name one that does not exist, or has no privilege on that database)."""
    cur.execute("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (absent_database,))
    if cur.fetchone()[0]:
        return None
    user, host = _account(definer)
    try:
        cur.execute(
            f"CREATE DEFINER = %s@%s PROCEDURE {quote_identifier(absent_database)}.p() SELECT 1", (user, host)
        )
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args else 0
        if code == ER_BAD_DB:
            return False
        if code == ER_SPECIFIC_ACCESS_DENIED and PRIVILEGE in str(exc.args[1:]):
            return True
        return None
    cur.execute(f"DROP PROCEDURE {quote_identifier(absent_database)}.p")  # (it came to exist meanwhile)
    return None


def blocked_objects(
    cur: Any, database: str, absent_database: str, *, with_triggers: bool, tables: list[str] | None = None
) -> tuple[list[Owned], list[Owned]]:
    """The objects of `database` this account would fail to replace (or keep a copy of) for want of
    SYSTEM_USER: (those whose definer holds it, those for which it cannot tell). `absent_database`: a
    database name the account has privileges on, for server_says."""
    if not server_has_system_user(cur):
        return [], []
    me = current_account(cur)
    if holds_it_directly(cur, me):
        return [], []
    owned = owned_objects(cur, database, with_triggers=with_triggers, tables=tables)
    others = [o for o in owned if _account(o.definer) != me]
    if not others:
        return [], []
    said = {d: server_says(cur, d, absent_database) for d in sorted({o.definer for o in others})}
    if None in said.values():
        holders = system_accounts(cur)
        for definer, answer in said.items():
            if answer is None and holders is not None:
                said[definer] = ("", "*") in holders or _account(definer) in holders
    blocked = [o for o in others if said[o.definer]]
    unknown = [o for o in others if said[o.definer] is None]
    return blocked, unknown


def refuse_unreplaceable(
    cur: Any, target: str, user: str, *, with_triggers: bool, tables: list[str] | None = None
) -> None:
    """Raise one line naming the objects of `target` an in-place restore (of `tables`, or whole) by this
    account (`user`, as the restore was given it) could not replace or keep a copy of, and the way out."""
    # (a name an in-place restore's account has privileges on, as its staging databases' is)
    absent = staging_prefix(target) + "probe"
    blocked, unknown = blocked_objects(cur, target, absent, with_triggers=with_triggers, tables=tables)
    refused = f"restore into {target} refused before any change: "
    if blocked:
        verb = "holds" if len({o.definer for o in blocked}) == 1 else "hold"
        raise OperationError(
            f"{refused}{_by_definer(blocked)} {verb} SYSTEM_USER, and MySQL lets only an account holding it "
            f"too replace such an object ({user} does not): restore in place as an account with "
            "SYSTEM_USER, or into a new database (--target-database)"
        )
    if unknown:
        raise OperationError(
            f"{refused}MySQL lets only an account holding SYSTEM_USER replace an object whose definer holds "
            f"it, and {user} may not read whether {_by_definer(unknown)} does: grant {user} SELECT ON "
            "mysql.global_grants and mysql.role_edges, or restore into a new database (--target-database)"
        )


def _by_definer(objects: list[Owned]) -> str:
    """`root@localhost (definer of view v, function f)`, each definer once."""
    names: dict[str, list[str]] = {}
    for o in objects:
        names.setdefault(o.definer, []).append(f"{o.kind} {o.name}")
    return ", ".join(f"{definer} (definer of {', '.join(of)})" for definer, of in names.items())
