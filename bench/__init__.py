"""Benchmarks against the peers (mysqldump, mydumper, the mysql client), measured in the same run."""
