"""A binlog segment's index as read from the bucket: the optional earliest logged time."""

from __future__ import annotations

import json

import pytest

from cloudbackup.binlog.segments import SegmentIndex

OLDER_INDEX = {
    "format": 1,
    "seq": 3,
    "source": "orders-db",
    "flavour": "mariadb",
    "server_id": 1,
    "binlog_file": "binlog.000002",
    "first_pos": 4,
    "end_pos": 900,
    "rotated_to": None,
    "first_event_time": "2026-06-15T12:00:00+00:00",
    "last_event_time": "2026-06-15T12:05:00+00:00",
    "first_gtid": "0-1-10",
    "last_gtid": "0-1-12",
    "events": 12,
    "key": "orders-db/_binlog/0000000003-feed.binlog",
    "size": 896,
    "sha256": "0" * 64,
    "format_description": "",
    "archived_at": "2026-06-15T12:05:01+00:00",
}


def test_an_index_written_before_the_earliest_logged_time_was_recorded_reads_as_not_known():
    # Given an index without earliest_logged_time (written by an older archiver)
    # When it is read
    index = SegmentIndex.from_json(json.dumps(OLDER_INDEX).encode())
    # Then its earliest logged time is not known (a replay reading on reads the segment)
    assert index.earliest_logged is None


def test_an_index_records_its_earliest_logged_time_and_reads_it_back():
    # Given an index with the earliest time a transaction begun in it was logged with
    document = {**OLDER_INDEX, "earliest_logged_time": "2026-06-15T12:01:00+00:00"}
    # When it is read
    index = SegmentIndex.from_json(json.dumps(document).encode())
    # Then that time is read back, and written again as it was
    assert index.earliest_logged is not None
    assert index.earliest_logged.isoformat() == "2026-06-15T12:01:00+00:00"
    assert json.loads(index.to_json())["earliest_logged_time"] == "2026-06-15T12:01:00+00:00"


@pytest.mark.parametrize("value", ["2026-06-15T12:01:00", "yesterday", 1781524860])
def test_an_earliest_logged_time_that_is_not_a_time_with_its_zone_is_refused(value):
    # Given an index whose earliest_logged_time is not a time with its zone (rewritten in the bucket)
    document = {**OLDER_INDEX, "earliest_logged_time": value}
    # When it is read, Then it is refused in one line naming the field
    with pytest.raises(ValueError, match="earliest_logged_time") as refused:
        SegmentIndex.from_json(json.dumps(document).encode())
    assert "\n" not in str(refused.value)


def test_an_index_written_by_a_later_version_with_a_field_this_one_does_not_know_still_reads():
    # Given an index with a field added after this version (an upgraded archiver, an older command line)
    later = {**OLDER_INDEX, "some_later_field": {"any": "value"}}
    # When it is read; Then what this version knows is read, the rest passed over
    index = SegmentIndex.from_json(json.dumps(later).encode())
    assert (index.seq, index.end_pos) == (3, 900)
