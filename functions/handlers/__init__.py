"""Thin Lambda adapters over the engine: parse the event into a model, call the engine, report.

Entry points (what the infrastructure points the functions at): `handlers.backup.handler` and
`handlers.restore.handler`. Imports here stay light so a cold start stays fast.
"""
