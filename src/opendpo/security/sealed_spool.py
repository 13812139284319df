"""Bytes set aside on local disk for a moment, sealed with a key that lives only in memory.

An access package writes `data.json` and its CSVs from one read of the rows: the CSVs wait
here until `data.json` is done. Personal data must not lie readable on a worker's disk, so
each chunk is encrypted (AES-256-GCM, a fresh random key per spool, the chunk's number as
its nonce and its position bound in) into a file that is unlinked from the moment it is
made. When the process ends, however it ends, the file's blocks are freed and the key is
gone with it: nothing readable is left behind.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterator
from types import TracebackType

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CHUNK_BYTES = 256 * 1024
_LENGTH = struct.Struct(">I")
_NONCE = struct.Struct(">4xQ")  # 12 bytes: the chunk's number


class SpoolDamaged(Exception):
    """The spool's file no longer holds what was written (it is ours alone: a disk fault)."""


class SealedSpool:
    def __init__(self, *, directory: str | None = None) -> None:
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))
        self._file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 (closed by close)
        self._pending = bytearray()
        self._chunks = 0
        self._sealed = False
        self.size = 0  # plaintext bytes written

    def write(self, data: bytes) -> int:
        if self._sealed:
            raise ValueError("the spool was sealed: nothing more can be written to it")
        self._pending += data
        self.size += len(data)
        while len(self._pending) >= CHUNK_BYTES:
            self._put(bytes(self._pending[:CHUNK_BYTES]), last=False)
            del self._pending[:CHUNK_BYTES]
        return len(data)

    def chunks(self) -> Iterator[bytes]:
        """What was written, in order, a chunk at a time (the writing ends here)."""
        if not self._sealed:
            self._put(bytes(self._pending), last=True)
            self._pending.clear()
            self._sealed = True
        self._file.seek(0)
        for number in range(self._chunks):
            head = self._file.read(_LENGTH.size)
            if len(head) != _LENGTH.size:
                raise SpoolDamaged(f"chunk {number} is missing")
            sealed = self._file.read(_LENGTH.unpack(head)[0])
            last = number == self._chunks - 1
            try:
                yield self._aead.decrypt(_NONCE.pack(number), sealed, _bound(number, last))
            except Exception as exc:  # InvalidTag: changed, cut short or out of order
                raise SpoolDamaged(f"chunk {number} does not decrypt") from exc

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SealedSpool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _put(self, chunk: bytes, *, last: bool) -> None:
        number = self._chunks
        sealed = self._aead.encrypt(_NONCE.pack(number), chunk, _bound(number, last))
        self._file.write(_LENGTH.pack(len(sealed)))
        self._file.write(sealed)
        self._chunks += 1


def _bound(number: int, last: bool) -> bytes:
    # The chunk's place and whether it ends the spool: chunks cannot be moved or dropped.
    return f"opendpo-spool/{number}/{'last' if last else 'more'}".encode()
