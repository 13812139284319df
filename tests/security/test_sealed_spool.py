"""The sealed spool gives back exactly what was written, leaves no file behind and nothing
readable on disk, and refuses a file that was changed or cut short."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pytest

from opendpo.security.sealed_spool import CHUNK_BYTES, SealedSpool, SpoolDamaged

MARKER = b"jane.example@example.com,07700 900123\r\n"


def on_disk(spool: SealedSpool) -> BinaryIO:
    # The spool's own file: it has no name to open it by.
    file: BinaryIO = spool._file
    return file


def test_what_was_written_comes_back_exactly_across_chunks(tmp_path: Path) -> None:
    pieces = [MARKER * 3, b"", b"x" * (CHUNK_BYTES - 5), MARKER * 10_000, b"\x00\xff"]
    with SealedSpool(directory=str(tmp_path)) as spool:
        for piece in pieces:
            spool.write(piece)
        assert spool.size == sum(len(p) for p in pieces)
        chunks = list(spool.chunks())
        assert b"".join(chunks) == b"".join(pieces)
        assert max(len(c) for c in chunks) == CHUNK_BYTES
        assert b"".join(spool.chunks()) == b"".join(pieces)  # and again
        with pytest.raises(ValueError, match="sealed"):
            spool.write(b"more")


def test_an_empty_spool_gives_nothing_back() -> None:
    with SealedSpool() as spool:
        assert b"".join(spool.chunks()) == b""


def test_nothing_readable_is_on_disk_and_no_file_is_left(tmp_path: Path) -> None:
    with SealedSpool(directory=str(tmp_path)) as spool:
        spool.write(MARKER * 20_000)
        list(spool.chunks())
        assert list(tmp_path.iterdir()) == []  # unlinked from the moment it was made
        file = on_disk(spool)
        file.seek(0)
        stored = file.read()
    assert len(stored) > len(MARKER) * 20_000  # all of it is there, sealed
    assert b"jane.example" not in stored and b"07700" not in stored


@pytest.mark.parametrize("damage", ["flipped", "cut short", "last chunk dropped"])
def test_a_changed_or_shortened_file_is_refused(damage: str) -> None:
    with SealedSpool() as spool:
        spool.write(MARKER * 20_000)  # several chunks
        list(spool.chunks())
        file = on_disk(spool)
        size = file.seek(0, 2)
        if damage == "flipped":
            file.seek(size // 2)
            byte = file.read(1)
            file.seek(size // 2)
            file.write(bytes([byte[0] ^ 1]))
        elif damage == "cut short":
            file.truncate(size - 10)
        else:
            file.truncate(size - (len(MARKER) * 20_000 % CHUNK_BYTES + 4 + 16))
            # The next-to-last chunk now ends the file, but was not sealed as the last one.
            spool._chunks -= 1
        with pytest.raises(SpoolDamaged):
            list(spool.chunks())
