"""Small documents of the store (a manifest, a segment index) read with a cap on their size.

Such a document is parsed whole, so it is held whole: an object put in its place that holds GBs (by
mistake, or by anyone who may write to the bucket) would fill the memory before any check ran. Read in
chunks instead, and refused as soon as it is longer than any real one."""

from __future__ import annotations

from cloudbackup.storage.base import Storage


class TooLarge(ValueError):
    """The document is longer than its cap: not one this cloudbackup wrote."""


def get_bounded(store: Storage, key: str, max_bytes: int) -> bytes:
    """The object at `key`, read whole; TooLarge as soon as more than `max_bytes` of it are read."""
    data = bytearray()
    chunks = store.iter_range(key)
    try:
        for chunk in chunks:
            data += chunk
            if len(data) > max_bytes:
                raise TooLarge(f"it is more than {max_bytes:,} bytes, longer than any cloudbackup writes")
    finally:
        close = getattr(chunks, "close", None)  # (a generator: its file or response closed now)
        if close is not None:
            close()
    return bytes(data)
