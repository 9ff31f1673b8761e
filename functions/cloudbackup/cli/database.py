"""The database a command connects to: --db-url, with the password from --db-password-file when given.

A password in a file keeps it out of the process list (`ps` shows every argument, including a URL's
password) and out of the environment (MYSQL_PWD is readable by the same user in /proc).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from urllib.parse import urlsplit

from cloudbackup.dburl import DbSettings, parse_db_url
from cloudbackup.errors import UsageError


def db_from_args(args: argparse.Namespace) -> DbSettings:
    db = parse_db_url(args.db_url)
    path = getattr(args, "db_password_file", None)
    if path is None:
        return db
    if _has_password(args.db_url):
        raise UsageError("--db-password-file and a password in --db-url: give the password once")
    said = f"the password from --db-password-file {path}"
    if "MYSQL_PWD" in os.environ:
        said += "; MYSQL_PWD is ignored"
    return replace(db, password=read_password_file(path), password_from=said)


def read_password_file(path: str) -> str:
    """The file's text without its trailing newline (as `echo pw > FILE` writes it)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise UsageError(f"--db-password-file {path}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--db-password-file {path}: not UTF-8 text") from None
    return text.removesuffix("\n").removesuffix("\r")


def _has_password(url: str) -> bool:
    try:
        return urlsplit(url).password is not None
    except ValueError:
        return False  # parse_db_url has reported the URL already
