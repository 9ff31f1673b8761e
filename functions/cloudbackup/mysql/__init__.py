"""Everything that speaks SQL: dump (snapshot, objects, rows) and load (splitter, executor). No AWS here."""
