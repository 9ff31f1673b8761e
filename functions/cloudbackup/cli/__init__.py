"""The `cloudbackup` command: flags and output only; the work happens in the engine."""
