"""Files a request makes (access packages, erasure reports), kept in the store block by block.

A file is written through `open_writer` as a stream: bytes are buffered up to a block (1 MiB)
and each block is inserted, encrypted, in its own short transaction, so that memory stays
bounded whatever the file's size and no transaction is held open while a package is built.
The file is served only once its writer closed it cleanly (`completed_at`); a writer that
raises removes what it wrote.

Every block's plaintext starts with a header binding it to its file, its place and whether
it is the last one. Encryption alone would not catch a block copied from another file or
moved within one (the column's context is the same for every block), nor a file cut short
by deleting its last rows: reading checks each header, then the size and SHA-256 at the end.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import struct
import uuid
from collections.abc import Iterator
from types import TracebackType

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from opendpo.errors import DomainError, NotFound
from opendpo.execution.records import FileBlock, StoredFile
from opendpo.security.audit import as_utc

logger = logging.getLogger(__name__)

BLOCK_SIZE = 1024 * 1024
# Magic, format version, file id (a UUID's 36 characters), sequence number, last-block flag.
HEADER = struct.Struct(">4sB36sIB")
MAGIC = b"ODPF"
FORMAT_VERSION = 1
# A terabyte: far beyond any one person's data, and well inside the 64-bit size column.
MAX_SIZE = 2**40
# A file still being written this long after it was started lost its writer (a crash).
ABANDONED_AFTER = dt.timedelta(days=1)
DELETE_BATCH = 500


class StoredFileDamaged(DomainError):
    """A stored file does not read back as it was written: altered, truncated or reordered."""

    code = "stored_file_damaged"

    def __init__(self, file_id: str, problem: str) -> None:
        super().__init__(f"stored file {file_id} is damaged: {problem}")
        self.file_id = file_id


class StoredFileTooLarge(DomainError):
    code = "stored_file_too_large"

    def __init__(self) -> None:
        super().__init__(f"a stored file may hold at most {MAX_SIZE} bytes")


def _header(file_id: str, seq: int, last: bool) -> bytes:
    return HEADER.pack(MAGIC, FORMAT_VERSION, file_id.encode("ascii"), seq, int(last))


class FileWriter:
    """A write-only binary stream into the store; `close()` completes the file.

    Use it as a context manager: leaving the block normally completes the file, leaving it
    with an exception removes every block written and the file's row.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        file_id: str,
        block_size: int,
        *,
        pending: StoredFile | None = None,
        session: Session | None = None,
    ) -> None:
        self.file_id = file_id
        self._session_factory = session_factory
        self._block_size = block_size
        # A file written for the caller's transaction: its row waits here until it is known
        # whether the file fits in one block (then all goes into that transaction at close).
        self._pending = pending
        self._caller = session
        self._buffer = bytearray()
        self._seq = 0
        self._size = 0
        self._digest = hashlib.sha256()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        """Nothing to do: a block is stored once full, the last one on close."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        if self._closed:
            raise ValueError("write to a closed file")
        view = memoryview(data).cast("B")
        written = len(view)
        if self._size + written > MAX_SIZE:
            raise StoredFileTooLarge()
        self._digest.update(view)
        self._size += written
        while view:
            if len(self._buffer) == self._block_size:
                # A full block is held back until more data comes: only then is it known
                # not to be the last one.
                self._store_block(last=False)
            room = self._block_size - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
        return written

    def _store_block(self, *, last: bool, session: Session | None = None) -> None:
        block = FileBlock(
            file_id=self.file_id,
            seq=self._seq,
            data=_header(self.file_id, self._seq, last) + bytes(self._buffer),
        )
        if session is not None:
            session.add(block)
        else:
            with self._session_factory() as own, own.begin():
                if self._pending is not None:  # bigger than a block: written as it streams
                    own.add(self._pending)
                    own.flush()
                    self._pending = None
                own.add(block)
        self._seq += 1
        self._buffer.clear()

    def close(self) -> None:
        """Store the last block and mark the file complete, in one transaction."""
        if self._closed:
            return
        self._closed = True
        if self._pending is not None and self._caller is not None:
            # One block in all: the file and its block join the caller's transaction.
            self._pending.size = self._size
            self._pending.blocks = 1
            self._pending.sha256 = self._digest.hexdigest()
            self._pending.completed_at = dt.datetime.now(dt.UTC)
            self._caller.add(self._pending)
            self._caller.flush()  # the row before its block: the two have no ORM relationship
            self._pending = None
            self._store_block(last=True, session=self._caller)
            return
        with self._session_factory() as session, session.begin():
            if self._pending is not None:
                session.add(self._pending)
                session.flush()
                self._pending = None
            done = session.execute(
                update(StoredFile)
                .where(StoredFile.id == self.file_id, StoredFile.completed_at.is_(None))
                .values(
                    size=self._size,
                    blocks=self._seq + 1,  # with the last block, stored below
                    sha256=self._digest.hexdigest(),
                    completed_at=dt.datetime.now(dt.UTC),
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(done, "rowcount", 0) != 1:
                # Removed under us, e.g. swept as abandoned: nothing may claim to be complete.
                raise NotFound("file", self.file_id)
            self._store_block(last=True, session=session)

    def abort(self) -> None:
        """Remove the blocks written so far and the file's row."""
        self._closed = True
        self._buffer.clear()
        if self._pending is not None:
            return  # nothing was stored yet
        remove_files(self._session_factory, [self.file_id])

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        try:
            self.abort()
        except Exception:
            # The original error matters more; an abandoned file is swept later.
            logger.exception("could not remove the unfinished file %s", self.file_id)


def open_writer(
    *,
    session_factory: sessionmaker[Session],
    request_id: str,
    purpose: str,  # access_package, portability_package, erasure_report, attachment
    name: str,
    content_type: str,
    step_id: int | None = None,
    expires_at: dt.datetime | None = None,
    created_by: str | None = None,
    block_size: int = BLOCK_SIZE,
    session: Session | None = None,
) -> FileWriter:
    """A new, empty file of `request_id`; write to it and close it (or use `with`).

    With `session`, a file that fits in one block is stored in that session's transaction
    (committed with the caller's work, one round trip instead of two transactions); a larger
    one is still stored block by block in transactions of its own.
    """
    if block_size < 1:
        raise ValueError("block_size must be positive")
    file_id = str(uuid.uuid4())
    row = StoredFile(
        id=file_id,
        request_id=request_id,
        step_id=step_id,
        purpose=purpose,
        name=name,
        content_type=content_type,
        size=0,
        blocks=0,
        created_at=dt.datetime.now(dt.UTC),
        expires_at=expires_at,
        created_by=created_by,
    )
    if session is not None:
        return FileWriter(session_factory, file_id, block_size, pending=row, session=session)
    with session_factory() as own, own.begin():
        own.add(row)
    return FileWriter(session_factory, file_id, block_size)


def completed_file(*, session: Session, file_id: str, now: dt.datetime | None = None) -> StoredFile:
    """The file if it was written in full and has not expired; NotFound otherwise."""
    stored = session.get(StoredFile, file_id)
    moment = now or dt.datetime.now(dt.UTC)
    if (
        stored is None
        or stored.completed_at is None
        or (stored.expires_at is not None and as_utc(stored.expires_at) <= moment)
    ):
        raise NotFound("file", file_id)
    return stored


def read_blocks(
    *, session_factory: sessionmaker[Session], file_id: str, now: dt.datetime | None = None
) -> Iterator[bytes]:
    """The file's bytes, block by block; NotFound at once for a missing, unfinished or
    expired file, StoredFileDamaged while reading if anything does not match."""
    with session_factory() as session:
        stored = completed_file(session=session, file_id=file_id, now=now)
        expected = (stored.blocks, stored.size, stored.sha256 or "")
    return _checked_blocks(session_factory, file_id, *expected)


def _checked_blocks(
    session_factory: sessionmaker[Session], file_id: str, blocks: int, size: int, sha256: str
) -> Iterator[bytes]:
    digest = hashlib.sha256()
    total = 0
    seq = 0
    last = False
    while not last:
        # One short read per block: a slow download holds no transaction open.
        with session_factory() as session:
            data = session.scalar(
                select(FileBlock.data).where(FileBlock.file_id == file_id, FileBlock.seq == seq)
            )
        if data is None:
            raise StoredFileDamaged(file_id, f"block {seq} is missing")
        payload, last = _open_block(file_id, seq, data)
        if last != (seq == blocks - 1):
            raise StoredFileDamaged(file_id, f"block {seq} is not where the file ends")
        digest.update(payload)
        total += len(payload)
        seq += 1
        if payload:
            yield payload
    if total != size or not hmac.compare_digest(digest.hexdigest(), sha256):
        raise StoredFileDamaged(file_id, "its content does not match its checksum")


def _open_block(file_id: str, seq: int, data: bytes) -> tuple[bytes, bool]:
    """(payload, is last) of a block whose header names this file and place."""
    if len(data) < HEADER.size:
        raise StoredFileDamaged(file_id, f"block {seq} is too short")
    magic, version, owner, number, last = HEADER.unpack_from(data)
    if magic != MAGIC or version != FORMAT_VERSION:
        raise StoredFileDamaged(file_id, f"block {seq} is not a file block")
    if owner != file_id.encode("ascii"):
        raise StoredFileDamaged(file_id, f"block {seq} belongs to another file")
    if number != seq:
        raise StoredFileDamaged(file_id, f"block {seq} holds block {number}")
    return data[HEADER.size :], bool(last)


def remove_files(session_factory: sessionmaker[Session], file_ids: list[str]) -> int:
    """Delete these files and their blocks; how many files were removed."""
    removed = 0
    for start in range(0, len(file_ids), DELETE_BATCH):
        batch = file_ids[start : start + DELETE_BATCH]
        with session_factory() as session, session.begin():
            session.execute(delete(FileBlock).where(FileBlock.file_id.in_(batch)))
            result = session.execute(delete(StoredFile).where(StoredFile.id.in_(batch)))
            removed += getattr(result, "rowcount", 0)
    return removed


def delete_expired(
    *,
    session_factory: sessionmaker[Session],
    now: dt.datetime | None = None,
    abandoned_after: dt.timedelta = ABANDONED_AFTER,
) -> int:
    """Remove files past their expiry, and files whose writer died part way; how many."""
    moment = now or dt.datetime.now(dt.UTC)
    with session_factory() as session:
        doomed = list(
            session.scalars(
                select(StoredFile.id).where(
                    or_(
                        StoredFile.expires_at <= moment,
                        (StoredFile.completed_at.is_(None))
                        & (StoredFile.created_at <= moment - abandoned_after),
                    )
                )
            )
        )
    removed = remove_files(session_factory, doomed)
    if removed:
        logger.info("removed %s expired or abandoned stored files", removed)
    return removed
