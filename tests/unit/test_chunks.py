"""Which columns a range read measures so that no row's literal passes what GROUP_CONCAT keeps."""

from cloudbackup.mysql.chunks import GROUP_CONCAT_ROW_MAX, measured_columns
from cloudbackup.mysql.rows import Column


def col(data_type: str, name: str = "c") -> Column:
    return Column(name=name, data_type=data_type, charset="utf8mb4", nullable=True)


def test_a_table_without_long_columns_measures_nothing():
    measured, _ = measured_columns([col("int", "id"), col("varchar", "v"), col("text", "t")])
    assert measured == []


def test_long_columns_are_measured_with_room_left_for_the_rest_of_the_row():
    columns = [col("int", "id"), col("text", "t"), col("longblob", "b"), col("json", "j")]
    columns.append(col("geometry", "g"))
    measured, most = measured_columns(columns)
    assert [c.name for c in measured] == ["b", "j", "g"]
    # the rest of the row at its largest (row limit and a TEXT twice over, each column's extras)
    assert 2 * most + 2 * 65535 + 2 * 65535 + 128 * len(columns) <= GROUP_CONCAT_ROW_MAX
    assert most > 8_000_000


def test_texts_enough_to_pass_the_bound_together_are_measured_too():
    columns = [col("int", "id"), *(col("text", f"t{i}") for i in range(130)), col("mediumtext", "m")]
    measured, most = measured_columns(columns)
    assert {c.name for c in measured} == {f"t{i}" for i in range(130)} | {"m"}
    assert 2 * most + 2 * 65535 + 128 * len(columns) <= GROUP_CONCAT_ROW_MAX
