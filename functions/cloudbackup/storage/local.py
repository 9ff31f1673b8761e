"""Backups in a local directory: the same keys as S3, written as `*.partial`, then fsync + link.

Like the S3 store's conditional writes, nothing here ever replaces an existing object: the finished
file is hard-linked to its key (which fails if the key exists), never renamed over it.

Backups hold every row of a database: the directories this store creates are 0700 and its files 0600,
whatever the umask, so other users of the machine cannot read them.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from cloudbackup.errors import ObjectExists, OperationError, UsageError
from cloudbackup.storage.base import ObjectInfo, Sha256Counter, StoreKind, WrittenObject

PARTIAL_SUFFIX = ".partial"
READ_CHUNK = 1 << 20
# Written data is synced to disk every so often while the dump runs (on the writer's thread), so the
# fsync that commits the object has only the last part left to wait for.
SYNC_EVERY = 16 << 20
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private_dirs(path: Path) -> None:
    """mkdir -p with mode 0700 for each directory it creates (mkdir's parents=True ignores the mode)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # made meanwhile by a concurrent writer
        directory.chmod(PRIVATE_DIR)  # the umask may have taken bits off; 0700 is the point


def _private_opener(path: str, flags: int) -> int:
    return os.open(path, flags, PRIVATE_FILE)


class LocalWriter:
    def __init__(self, final: Path, key: str) -> None:
        self._final = final
        self._partial = final.with_name(final.name + PARTIAL_SUFFIX)
        self._key = key
        self._counter = Sha256Counter()
        self._unsynced = 0
        try:
            make_private_dirs(final.parent)
            self._file = open(self._partial, "xb", opener=_private_opener)  # noqa: SIM115 - closed in commit/abort
        except FileExistsError:
            raise ObjectExists(f"{self._partial} exists: another write of {key} is under way") from None
        except OSError as exc:
            raise OperationError(f"cannot write {self._partial}: {exc.strerror}") from None

    def write(self, data: bytes) -> None:
        try:
            self._file.write(data)
            self._unsynced += len(data)
            if self._unsynced >= SYNC_EVERY:
                self._file.flush()
                os.fdatasync(self._file.fileno())
                self._unsynced = 0
        except OSError as exc:
            self.abort()
            raise OperationError(f"cannot write {self._partial}: {exc.strerror}") from None
        self._counter.update(data)

    def commit(self) -> WrittenObject:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            _publish(self._partial, self._final)
            _fsync_dir(self._final.parent)
        except FileExistsError:
            self.abort()
            raise ObjectExists(f"{self._final} already exists; backups are never overwritten") from None
        except OSError as exc:
            self.abort()
            raise OperationError(f"cannot write {self._final}: {exc.strerror}") from None
        return WrittenObject(key=self._key, size=self._counter.size, sha256=self._counter.hexdigest())

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._partial.unlink(missing_ok=True)


class LocalStorage:
    kind: StoreKind = "local"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()

    def check_writable(self) -> None:
        try:
            make_private_dirs(self.root)
        except NotADirectoryError:  # a path under a file (backups.tar/daily)
            raise UsageError(f"--data {self.root} is not a directory") from None
        except OSError as exc:
            raise UsageError(f"--data {self.root} is not usable: {exc.strerror}") from None
        if not self.root.is_dir():  # an existing file: "not writable" sent the operator to chmod it
            raise UsageError(f"--data {self.root} is not a directory")
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise UsageError(f"--data {self.root} is not writable")

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise UsageError(f"key {key!r} escapes the data directory")
        return path

    def open_writer(self, key: str) -> LocalWriter:
        return LocalWriter(self._path(key), key)

    def put_bytes(self, key: str, data: bytes) -> None:
        writer = self.open_writer(key)
        try:
            writer.write(data)
            writer.commit()
        except BaseException:
            # An interrupt (Ctrl-C, SIGTERM) mid-write: the partial file goes with it, as an error's does
            writer.abort()
            raise

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise OperationError(f"{self.location(key)} does not exist") from None

    def iter_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        path = self._path(key)
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed below, the generator owns it
        except FileNotFoundError:
            raise OperationError(f"{path} does not exist") from None
        with f:
            f.seek(start)
            remaining = length
            while remaining is None or remaining > 0:
                chunk = f.read(READ_CHUNK if remaining is None else min(READ_CHUNK, remaining))
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        # Only folders that can hold such a key are read, and a name is matched before its file is
        # looked at: checking for one key (archive, catalog) stays cheap in a store of thousands.
        head = prefix.rpartition("/")[0]
        if head.startswith("/") or ".." in head.split("/"):
            return  # no key starts so: keys are relative, without `..`
        yield from self._list_folder(self.root / head, f"{head}/" if head else "", prefix)

    def _list_folder(self, folder: Path, base: str, prefix: str) -> Iterator[ObjectInfo]:
        """The objects under `folder`, whose keys begin with `base`, that start with `prefix`."""
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            key = base + entry.name
            if entry.is_dir():
                inner = key + "/"
                if not entry.is_symlink() and (inner.startswith(prefix) or prefix.startswith(inner)):
                    yield from self._list_folder(Path(entry.path), inner, prefix)
            elif (
                key.startswith(prefix) and not entry.name.endswith(PARTIAL_SUFFIX) and not entry.is_symlink()
            ):
                # (A link is no object of this store, which only ever writes files: a link at a backup's data
                # key to another backup's data object would make that object this backup's to restore and,
                # once pruned, to delete. Without it, that manifest's data object is missing: refused.)
                try:
                    stat = entry.stat()
                except FileNotFoundError:
                    continue  # deleted since the folder was read (a prune in another process)
                yield ObjectInfo(
                    key=key, size=stat.st_size, last_modified=datetime.fromtimestamp(stat.st_mtime, UTC)
                )

    def _own_path(self, key: str) -> Path:
        """`key`'s own entry in its folder: a symbolic link there is the link, never the file it points at."""
        path = self.root / key
        folder = path.parent.resolve()
        if not folder.is_relative_to(self.root) or path.name in ("", ".", ".."):
            raise UsageError(f"key {key!r} escapes the data directory")
        return folder / path.name

    def delete(self, key: str) -> None:
        # Never through a link: deleting one backup must not delete the object it points at (another's).
        path = self._own_path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:  # a read-only folder, an immutable file: one line, and prune goes on
            raise OperationError(f"cannot delete {path}: {exc.strerror}") from None

    def abandoned_writes(self, untouched_since: datetime) -> tuple[ObjectInfo, ...]:
        # A live write appends as it goes: a partial file not written to for a long while is a
        # killed process's (SIGKILL, a crash, a lost machine), which no abort() removed.
        found = []
        for folder, _dirs, names in os.walk(self.root):
            for name in names:
                if not name.endswith(PARTIAL_SUFFIX):
                    continue
                path = Path(folder, name)
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue  # renamed since the listing: a live write that just finished (or aborted)
                modified = datetime.fromtimestamp(stat.st_mtime, UTC)
                if modified < untouched_since:
                    key = path.relative_to(self.root).as_posix().removesuffix(PARTIAL_SUFFIX)
                    found.append(ObjectInfo(key=key, size=stat.st_size, last_modified=modified))
        return tuple(sorted(found, key=lambda o: o.key))

    def drop_abandoned(self, key: str) -> None:
        path = self._path(key)
        partial = path.with_name(path.name + PARTIAL_SUFFIX)
        try:
            partial.unlink(missing_ok=True)
        except OSError as exc:
            raise OperationError(f"cannot delete {partial}: {exc.strerror}") from None

    def location(self, key: str) -> str:
        return str(self._path(key))

    def describe(self) -> str:
        return f"local store {self.root}"

    def absence(self) -> str:
        if self.root.is_dir():
            return ""
        return " (not a directory)" if self.root.exists() else " (no such directory)"


def _publish(partial: Path, final: Path) -> None:
    """Give the finished file its key, failing with FileExistsError if the key exists."""
    try:
        os.link(partial, final)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        # No hard links here (some network filesystems): claim the name first, then move over the claim.
        os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.replace(partial, final)
        return
    partial.unlink()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
