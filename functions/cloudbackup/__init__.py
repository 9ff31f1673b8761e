"""cloudbackup: MySQL/MariaDB backups that live in S3. The engine knows nothing of Lambda."""

__version__ = "0.1.0"
