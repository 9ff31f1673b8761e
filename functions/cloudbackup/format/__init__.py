"""Backup format v1: object keys, compression frames and the manifest (the commit point)."""
