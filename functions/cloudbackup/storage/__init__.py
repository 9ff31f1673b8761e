"""Where backups live: one small Storage protocol, an S3 and a local implementation. No SQL here."""
