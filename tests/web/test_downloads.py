"""Downloading a package by its signed link, in-process on SQLite and PostgreSQL: the zip
streamed back decrypted, each download audited, and every bad link or gone package answered
with the same page."""

from __future__ import annotations

import datetime as dt
import io
import secrets
import uuid
import zipfile
from collections.abc import Iterator

import httpx
import itsdangerous
import pytest
from generic_responses import assert_indistinguishable
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from opendpo.connectors.base import CollectionSpec, FieldSpec, Row
from opendpo.execution.closing import download_url
from opendpo.execution.files import open_writer, remove_files
from opendpo.execution.package import PackageSection, write_package
from opendpo.rights.intake import REFERENCE_ALPHABET
from opendpo.rights.records import Request
from opendpo.security.audit import AuditEntry
from opendpo.security.links import LinkSigner
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.web.pages.downloads import PATH

pytestmark = pytest.mark.anyio

BASE_URL = "https://privacy.example.co.uk/"
VISITS = CollectionSpec("website_db", "visits", (FieldSpec("page", ("user.behavior",)),))


@pytest.fixture
def links(settings: Settings) -> LinkSigner:
    return LinkSigner(settings.secret_key.get_secret_value())


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def new_request(factory: sessionmaker[Session]) -> Request:
    moment = dt.datetime(2026, 9, 3, 9, 30, tzinfo=dt.UTC)
    request = Request(
        id=str(uuid.uuid4()),
        reference="R-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8)),
        kind="access",
        status="verified",
        channel="privacy_centre",
        received_at=moment,
        details={},
        updated_at=moment,
    )
    with factory() as session, session.begin():
        session.add(request)
    return request


def store_package(
    factory: sessionmaker[Session],
    request: Request,
    *,
    purpose: str = "access_package",
    expires_at: dt.datetime | None = None,
    rows: int = 5000,
) -> tuple[str, bytes]:
    """(file id, the zip's bytes) of a package stored in several blocks."""

    def generated() -> Iterator[Row]:
        for number in range(rows):
            yield {"page": f"/articles/{number}"}

    section = PackageSection("website", "Website", VISITS, ("page",), generated)
    with open_writer(
        session_factory=factory,
        request_id=request.id,
        purpose=purpose,
        name=f"{request.reference}.zip",
        content_type="application/zip",
        expires_at=expires_at or dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
        block_size=8 * 1024,
    ) as writer:
        write_package(writer, sections=[section], report=None, kind="access")
    copy = io.BytesIO()
    write_package(copy, sections=[section], report=None, kind="access")
    return writer.file_id, copy.getvalue()


def path_of(url: str) -> str:
    return httpx.URL(url).path


def downloads_audited(engine: Engine) -> list[AuditEntry]:
    with make_session_factory(engine)() as session:
        query = select(AuditEntry).where(AuditEntry.action == "request.package_downloaded")
        return list(session.scalars(query.order_by(AuditEntry.seq)))


async def test_a_package_downloads_decrypted_and_the_download_is_audited(
    anonymous_client: httpx.AsyncClient,
    factory: sessionmaker[Session],
    engine: Engine,
    links: LinkSigner,
) -> None:
    request = new_request(factory)
    file_id, _ = store_package(factory, request)
    url = download_url(links, BASE_URL, file_id)
    assert url.startswith("https://privacy.example.co.uk/privacy/downloads/")

    response = await anonymous_client.get(path_of(url))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{request.reference}.zip"'
    )
    assert response.headers["cache-control"] == "no-store"
    assert int(response.headers["content-length"]) == len(response.content) > 3 * 8 * 1024
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    lines = archive.read("website/visits.csv").decode("utf-8-sig").splitlines()
    assert (len(lines), lines[-1]) == (5001, "/articles/4999")

    [entry] = downloads_audited(engine)
    assert (entry.actor_kind, entry.actor_id, entry.client_address) == (
        "subject",
        None,
        "127.0.0.1",
    )
    assert (entry.target_kind, entry.target_id) == ("stored_file", file_id)
    assert entry.details == {
        "request_id": request.id,
        "purpose": "access_package",
        "bytes": int(response.headers["content-length"]),
    }
    await anonymous_client.get(path_of(url))
    assert len(downloads_audited(engine)) == 2  # each download, not each link


async def test_bad_links_and_gone_packages_all_get_the_same_page(
    anonymous_client: httpx.AsyncClient,
    factory: sessionmaker[Session],
    engine: Engine,
    links: LinkSigner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = new_request(factory)
    baseline = await anonymous_client.get(PATH.format(token="not-a-token"))
    assert baseline.status_code == 400
    assert "This link is not valid or has expired." in baseline.text

    live, _ = store_package(factory, request)
    token = path_of(download_url(links, BASE_URL, live)).rsplit("/", 1)[1]
    expired, _ = store_package(factory, request, expires_at=dt.datetime.now(dt.UTC))
    removed, _ = store_package(factory, request)
    remove_files(factory, [removed])
    attachment, _ = store_package(factory, request, purpose="attachment")
    unfinished = open_writer(
        session_factory=factory,
        request_id=request.id,
        purpose="access_package",
        name="x.zip",
        content_type="application/zip",
    )
    with monkeypatch.context() as patched:  # a link signed 31 days ago, for a live package
        old = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
        patched.setattr(
            itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: int(old.timestamp())
        )
        stale = download_url(links, BASE_URL, live)
    bad = [
        PATH.format(token=token[:-2] + ("AA" if not token.endswith("AA") else "BB")),
        PATH.format(token=links.sign("preferences", {"file": live})),  # another purpose
        PATH.format(token=links.sign("download", {"request": live})),  # names no file
        PATH.format(token=LinkSigner("another-secret-" * 4).sign("download", {"file": live})),
        path_of(stale),
        path_of(download_url(links, BASE_URL, expired)),
        path_of(download_url(links, BASE_URL, removed)),
        path_of(download_url(links, BASE_URL, attachment)),
        path_of(download_url(links, BASE_URL, unfinished.file_id)),
        path_of(download_url(links, BASE_URL, str(uuid.uuid4()))),
    ]
    for path in bad:
        assert_indistinguishable(baseline, await anonymous_client.get(path))
    assert downloads_audited(engine) == []
    assert (await anonymous_client.get(f"/privacy/downloads/{token}")).status_code == 200


async def test_a_package_damaged_from_its_start_is_an_error_not_a_broken_download(
    anonymous_client: httpx.AsyncClient,
    factory: sessionmaker[Session],
    engine: Engine,
    links: LinkSigner,
) -> None:
    request = new_request(factory)
    first, _ = store_package(factory, request)
    second, _ = store_package(factory, request)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE file_blocks SET data = (SELECT data FROM file_blocks WHERE file_id = "
                ":other AND seq = 0) WHERE file_id = :id AND seq = 0"
            ),
            {"id": first, "other": second},
        )
    response = await anonymous_client.get(path_of(download_url(links, BASE_URL, first)))
    assert response.status_code == 409
    assert f"stored file {first} is damaged: block 0 belongs to another file" in response.text
    assert "content-disposition" not in response.headers
    assert downloads_audited(engine) == []
