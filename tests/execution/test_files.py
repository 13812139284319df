"""Stored files on SQLite and PostgreSQL: round trips, tampering found, nothing left by a
writer that fails, expiry, and bounded memory however large the file."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tracemalloc

import pytest
from package_requests import make_request
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from opendpo.errors import NotFound
from opendpo.execution.files import (
    BLOCK_SIZE,
    StoredFileDamaged,
    delete_expired,
    open_writer,
    read_blocks,
)
from opendpo.execution.records import FileBlock, StoredFile
from opendpo.security import rotation
from opendpo.security.errors import KeyProblem
from opendpo.security.keyring import Keyring
from opendpo.store.encrypted import attach_keyring
from opendpo.store.engine import make_session_factory

SMALL = 4096


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def request_id(engine: Engine) -> str:
    return make_request(engine)[0]


def store(
    factory: sessionmaker[Session],
    request_id: str,
    content: bytes,
    *,
    chunk: int = 1000,
    block_size: int = SMALL,
    expires_at: dt.datetime | None = None,
) -> str:
    with open_writer(
        session_factory=factory,
        request_id=request_id,
        purpose="access_package",
        name="R-TEST.zip",
        content_type="application/zip",
        expires_at=expires_at,
        created_by="tests",
        block_size=block_size,
    ) as writer:
        for start in range(0, len(content), chunk):
            assert writer.write(content[start : start + chunk]) == len(content[start:][:chunk])
        assert writer.tell() == len(content)
    return writer.file_id


def read(factory: sessionmaker[Session], file_id: str) -> bytes:
    return b"".join(read_blocks(session_factory=factory, file_id=file_id))


def stored(factory: sessionmaker[Session], file_id: str) -> StoredFile:
    with factory() as session:
        found = session.get(StoredFile, file_id)
        assert found is not None
        return found


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        files = connection.scalar(select(func.count()).select_from(StoredFile))
        blocks = connection.scalar(select(func.count()).select_from(FileBlock))
    return files or 0, blocks or 0


@pytest.mark.parametrize(
    ("size", "blocks"),
    [
        (0, 1),
        (1, 1),
        (SMALL - 1, 1),
        (SMALL, 1),
        (SMALL + 1, 2),
        (2 * SMALL, 2),
        (5 * SMALL + 17, 6),
    ],
)
def test_a_file_reads_back_exactly_as_written(
    factory: sessionmaker[Session], request_id: str, size: int, blocks: int
) -> None:
    content = os.urandom(size)
    file_id = store(factory, request_id, content, chunk=777)
    assert read(factory, file_id) == content
    row = stored(factory, file_id)
    assert (row.size, row.blocks) == (size, blocks)
    assert row.sha256 == hashlib.sha256(content).hexdigest()
    assert row.completed_at is not None
    assert (row.name, row.purpose, row.created_by) == ("R-TEST.zip", "access_package", "tests")


def test_one_large_write_is_split_into_blocks(
    factory: sessionmaker[Session], request_id: str
) -> None:
    content = os.urandom(3 * SMALL + 5)
    file_id = store(factory, request_id, content, chunk=len(content))
    assert stored(factory, file_id).blocks == 4
    pieces = list(read_blocks(session_factory=factory, file_id=file_id))
    assert [len(piece) for piece in pieces] == [SMALL, SMALL, SMALL, 5]


def test_blocks_are_encrypted_at_rest(
    engine: Engine, factory: sessionmaker[Session], request_id: str
) -> None:
    file_id = store(factory, request_id, b"jane@example.com,Jane,Doe\n" * 50)
    with engine.connect() as connection:
        raw = connection.execute(
            text("SELECT data FROM file_blocks WHERE file_id = :id"), {"id": file_id}
        ).scalar_one()
    assert raw.startswith("t1.")
    assert "jane" not in raw and "amFuZU" not in raw  # nor its base64


def _damage(engine: Engine, statement: str, **values: object) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement), values)


def test_a_block_from_another_file_is_refused(
    engine: Engine, factory: sessionmaker[Session], request_id: str
) -> None:
    first = store(factory, request_id, b"a" * (2 * SMALL))
    second = store(factory, request_id, b"b" * (2 * SMALL))
    _damage(
        engine,
        "UPDATE file_blocks SET data = (SELECT data FROM file_blocks WHERE file_id = :other "
        "AND seq = 0) WHERE file_id = :id AND seq = 0",
        id=first,
        other=second,
    )
    with pytest.raises(StoredFileDamaged, match="block 0 belongs to another file"):
        read(factory, first)


def test_blocks_swapped_within_a_file_are_refused(
    engine: Engine, factory: sessionmaker[Session], request_id: str
) -> None:
    file_id = store(factory, request_id, os.urandom(3 * SMALL))
    _damage(engine, "UPDATE file_blocks SET seq = 99 WHERE file_id = :id AND seq = 0", id=file_id)
    _damage(engine, "UPDATE file_blocks SET seq = 0 WHERE file_id = :id AND seq = 1", id=file_id)
    _damage(engine, "UPDATE file_blocks SET seq = 1 WHERE file_id = :id AND seq = 99", id=file_id)
    with pytest.raises(StoredFileDamaged, match="block 0 holds block 1"):
        read(factory, file_id)


def test_a_file_cut_short_is_refused_even_with_its_row_edited(
    engine: Engine, factory: sessionmaker[Session], request_id: str
) -> None:
    file_id = store(factory, request_id, os.urandom(3 * SMALL))
    _damage(engine, "DELETE FROM file_blocks WHERE file_id = :id AND seq = 2", id=file_id)
    reader = read_blocks(session_factory=factory, file_id=file_id)
    assert len(next(reader)) == SMALL  # what was intact is served until the damage shows
    with pytest.raises(StoredFileDamaged, match="block 2 is missing"):
        list(reader)
    # The row edited to match: the last remaining block does not say it is the last.
    _damage(engine, "UPDATE stored_files SET blocks = 2 WHERE id = :id", id=file_id)
    with pytest.raises(StoredFileDamaged, match="block 1 is not where the file ends"):
        read(factory, file_id)


def test_a_changed_checksum_or_ciphertext_is_refused(
    engine: Engine, factory: sessionmaker[Session], request_id: str
) -> None:
    file_id = store(factory, request_id, os.urandom(SMALL + 1))
    _damage(engine, "UPDATE stored_files SET sha256 = :s WHERE id = :id", s="0" * 64, id=file_id)
    with pytest.raises(StoredFileDamaged, match="does not match its checksum"):
        read(factory, file_id)

    other = store(factory, request_id, os.urandom(10))
    with engine.connect() as connection:
        raw = connection.execute(
            text("SELECT data FROM file_blocks WHERE file_id = :id"), {"id": other}
        ).scalar_one()
    altered = raw[:-2] + ("AA" if not raw.endswith("AA") else "BB")
    _damage(engine, "UPDATE file_blocks SET data = :d WHERE file_id = :id", d=altered, id=other)
    with pytest.raises(KeyProblem, match=r"'file_blocks\.data' failed authentication"):
        read(factory, other)


def test_a_writer_that_raises_leaves_nothing(
    engine: Engine, factory: sessionmaker[Session], request_id: str
) -> None:
    with (
        pytest.raises(RuntimeError, match="the export failed"),
        open_writer(
            session_factory=factory,
            request_id=request_id,
            purpose="access_package",
            name="R-TEST.zip",
            content_type="application/zip",
            block_size=SMALL,
        ) as writer,
    ):
        writer.write(os.urandom(5 * SMALL))
        assert counts(engine) == (1, 4)  # full blocks are already stored
        raise RuntimeError("the export failed")
    assert counts(engine) == (0, 0)
    with pytest.raises(ValueError, match="closed file"):
        writer.write(b"more")


def _in_session(session: Session, request_id: str, content: bytes) -> str:
    with open_writer(
        session_factory=make_session_factory(session.get_bind()),  # type: ignore[arg-type]
        session=session,
        request_id=request_id,
        purpose="access_package",
        name="R-TEST.zip",
        content_type="application/zip",
        block_size=SMALL,
    ) as writer:
        writer.write(content)
    return writer.file_id


def test_a_one_block_file_joins_the_callers_transaction(
    engine: Engine, factory: sessionmaker[Session], request_id: str
) -> None:
    content = os.urandom(SMALL - 10)
    with factory() as session:
        _in_session(session, request_id, content)
        assert counts(engine) == (0, 0)  # nothing committed yet
        session.rollback()
    assert counts(engine) == (0, 0)  # and nothing left by a step that failed after it
    with factory() as session:
        file_id = _in_session(session, request_id, content)
        session.commit()
    assert read(factory, file_id) == content
    assert stored(factory, file_id).blocks == 1


def test_a_larger_file_for_a_callers_transaction_is_stored_as_it_streams(
    engine: Engine, factory: sessionmaker[Session], request_id: str
) -> None:
    content = os.urandom(3 * SMALL + 5)
    with factory() as session:
        file_id = _in_session(session, request_id, content)
        # Its blocks went out in transactions of their own (memory stays bounded), so the
        # caller holds no write lock while it streams, and the file is complete already.
        assert counts(engine) == (1, 4)
        session.rollback()
    assert read(factory, file_id) == content


def test_unfinished_and_expired_files_are_not_served_and_are_swept(
    engine: Engine, factory: sessionmaker[Session], request_id: str
) -> None:
    now = dt.datetime.now(dt.UTC)
    unfinished = open_writer(
        session_factory=factory,
        request_id=request_id,
        purpose="access_package",
        name="R-TEST.zip",
        content_type="application/zip",
        block_size=SMALL,
    )
    unfinished.write(os.urandom(2 * SMALL))  # its writer "dies" here
    expired = store(factory, request_id, b"old", expires_at=now - dt.timedelta(seconds=1))
    current = store(factory, request_id, b"new", expires_at=now + dt.timedelta(days=7))
    for file_id in (unfinished.file_id, expired):
        with pytest.raises(NotFound, match=f"no file with key '{file_id}'"):
            read_blocks(session_factory=factory, file_id=file_id, now=now)
    assert b"".join(read_blocks(session_factory=factory, file_id=current, now=now)) == b"new"

    # A writer started moments ago may still be at work: only the expired file goes.
    assert delete_expired(session_factory=factory, now=now) == 1
    assert counts(engine) == (2, 1 + 1)
    assert delete_expired(session_factory=factory, now=now + dt.timedelta(days=2)) == 1
    assert counts(engine) == (1, 1)
    with pytest.raises(NotFound):
        unfinished.close()  # swept: it can no longer claim to be complete
    assert delete_expired(session_factory=factory, now=now + dt.timedelta(days=8)) == 1
    assert counts(engine) == (0, 0)


def test_fifty_megabytes_are_written_and_read_in_bounded_memory(
    factory: sessionmaker[Session], request_id: str
) -> None:
    chunk = os.urandom(256 * 1024)
    total = 50 * 1024 * 1024
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        with open_writer(
            session_factory=factory,
            request_id=request_id,
            purpose="access_package",
            name="big.zip",
            content_type="application/zip",
        ) as writer:
            for _ in range(total // len(chunk)):
                writer.write(chunk)
                digest.update(chunk)
        _, written_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        read_digest = hashlib.sha256()
        size = 0
        for piece in read_blocks(session_factory=factory, file_id=writer.file_id):
            read_digest.update(piece)
            size += len(piece)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored(factory, writer.file_id).blocks == total // BLOCK_SIZE
    assert (size, read_digest.hexdigest()) == (total, digest.hexdigest())
    assert written_peak < 16 * 1024 * 1024, written_peak
    assert read_peak < 16 * 1024 * 1024, read_peak


def test_key_rotation_reencrypts_every_block_and_the_file_still_reads(
    engine: Engine, factory: sessionmaker[Session], request_id: str, keyring: Keyring
) -> None:
    # file_blocks has a two-column primary key: rotation must page through it in batches.
    content = os.urandom(SMALL * 5 + 17)
    file_id = store(factory, request_id, content)
    rotated = Keyring(
        encryption_keys={**keyring.encryption_keys, "k9": os.urandom(32)},
        active_key_id="k9",
        mac_key=keyring.mac_key,
    )
    attach_keyring(engine.dialect, rotated)
    result = rotation.reencrypt(engine, rotated, batch_size=2)
    assert result.remaining == 0
    assert result.rewritten >= 6
    with engine.connect() as connection:
        prefixes = connection.scalars(
            text("SELECT substr(data, 1, 3) FROM file_blocks WHERE file_id = :f"), {"f": file_id}
        ).all()
    assert prefixes == ["k9."] * 6
    assert read(factory, file_id) == content
