"""Running a request across the connected systems from its console page, with the server's
embedded worker doing the steps: the run, the steps table, a manual step answered with an
attachment, the files downloaded (audited), and the forms refused to those who may not act."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from execution_estate import (
    ALICE,
    ARCHIVE_TASK,
    BOB,
    Console,
    apply_estate,
    eventually,
    serve,
    status_of,
    wait_for,
    working_app,
)
from sqlalchemy import Engine
from staff_sessions import SignIn, as_staff

from opendpo.policy.model.document import PolicyDocument
from opendpo.security.roles import Role
from opendpo.settings import Settings

pytestmark = pytest.mark.anyio

FILE_LINK = re.compile(r'href="(/console/requests/[^/"]+/files/[^"]+)"[^>]*>([^<]+)</a>')


async def _console(
    settings: Settings, engine: Engine, sign_in: SignIn, folder: Path, *, archive: bool
) -> AsyncIterator[Console]:
    apply_estate(engine, folder, archive=archive)
    async with serve(working_app(settings, folder)) as client:
        as_staff(client, settings, sign_in(Role.AGENT))
        yield Console(client, engine)


@pytest.fixture
async def console(
    applied: PolicyDocument, settings: Settings, engine: Engine, sign_in: SignIn, tmp_path: Path
) -> AsyncIterator[Console]:
    """An agent at the console of a server that works the steps; the CRM connected."""
    async for made in _console(settings, engine, sign_in, tmp_path, archive=False):
        yield made


@pytest.fixture
async def manual_console(
    applied: PolicyDocument, settings: Settings, engine: Engine, sign_in: SignIn, tmp_path: Path
) -> AsyncIterator[Console]:
    """As `console`, with a paper archive that staff search by hand."""
    async for made in _console(settings, engine, sign_in, tmp_path, archive=True):
        yield made


async def test_a_request_run_from_the_console_completes_and_its_package_is_downloaded(
    console: Console,
) -> None:
    request_id = await console.log_access()
    page = await console.page(request_id)
    assert "has not been run across the connected systems yet" in page
    assert f'action="/console/requests/{request_id}/run"' in page

    response = await console.post(request_id, "run")
    assert response.status_code == 303, response.text
    await wait_for(console.engine, request_id, "completed")

    assert console.steps(request_id) == [(1, "find", "done"), (2, "package", "done")]
    page = await console.page(request_id)
    row = re.search(r'<tr id="step-1">(.*?)</tr>', page, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    # seq, phase, system / dataset, status, attempts, rows found (a contact, a note), changed
    assert [c.strip() for c in cells[:7]] == ["1", "find", "crm / crm_db", "done", "1", "2", ""]
    assert f'action="/console/requests/{request_id}/run"' not in page  # run once only
    links = FILE_LINK.findall(page)
    assert [label for _, label in links] == ["Access package (zip)"]

    download = await console.client.get(links[0][0])
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        data = json.loads(archive.read("data.json"))
    contacts = data["systems"]["crm"]["collections"]["contacts"]["rows"]
    assert contacts == [{"id": 1, "email": ALICE, "name": "Alice Archer"}]
    assert BOB not in json.dumps(data)

    [run] = console.entries("request.run")
    assert run.target_id == request_id and run.details == {"ready": 1}
    [read] = console.entries("request.file_read")
    assert read.target_id == request_id
    assert read.details["purpose"] == "access_package"
    assert ALICE not in json.dumps(read.details)


async def test_a_request_cannot_be_run_twice(console: Console) -> None:
    request_id = await console.log_access()
    first = await console.post(request_id, "run")
    assert first.status_code == 303
    await wait_for(console.engine, request_id, "completed")
    again = await console.post(request_id, "run")
    assert again.status_code == 409
    assert "Nothing was done" in again.text and "only a verified request" in again.text
    assert len(console.steps(request_id)) == 2


async def test_a_stale_form_runs_nothing(console: Console) -> None:
    request_id = await console.log_access()
    response = await console.client.post(
        f"/console/requests/{request_id}/run", data={"version": "999"}
    )
    assert response.status_code == 409
    assert "Someone else changed this request" in response.text
    assert console.steps(request_id) == []


async def test_a_manual_step_is_answered_with_an_attachment(manual_console: Console) -> None:
    console = manual_console
    request_id = await console.log_access()
    assert (await console.post(request_id, "run")).status_code == 303
    await wait_for(console.engine, request_id, "awaiting_action")
    assert console.steps(request_id) == [
        (1, "find", "done"),
        (2, "person", "waiting"),
        (3, "package", "pending"),
    ]
    page = await console.page(request_id)
    assert ARCHIVE_TASK in page
    answer_path = f"/console/requests/{request_id}/steps/2/answer"
    assert f'action="{answer_path}" enctype="multipart/form-data"' in page

    found = b"name,box\nAlice Archer,17\n"
    response = await console.client.post(
        answer_path,
        data={"outcome": "done", "note": "Found one card in box 17"},
        files=[("files", ("alice card.csv", found, "text/csv"))],
    )
    assert response.status_code == 303, response.text
    await wait_for(console.engine, request_id, "completed")
    assert console.steps(request_id)[1:] == [(2, "person", "done"), (3, "package", "done")]

    [attachment] = [f for f in console.files(request_id) if f.purpose == "step_attachment"]
    assert (attachment.name, attachment.size) == ("alice card.csv", len(found))
    page = await console.page(request_id)
    links = {label: href for href, label in FILE_LINK.findall(page)}
    assert set(links) == {"alice card.csv", "Access package (zip)"}
    download = await console.client.get(links["alice card.csv"])
    assert download.content == found
    # Whatever was uploaded is saved, never rendered by the browser.
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment;")

    [answer] = console.entries("request.step_answer")
    assert answer.details == {"step": 2, "outcome": "done", "attachments": 1}
    [read] = console.entries("request.file_read")
    assert read.details["file"] == attachment.id


async def test_a_refused_answer_keeps_no_attachment(
    manual_console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    console = manual_console
    request_id = await console.log_access()
    assert (await console.post(request_id, "run")).status_code == 303
    await wait_for(console.engine, request_id, "awaiting_action")
    answer_path = f"/console/requests/{request_id}/steps/2/answer"

    blank = await console.client.post(
        answer_path,
        data={"outcome": "done", "note": "   "},
        files=[("files", ("card.csv", b"a,b\n", "text/csv"))],
    )
    assert blank.status_code == 422
    assert 'id="answer-2-note-error"' in blank.text

    monkeypatch.setattr(
        "opendpo.web.pages.request_execution.MAX_ATTACHMENT_BYTES", 1024, raising=True
    )
    large = await console.client.post(
        answer_path,
        data={"outcome": "done", "note": "Scanned the box"},
        files=[
            ("files", ("small.txt", b"fine", "text/plain")),
            ("files", ("scan.pdf", b"x" * 2048, "application/pdf")),
        ],
    )
    assert large.status_code == 422
    assert 'id="answer-2-files-error"' in large.text and "scan.pdf is larger" in large.text

    assert console.files(request_id) == []
    assert console.steps(request_id)[1] == (2, "person", "waiting")
    assert status_of(console.engine, request_id) == "awaiting_action"
    assert console.entries("request.step_answer") == []


async def test_a_step_not_possible_fails_and_can_be_retried(manual_console: Console) -> None:
    console = manual_console
    request_id = await console.log_access()
    assert (await console.post(request_id, "run")).status_code == 303
    await wait_for(console.engine, request_id, "awaiting_action")
    response = await console.client.post(
        f"/console/requests/{request_id}/steps/2/answer",
        data={"outcome": "not_possible", "note": "The archive is closed until Monday"},
    )
    assert response.status_code == 303
    assert console.steps(request_id)[1:] == [(2, "person", "failed"), (3, "package", "pending")]
    page = await console.page(request_id)
    assert "not possible (see the note)" in page
    assert f'action="/console/requests/{request_id}/retry"' in page

    retried = await console.post(request_id, "retry")
    assert retried.status_code == 303
    # Tried again, the step sets the task once more and waits on staff.
    await wait_for(console.engine, request_id, "awaiting_action")
    assert console.steps(request_id)[1] == (2, "person", "waiting")
    [entry] = console.entries("request.retry_failed")
    assert entry.details == {"steps": [2]}


async def test_those_who_may_not_act_are_refused(
    console: Console, settings: Settings, sign_in: SignIn
) -> None:
    request_id = await console.log_access()
    assert (await console.post(request_id, "run")).status_code == 303
    await wait_for(console.engine, request_id, "completed")
    [package] = console.files(request_id)
    file_path = f"/console/requests/{request_id}/files/{package.id}"
    for role in (Role.AUDITOR, Role.ENGINEER):
        console.client.cookies.clear()
        as_staff(console.client, settings, sign_in(role))
        refused = await console.client.post(
            f"/console/requests/{request_id}/retry", data={"version": "1"}
        )
        assert refused.status_code == 403, role
        assert (await console.client.get(file_path)).status_code == 403, role
    assert console.entries("request.file_read") == []

    # A file of another request is not found through this one.
    other = sign_in(Role.AGENT)
    console.client.cookies.clear()
    as_staff(console.client, settings, other)
    other_id = await console.log_access()
    response = await console.client.get(f"/console/requests/{other_id}/files/{package.id}")
    assert response.status_code == 404


async def test_the_page_offers_no_run_for_a_kind_staff_handle(console: Console) -> None:
    response = await console.client.post(
        "/api/v1/requests",
        json={
            "kind": "complaint",
            "identities": [{"kind": "email", "value": ALICE}],
            "details": {"complaint": "You called me twice"},
            "verified_evidence": "Known caller",
        },
    )
    assert response.status_code == 201, response.text
    page = await console.page(response.json()["id"])
    assert "is handled by staff, not run across systems" in page
    assert "Run across systems" not in page


async def test_an_erasure_run_from_the_console_links_its_report(
    console: Console, tmp_path: Path
) -> None:
    response = await console.client.post(
        "/api/v1/requests",
        json={
            "kind": "erasure",
            "identities": [{"kind": "email", "value": ALICE}],
            "verified_evidence": "Signed letter",
        },
    )
    assert response.status_code == 201, response.text
    request_id = response.json()["id"]
    assert (await console.post(request_id, "run")).status_code == 303
    # Finished, the erasure is reported (recipients to tell of it, if any, come after).
    finished = (3, "finish", "done")
    await eventually(lambda: finished in console.steps(request_id), "the finish step")
    assert [phase for _, phase, _ in console.steps(request_id)][:3] == ["find", "erase", "finish"]

    page = await console.page(request_id)
    row = re.search(r'<tr id="step-2">(.*?)</tr>', page, re.S)
    assert row is not None
    cells = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]
    assert cells[:4] == ["2", "erase", "crm / crm_db", "done"]
    assert cells[6] == "2"  # Alice's contact and her note
    [(href, label)] = FILE_LINK.findall(page)
    assert label == "Erasure report"
    report = json.loads((await console.client.get(href)).content)
    assert report["changed"] == {"crm_db.contacts": 1, "crm_db.notes": 1}
    with sqlite3.connect(tmp_path / "crm.db") as crm:
        assert crm.execute("SELECT id, email, name FROM contacts ORDER BY id").fetchall() == [
            (1, None, None),
            (2, BOB, "Bob Baker"),
        ]
        notes = crm.execute("SELECT contact_id, body FROM notes ORDER BY contact_id").fetchall()
        assert notes == [(1, None), (2, "Call on Fridays")]


async def test_a_rectification_is_run_with_the_corrections_staff_give(
    console: Console, tmp_path: Path
) -> None:
    response = await console.client.post(
        "/api/v1/requests",
        json={
            "kind": "rectification",
            "identities": [{"kind": "email", "value": ALICE}],
            "details": {"corrections": "I married: my name is Alice Smith now"},
            "verified_evidence": "Marriage certificate seen",
        },
    )
    assert response.status_code == 201, response.text
    request_id = response.json()["id"]
    page = await console.page(request_id)
    assert 'id="run-corrections"' in page

    unknown = await console.post(request_id, "run", corrections="crm_db.contacts.nickname=Al")
    assert unknown.status_code == 422
    assert 'id="run-corrections-error"' in unknown.text
    assert "crm_db.contacts.nickname=Al" in unknown.text  # kept in the field to fix
    malformed = await console.post(request_id, "run", corrections="Alice Smith")
    assert malformed.status_code == 422
    assert "write FIELD=VALUE on each line" in malformed.text
    assert console.steps(request_id) == []

    fixed = await console.post(request_id, "run", corrections="\nuser.name = Alice Smith\n")
    assert fixed.status_code == 303
    # Recipients told of the correction come after it (Art 19): the correction is the point.
    rectified = (2, "rectify", "done")
    await eventually(lambda: rectified in console.steps(request_id), "the rectify step")
    with sqlite3.connect(tmp_path / "crm.db") as crm:
        assert crm.execute("SELECT id, name FROM contacts ORDER BY id").fetchall() == [
            (1, "Alice Smith"),
            (2, "Bob Baker"),
        ]


async def test_an_erasure_is_previewed_from_the_console_then_run(
    console: Console, tmp_path: Path
) -> None:
    logged = await console.client.post(
        "/api/v1/requests",
        json={"kind": "erasure", "identities": [{"kind": "email", "value": ALICE}],
              "verified_evidence": "Passport seen at the desk"},
    )  # fmt: skip
    assert logged.status_code == 201, logged.text
    request_id = logged.json()["id"]
    assert f'action="/console/requests/{request_id}/dry-run"' in await console.page(request_id)

    shown = await console.post(request_id, "dry-run")
    assert shown.status_code == 200, shown.text
    page = shown.text
    assert "Nothing was changed" in page
    assert "0 row(s) would be deleted, 2 masked and 0 kept as they are" in page
    assert "a****@e******.c**" in page and "P****** e****" in page
    for clear in (ALICE, "Alice Archer", "Prefers email", BOB):
        assert clear not in page
    assert console.steps(request_id) == []  # nothing planned, nothing run

    download = await console.post(request_id, "dry-run.json")
    assert download.status_code == 200, download.text
    assert download.headers["content-disposition"].startswith("attachment; filename=")
    listing = json.loads(download.text)
    assert listing["totals"] == {"update": 2, "delete": 0, "keep": 0}
    assert [e.target_id for e in console.entries("request.dry_run")] == [request_id] * 2

    access = await console.log_access()
    assert "/dry-run" not in await console.page(access)
    refused = await console.post(access, "dry-run")
    assert refused.status_code == 422 and "previews an erasure" in refused.text

    # Then the erasure runs, and makes the changes listed.
    assert (await console.post(request_id, "run")).status_code == 303
    finished = (3, "finish", "done")
    await eventually(lambda: finished in console.steps(request_id), "the finish step")
    with sqlite3.connect(tmp_path / "crm.db") as crm:
        assert crm.execute("SELECT email, name FROM contacts WHERE id = 1").fetchone() == (
            None, None,
        )  # fmt: skip
        assert crm.execute("SELECT body FROM notes WHERE contact_id = 1").fetchone() == (None,)
