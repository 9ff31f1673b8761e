"""The two kinds of failure every entry point reports as one line: bad usage and a failed operation."""


class CloudBackupError(Exception):
    """An expected failure: its message is one clear line for the operator."""

    exit_code = 1


class UsageError(CloudBackupError):
    """Bad input (flags, URL, unknown database, unreachable server, bad credentials): exit code 2."""

    exit_code = 2


class OperationError(CloudBackupError):
    """A failed operation (dump, upload, restore, verification): exit code 1."""

    exit_code = 1


class ObjectExists(OperationError):
    """A store refused a write: the key exists, or another write of it is under way (objects are written
    only if absent). Whoever races for a key can tell losing the race from a failed write."""


class IntegrityError(OperationError):
    """A backup object does not match its manifest (checksum, size, truncation)."""


class Stopped(OperationError):
    """The caller's should_stop() asked a run to stop, and it did at a safe point: nothing of it was
    kept and nothing it was to replace was touched. Its message says what was left as it was."""
