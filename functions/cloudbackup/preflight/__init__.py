"""Checks a restore makes before it changes anything: what the backup holds against what the target
server will create (binary-logging rules for stored programs, features of the other server flavour)."""
