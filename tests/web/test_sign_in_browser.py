"""Sign-in in real headless Chromium: what the cookie rules and CSRF tokens do in a browser.

The cross-site test posts from a second origin on 127.0.0.1 (another port). Ports do not make
a different *site*, so the browser sends the SameSite=Lax cookie along: only the CSRF token
stands in the way, which is the case this test means to cover.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from test_web_browser import (
    CHROMIUM_ARGS,
    STAFF_PASSWORD,
    Watched,
    add_member,
    prepare_store,
    running,
    server_settings,
    sign_in,
    store_engine,
)

from opendpo.security.sessions import StaffSession, token_hash
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory

pytestmark = pytest.mark.browser

NEW_PASSWORD = "my very own passphrase"


@dataclass(frozen=True)
class Server:
    url: str
    settings: Settings


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = server_settings(tmp_path_factory.mktemp("sign-in-browser"))
    prepare_store(settings)
    with running(settings) as url:
        yield Server(url, settings)


@pytest.fixture(scope="module")
def browser(chromium_executable: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_executable), args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context()
    yield context
    context.close()


@pytest.fixture
def member(server: Server, request: pytest.FixtureRequest) -> str:
    """A DPO with a password of their own, named after the test."""
    username = request.node.name.removeprefix("test_")[:30].replace("_", "-")
    add_member(server.settings, username)
    return username


def signed_in(page: Page, server: Server, username: str) -> None:
    sign_in(page, server.url, username, STAFF_PASSWORD)
    page.wait_for_url(server.url + "/console/")
    page.locator("h1", has_text="Overview").wait_for()


def session_token(context: BrowserContext) -> str:
    [cookie] = [c for c in context.cookies() if c["name"] == "opendpo_session"]
    return cookie["value"]


def test_a_first_sign_in_asks_for_a_new_password_before_the_console(
    server: Server, context: BrowserContext
) -> None:
    one_time = add_member(server.settings, "newcomer", password=None)
    page = Watched(context.new_page())
    sign_in(page.page, server.url, "newcomer", one_time)
    page.page.wait_for_url(server.url + "/console/account/password")
    assert page.page.locator("h1").inner_text() == "Choose your password"
    # Nothing else opens until the password is changed.
    page.page.goto(server.url + "/console/purposes")
    page.page.wait_for_url(server.url + "/console/account/password")

    page.page.get_by_label("One-time password").fill(one_time)
    page.page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.page.get_by_role("button", name="Save password").click()
    page.page.wait_for_url(server.url + "/console/")
    assert page.page.locator("h1").inner_text() == "Overview"
    assert "Signed in as newcomer" in page.page.locator(".console-user").inner_text()
    page.assert_clean()


class ForgeryPage(BaseHTTPRequestHandler):
    """Another origin's page: a form that posts to the console's sign-out."""

    target = ""

    def do_GET(self) -> None:
        body = (
            "<!doctype html><title>Win a prize</title>"
            f'<form method="post" action="{self.target}/console/logout">'
            '<input type="hidden" name="csrf_token" value="guessed">'
            "<button>Claim your prize</button></form>"
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads what the browser saw, not this server's log."""


@pytest.fixture
def forgery_origin(server: Server) -> Iterator[str]:
    handler = type("Forgery", (ForgeryPage,), {"target": server.url})
    http_server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=http_server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http_server.server_address[1]}"
    http_server.shutdown()
    http_server.server_close()
    thread.join(timeout=10)


def test_a_form_on_another_origin_cannot_sign_a_member_out(
    server: Server, context: BrowserContext, member: str, forgery_origin: str
) -> None:
    page = context.new_page()
    signed_in(page, server, member)
    token = session_token(context)

    page.goto(forgery_origin + "/")
    with page.expect_response(server.url + "/console/logout") as posted:
        page.get_by_role("button", name="Claim your prize").click()
    assert posted.value.status == 403
    assert "did not come from this site" in page.locator("main").inner_text()

    page.goto(server.url + "/console/")
    assert page.locator("h1").inner_text() == "Overview"
    assert session_token(context) == token


def test_the_session_cookie_is_out_of_reach_of_scripts(
    server: Server, context: BrowserContext, member: str
) -> None:
    page = Watched(context.new_page())
    signed_in(page.page, server, member)
    [cookie] = [c for c in context.cookies() if c["name"] == "opendpo_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert "opendpo_session" not in page.page.evaluate("document.cookie")
    page.assert_clean()


def test_signing_out_returns_to_the_sign_in_page_and_ends_the_session(
    server: Server, context: BrowserContext, member: str
) -> None:
    page = Watched(context.new_page())
    signed_in(page.page, server, member)
    token = session_token(context)
    page.page.get_by_role("button", name="Sign out").click()
    page.page.wait_for_url(server.url + "/console/login")
    assert page.page.locator("h1").inner_text() == "Sign in"
    assert not [c for c in context.cookies() if c["name"] == "opendpo_session"]
    # Even a copy of the cookie kept from before no longer opens the console.
    context.add_cookies([{"name": "opendpo_session", "value": token, "url": server.url}])
    page.page.goto(server.url + "/console/")
    page.page.wait_for_url(server.url + "/console/login?next=%2Fconsole%2F")
    page.assert_clean()


def test_an_idle_session_ends_in_the_browser(
    server: Server, context: BrowserContext, member: str
) -> None:
    page = Watched(context.new_page())
    signed_in(page.page, server, member)
    idle = dt.timedelta(minutes=server.settings.session_idle_minutes + 1)
    engine = store_engine(server.settings)
    with make_session_factory(engine)() as session, session.begin():
        staff_session = session.get(StaffSession, token_hash(session_token(context)))
        assert staff_session is not None
        staff_session.last_seen_at = dt.datetime.now(dt.UTC) - idle
    engine.dispose()
    page.page.reload()
    page.page.wait_for_url(server.url + "/console/login?next=%2Fconsole%2F")
    assert page.page.locator("h1").inner_text() == "Sign in"
    page.assert_clean()
