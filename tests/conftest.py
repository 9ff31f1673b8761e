"""Shared fixtures. Each concern keeps its fixtures in tests/fixtures/<concern>.py, registered here."""

pytest_plugins = [
    "tests.fixtures.mariadb",
    "tests.fixtures.every_type",
    "tests.fixtures.aws",
    "tests.fixtures.stores",
    "tests.fixtures.faulty_proxy",
    "tests.fixtures.lambda_runtime",
    "tests.fixtures.fargate_task",
    "tests.fixtures.binlog_server",
    "tests.fixtures.tls_server",
]
