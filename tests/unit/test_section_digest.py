"""The table section digest sees content, not how the dumper happened to pack or number it."""

from __future__ import annotations

from cloudbackup.format.digest import SectionDigest, canonical_ddl

DDL = (
    b"CREATE TABLE `t` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n"
    b") ENGINE=InnoDB AUTO_INCREMENT=7;\n"
)
PREFIX = b"INSERT INTO `t` (`id`,`name`) VALUES "
TRIGGERS = b"CREATE TRIGGER x AFTER INSERT ON t FOR EACH ROW SET @a = 1;\n"


def digest(*pieces: bytes) -> str:
    d = SectionDigest()
    for piece in pieces:
        d.update(piece)
    return d.hexdigest()


def insert(*rows: bytes) -> bytes:
    return PREFIX + b",".join(rows) + b";\n"


def test_rows_packed_into_other_statements_give_the_same_digest():
    one = digest(DDL, insert(b"(1,'a')", b"(2,'b')", b"(3,'c')"), TRIGGERS)
    two = digest(DDL, insert(b"(1,'a')"), insert(b"(2,'b')", b"(3,'c')"), TRIGGERS)
    assert one == two


def test_a_changed_or_reordered_row_changes_the_digest():
    good = digest(DDL, insert(b"(1,'a')", b"(2,'b')"))
    assert digest(DDL, insert(b"(1,'a')", b"(2,'c')")) != good
    assert digest(DDL, insert(b"(2,'b')", b"(1,'a')")) != good
    assert digest(DDL, insert(b"(1,'a')")) != good


def test_the_auto_increment_counter_and_a_redundant_character_set_do_not_count():
    moved = DDL.replace(b"AUTO_INCREMENT=7", b"AUTO_INCREMENT=12")
    assert digest(moved, insert(b"(1,'a')")) == digest(DDL, insert(b"(1,'a')"))
    assert b"NOT NULL AUTO_INCREMENT," in canonical_ddl(DDL)  # the column attribute stays
    column = b"`n` varchar(9) COLLATE utf8mb4_bin"
    assert canonical_ddl(column.replace(b"COLLATE", b"CHARACTER SET utf8mb4 COLLATE")) == column
    assert canonical_ddl(b"`n` varchar(9) CHARACTER SET latin1 COLLATE utf8mb4_bin") != column


def test_the_table_definition_and_triggers_count():
    base = digest(DDL, insert(b"(1,'a')"), TRIGGERS)
    assert digest(DDL.replace(b"int NOT NULL", b"bigint NOT NULL"), insert(b"(1,'a')"), TRIGGERS) != base
    assert digest(DDL, insert(b"(1,'a')")) != base


def test_the_object_fingerprint_ignores_row_order_and_packing_but_not_a_row():
    from cloudbackup.drill.sections import section_fingerprint

    rows = [b"(1,'a;(b)')", b"(2,'it''s')", b"(3,X'00FF')"]
    base = section_fingerprint([DDL, insert(*rows), TRIGGERS])
    assert section_fingerprint([DDL, insert(rows[2]), insert(rows[0], rows[1]), TRIGGERS]) == base
    assert section_fingerprint([DDL.replace(b"=7", b"=9"), insert(*rows), TRIGGERS]) == base
    assert section_fingerprint([DDL, insert(rows[0], rows[1], b"(3,X'00FE')"), TRIGGERS]) != base
    assert section_fingerprint([DDL, insert(rows[0], rows[1]), TRIGGERS]) != base
