"""Point-in-time recovery: the server's binary log archived beside the backups, and replayed to a time."""
