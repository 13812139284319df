"""Requests worked from the console in real Chromium, against the demo estate of Jane Example.

An erasure previewed: each row's change read with old values masked, every row downloaded as
JSON, then the erasure run and its report and the audit log downloaded; nothing changed before
it was run. An access request with a system worked by hand: the task answered with a file
uploaded, then the file and the package downloaded. (The console boosts links and forms with
htmx: downloads must opt out, or the browser shows the file's bytes in the page.)"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from test_web_browser import (
    CHROMIUM_ARGS,
    STAFF_PASSWORD,
    add_member,
    prepare_store,
    running,
    server_settings,
    sign_in,
    store_engine,
)

from opendpo.demo.connecting import estate_connections
from opendpo.demo.estate import build_estate, default_estate_urls
from opendpo.execution.progress import request_steps
from opendpo.execution.systems import save_connection
from opendpo.policy.versions import current_version
from opendpo.rights.intake import submit_request
from opendpo.rights.letters import LetterContext
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.keyring import load_keyring
from opendpo.security.links import LinkSigner
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory

pytestmark = pytest.mark.browser

JANE = "jane@example.com"
SEARCH = "Search the website's admin for the person's form submissions and attach them"


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings, Path]]:
    """The company's policy, its systems connected to a demo estate of Jane alone, one DPO
    (a server of each test's own: a test may connect a system differently)."""
    folder = tmp_path_factory.mktemp("dry-run")
    settings = server_settings(folder)
    prepare_store(settings)
    add_member(settings, "dpo")
    urls = default_estate_urls(folder)
    build_estate(urls, people=0, seed=7)
    engine = store_engine(settings)
    with make_session_factory(engine)() as session, session.begin():
        version = current_version(session=session)
        assert version is not None
        connections, _ = estate_connections(policy=version.policy(), urls=urls)
        for connection in connections:
            save_connection(
                session=session, key=connection.system, config=connection.config,
                datasets=[], added_by="tests",
            )  # fmt: skip
    engine.dispose()
    with running(settings) as url:
        yield url, settings, folder


@pytest.fixture(scope="module")
def browser(chromium_executable: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_executable), args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def logged(settings: Settings, kind: str = "erasure") -> str:
    """Jane's request of `kind`, her email vouched for by staff; its id."""
    engine = store_engine(settings)
    with make_session_factory(engine)() as session:
        version = current_version(session=session)
        assert version is not None
        policy = version.policy()
        request, _ = submit_request(
            session=session, keyring=load_keyring(settings), policy=policy, kind=kind,
            identities=[("email", JANE)], details={}, channel="api",
            actor=Actor(ActorKind.STAFF, "dpo"),
            context=LetterContext(
                policy, LinkSigner(settings.secret_key.get_secret_value()), settings.base_url
            ),
            verified_evidence="Signed letter checked against the contract",
        )  # fmt: skip
        session.commit()
        request_id = request.id
    engine.dispose()
    return request_id


def until_shown(page: Page, wanted: Locator, settings: Settings, request_id: str) -> None:
    """Reload the request's page until the server's worker has got as far as `wanted`; if it
    never does, fail with where each step of the plan stands."""
    deadline = time.monotonic() + 60
    while not wanted.count():
        if time.monotonic() > deadline:
            engine = store_engine(settings)
            with make_session_factory(engine)() as session:
                steps = [
                    f"{s.seq} {s.phase} {s.system} {s.status} tries={s.attempts} {s.error or ''}"
                    for s in request_steps(session=session, request_id=request_id)
                ]
            engine.dispose()
            pytest.fail(f"{wanted} never shown; the plan: {steps}")
        page.wait_for_timeout(200)
        page.reload()


def test_an_erasure_is_previewed_downloaded_and_then_run(
    server: tuple[str, Settings, Path], browser: Browser, tmp_path: Path
) -> None:
    url, settings, folder = server
    request_id = logged(settings)
    crm = folder / "estate" / "crm.db"
    with sqlite3.connect(crm) as before:
        contacts_before = before.execute("SELECT * FROM contacts ORDER BY id").fetchall()

    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    sign_in(page, url, "dpo", STAFF_PASSWORD)
    page.goto(f"{url}/console/requests/{request_id}")
    page.get_by_role("button", name="Preview the erasure (dry run, nothing changed)").click()

    expect(page.get_by_role("heading", name="Dry run of request")).to_be_visible()
    expect(page.get_by_text("Nothing was changed")).to_be_visible()
    totals = page.locator(".dry-run-totals").inner_text()
    assert "would be deleted" in totals
    tables = page.locator("table.dry-run-rows")
    assert tables.count() >= 4  # a table per collection holding Jane's rows
    body = page.content()
    assert "Jane Example" not in body and "J*** E******" in body
    with sqlite3.connect(crm) as after:
        assert after.execute("SELECT * FROM contacts ORDER BY id").fetchall() == contacts_before

    with page.expect_download() as caught:
        page.get_by_role("button", name="Download every row as JSON").click()
    saved = tmp_path / "dry-run.json"
    caught.value.save_as(saved)
    listing = json.loads(saved.read_text(encoding="utf-8"))
    assert listing["request_id"] == request_id and listing["dry_run"] is True
    deleted, masked, kept = (listing["totals"][k] for k in ("delete", "update", "keep"))
    assert totals.startswith(f"{deleted} row(s) would be deleted, {masked} masked and {kept} kept")
    assert "Jane Example" not in saved.read_text(encoding="utf-8")

    page.get_by_role("button", name="Run the erasure now").click()
    expect(page).to_have_url(re.compile(rf"/console/requests/{request_id}(#systems)?$"))
    expect(page.locator("table.request-steps")).to_be_visible()
    # The server's worker runs it; its report is a download like the listing.
    report = page.get_by_role("link", name="Erasure report")
    until_shown(page, report, settings, request_id)
    with page.expect_download() as caught:
        report.click()
    saved = tmp_path / "erasure-report.json"
    caught.value.save_as(saved)
    assert json.loads(saved.read_text(encoding="utf-8"))["kind"] == "erasure"
    with sqlite3.connect(crm) as after:
        assert after.execute("SELECT * FROM contacts ORDER BY id").fetchall() != contacts_before

    # The audit log's CSV is a download too: the dry runs are on it.
    page.goto(f"{url}/console/audit")
    with page.expect_download() as caught:
        page.get_by_role("link", name="Download these entries as CSV").click()
    audited = tmp_path / "audit.csv"
    caught.value.save_as(audited)
    assert audited.read_text(encoding="utf-8").count("request.dry_run") == 2
    context.close()


def test_a_system_worked_by_hand_is_answered_with_an_attachment_then_packaged(
    server: tuple[str, Settings, Path], browser: Browser, tmp_path: Path
) -> None:
    url, settings, _ = server
    engine = store_engine(settings)
    with make_session_factory(engine)() as session, session.begin():
        save_connection(
            session=session, key="website", config={"type": "manual", "instructions": SEARCH},
            datasets=[], added_by="tests",
        )  # fmt: skip
    engine.dispose()
    request_id = logged(settings, "access")
    scan = tmp_path / "website export.csv"
    scan.write_text("email,visits\njane@example.com,3\n", encoding="utf-8")

    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    sign_in(page, url, "dpo", STAFF_PASSWORD)
    page.goto(f"{url}/console/requests/{request_id}")
    page.get_by_role("button", name="Run across systems").click()
    answer = page.get_by_role("button", name="Record the answer")
    # The server's worker runs the reads, then waits on a person.
    until_shown(page, answer, settings, request_id)
    expect(page.get_by_text(SEARCH, exact=True)).to_be_visible()  # the task, above its form
    page.get_by_label("What was done or found, or why it could not be done").fill(
        "Exported her form submissions from the website's admin"
    )
    page.get_by_label(re.compile("^Attachments")).set_input_files(scan)
    answer.click()

    package = page.get_by_role("link", name=re.compile("^Access package"))
    until_shown(page, package, settings, request_id)
    with page.expect_download() as caught:
        page.get_by_role("link", name="website export.csv").click()
    attached = tmp_path / "attached.csv"
    caught.value.save_as(attached)
    assert attached.read_bytes() == scan.read_bytes()
    with page.expect_download() as caught:
        package.click()
    zipped = tmp_path / "package.zip"
    caught.value.save_as(zipped)
    with zipfile.ZipFile(zipped) as archive:
        assert "data.json" in archive.namelist()
    context.close()
