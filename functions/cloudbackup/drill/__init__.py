"""Restore drills: restore a backup into a scratch database, prove it against the backup, drop it."""
