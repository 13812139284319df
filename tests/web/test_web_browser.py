"""The real server in real headless Chromium: what a person sees, and nothing leaves the host.

This is also the one smoke test of the app under uvicorn. The server runs the company's own
policy (policies/connect-ib.yaml) on a SQLite store of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from argon2 import PasswordHasher
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, sync_playwright
from sqlalchemy import Engine

from opendpo.policy.loader import load_policy
from opendpo.policy.versions import apply_policy
from opendpo.security.keyring import load_keyring, new_key
from opendpo.security.roles import Role
from opendpo.security.staff import add_user
from opendpo.settings import Settings
from opendpo.store.engine import make_engine, make_session_factory
from opendpo.store.migrate import upgrade
from opendpo.web.app import create_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SECRET = "browser-test-secret-key-long-enough-for-settings"


STAFF_PASSWORD = "a passphrase for the browser tests"


def server_settings(folder: Path) -> Settings:
    """Settings for a server of its own: a SQLite store, task queue and outbox in `folder`, and
    fresh keys. (Servers sharing the default queue file, as the xdist workers' servers once
    did, take each other's messages: a step then waits out its lease before a sweep.)"""
    return Settings(
        database_url=f"sqlite:///{folder / 'opendpo.db'}",
        task_queue_path=folder / "tasks.db",
        outbox_path=folder / "outbox",
        secret_key=SECRET,  # type: ignore[arg-type]
        encryption_keys=f"b1:{new_key()}",  # type: ignore[arg-type]
        mac_key=new_key(),  # type: ignore[arg-type]
        # Every test signs in from 127.0.0.1; the limit itself is tested in-process.
        rate_limit_login="1000/minute",
    )


def store_engine(settings: Settings) -> Engine:
    return make_engine(settings.database_url, keyring=load_keyring(settings))


def prepare_store(settings: Settings) -> None:
    """Migrate the store and apply the company's policy."""
    engine = store_engine(settings)
    upgrade(engine)
    document = load_policy(ROOT / "policies" / "connect-ib.yaml").document
    with make_session_factory(engine)() as session, session.begin():
        apply_policy(session=session, document=document, source="connect-ib", applied_by="tests")
    engine.dispose()


def add_member(settings: Settings, username: str, password: str | None = STAFF_PASSWORD) -> str:
    """A DPO account; with `password` set as its own, else its one-time password (returned)."""
    engine = store_engine(settings)
    with make_session_factory(engine)() as session, session.begin():
        user, one_time = add_user(
            session=session, username=username, role=Role.DPO, display_name=username.title()
        )
        if password is not None:
            user.password_hash = PasswordHasher().hash(password)
            user.must_change_password = False
    engine.dispose()
    return one_time if password is None else password


@contextmanager
def running(settings: Settings) -> Iterator[str]:
    """The app under uvicorn on a free port of 127.0.0.1; its base URL."""
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uvicorn_server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    port = uvicorn_server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server with the company's policy and one DPO, `dpo`; its base URL."""
    settings = server_settings(tmp_path_factory.mktemp("browser"))
    prepare_store(settings)
    add_member(settings, "dpo")
    with running(settings) as url:
        yield url


def sign_in(page: Page, server: str, username: str, password: str) -> None:
    """Through the sign-in page, as a person would: a console page sends one there first."""
    page.goto(server + "/console/")
    page.wait_for_url(server + "/console/login?next=%2Fconsole%2F")
    page.get_by_label("Name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture(scope="module")
def browser(chromium_executable: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_executable), args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class Watched:
    """A page that records console errors and every address it requested."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", self._request)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.errors.append(f"{response.status} {response.url}")

    def assert_clean(self) -> None:
        assert self.errors == []
        hosts = {urlsplit(url).hostname for url in self.requests if not url.startswith("data:")}
        assert hosts == {"127.0.0.1"}


@pytest.fixture
def page(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context()
    watched = Watched(context.new_page())
    yield watched
    context.close()


def test_the_privacy_centre_shows_the_notice(server: str, page: Watched) -> None:
    response = page.page.goto(server + "/")
    assert response is not None and response.status == 200
    body = page.page.locator("main")
    assert page.page.locator("h1").inner_text() == "Privacy Policy"
    text = body.inner_text()
    assert "Connect IB Ltd" in text
    assert "Version 1.0" in text
    assert "Your consent: you opted in, and you can change your mind at any time." in text
    assert "Our contract with you" in text
    rights = page.page.locator("ol.rights > li")
    assert rights.count() == 8
    assert "Right of access" in rights.nth(1).inner_text()
    assert "within 10 working days" in text
    email = page.page.locator("#contact a[href^='mailto:']")
    assert email.inner_text() == "datamanagement@smartspaceplc.com"
    # The skip link is the first stop for keyboard users and lands on the main content.
    page.page.keyboard.press("Tab")
    assert page.page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.assert_clean()


def test_the_console_navigates_to_records_and_recipients(server: str, page: Watched) -> None:
    sign_in(page.page, server, "dpo", STAFF_PASSWORD)
    page.page.wait_for_url(server + "/console/")
    assert page.page.locator("h1").inner_text() == "Overview"
    assert "Signed in as dpo" in page.page.locator(".console-user").inner_text()

    page.page.get_by_role("link", name="Records of processing").click()
    page.page.wait_for_url(server + "/console/records")
    page.page.locator("h1", has_text="Records of processing").wait_for()
    assert page.page.locator("section.ropa").is_visible()
    assert page.page.get_by_role("link", name="JSON-LD").get_attribute("href", timeout=5000)

    page.page.get_by_role("link", name="Recipients").click()
    page.page.wait_for_url(server + "/console/recipients")
    page.page.locator("h1", has_text="Recipients").wait_for()
    assert page.page.locator("tbody tr").count() >= 5
    assert page.page.evaluate("typeof htmx") == "object"  # the vendored htmx loaded
    page.assert_clean()


def test_the_api_reference_renders_from_vendored_assets(server: str, page: Watched) -> None:
    page.page.goto(server + "/api/v1/docs")
    page.page.locator(".opblock-summary-path", has_text="/api/v1/purposes/{key}").wait_for()
    page.assert_clean()
