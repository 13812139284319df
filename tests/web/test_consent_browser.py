"""Acceptance, in real headless Chromium against the real server and a real SMTP server: a
person opts in, gets the confirmation email, opens the preference centre from its link,
withdraws, and the decision point denies at once. With the mouse, without JavaScript, and
with the keyboard alone."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from consent_forms import connect_ib, preferences_path
from playwright.sync_api import Browser, Page, sync_playwright
from test_web_browser import (
    CHROMIUM_ARGS,
    Watched,
    prepare_store,
    running,
    server_settings,
    store_engine,
)

from opendpo.decisions.decide import decide
from opendpo.decisions.rules import Reason
from opendpo.security.keyring import load_keyring
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory

pytestmark = pytest.mark.browser

EMAIL_BOX = "email--marketing"


class Inbox:
    """An aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=email_policy.default)
        assert isinstance(message, EmailMessage)
        with self.changed:
            self.messages.append(message)
            self.changed.notify_all()
        return "250 OK"

    def message_to(self, address: str, timeout: float = 15) -> EmailMessage:
        with self.changed:
            found = self.changed.wait_for(
                lambda: any(m["To"] == address for m in self.messages), timeout
            )
            assert found, f"no message to {address}"
            return next(m for m in self.messages if m["To"] == address)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, inbox: tuple[Inbox, int]
) -> Iterator[tuple[str, Settings]]:
    """The server with the company's policy, mailing through the test's SMTP server."""
    settings = server_settings(tmp_path_factory.mktemp("consent")).model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": inbox[1]}
    )
    prepare_store(settings)
    with running(settings) as url:
        yield url, settings


@pytest.fixture(scope="module")
def browser(chromium_executable: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_executable), args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def decision(settings: Settings, email: str) -> tuple[bool, tuple[Reason, ...]]:
    """What the decision point says now about marketing by email, from the server's store."""
    engine = store_engine(settings)
    try:
        with make_session_factory(engine)() as session:
            outcome = decide(
                session=session,
                keyring=load_keyring(settings),
                policy=connect_ib(),
                identity_kind="email",
                identity_value=email,
                purpose="marketing",
                channel="email",
            )
    finally:
        engine.dispose()
    return outcome.decision.allowed, outcome.decision.reasons


def tab_to(page: Page, element_id: str, limit: int = 60) -> None:
    """Press Tab until the element with `element_id` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.locator(":focus")
        if focused.count() and focused.get_attribute("id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def opt_in(page: Page, url: str, email: str, *, keyboard: bool) -> None:
    page.goto(url + "/subscribe")
    box = page.get_by_label("(by email)", exact=False)
    assert not box.is_checked()
    if keyboard:
        tab_to(page, "email")
        page.keyboard.type(email)
        tab_to(page, EMAIL_BOX)
        page.keyboard.press("Space")
        assert box.is_checked()
        page.keyboard.press("Enter")  # submits the form from the checkbox
    else:
        page.get_by_label("Email address").fill(email)
        box.check()
        page.get_by_role("button", name="Sign me up").click()
    page.locator("h1", has_text="Thank you").wait_for()


def withdraw(page: Page, url: str, path: str, *, keyboard: bool) -> None:
    page.goto(url + path)
    group = page.get_by_role("group", name="(by email)")
    assert "You said yes." in group.inner_text()
    assert group.get_by_label("Yes").is_checked()
    if keyboard:
        tab_to(page, f"{EMAIL_BOX}-yes")  # a radio group takes one Tab stop, on its choice
        page.keyboard.press("ArrowRight")
        assert group.get_by_label("No").is_checked()
        tab_to(page, "save-choices")
        page.keyboard.press("Space")
    else:
        group.get_by_label("No").click()
        page.get_by_role("button", name="Save my choices").click()
    page.locator("[role=status]", has_text="Your choices are saved").wait_for()
    assert page.get_by_role("group", name="(by email)").get_by_label("No").is_checked()


@pytest.mark.parametrize(
    ("email", "javascript", "keyboard"),
    [
        ("mouse@example.com", True, False),
        ("no-script@example.com", False, False),
        ("keys@example.com", True, True),
    ],
)
def test_opt_in_confirm_withdraw_and_the_decision_point_denies_at_once(
    server: tuple[str, Settings],
    inbox: tuple[Inbox, int],
    browser: Browser,
    email: str,
    javascript: bool,
    keyboard: bool,
) -> None:
    url, settings = server
    context = browser.new_context(java_script_enabled=javascript)
    watched = Watched(context.new_page())
    page = watched.page
    try:
        opt_in(page, url, email, keyboard=keyboard)
        assert decision(settings, email) == (True, ())

        message = inbox[0].message_to(email)
        text = message.get_body(preferencelist=("plain",))
        assert text is not None and "(by email)" in text.get_content()
        link = preferences_path(message)
        withdraw(page, url, link, keyboard=keyboard)
        assert decision(settings, email) == (False, (Reason.WITHDRAWN,))
        watched.assert_clean()
    finally:
        context.close()


def test_every_input_on_the_consent_pages_has_a_label(
    server: tuple[str, Settings], inbox: tuple[Inbox, int], browser: Browser
) -> None:
    url, _ = server
    context = browser.new_context()
    page = context.new_page()
    try:
        opt_in(page, url, "labels@example.com", keyboard=False)
        path = preferences_path(inbox[0].message_to("labels@example.com"))
        for address in ("/subscribe", "/preferences", path):
            page.goto(url + address)
            unlabelled = page.evaluate(
                "[...document.querySelectorAll('input:not([type=hidden])')]"
                ".filter(i => i.labels.length === 0).map(i => i.name)"
            )
            assert unlabelled == [], address
            assert page.locator("input:not([type=hidden])").count() > 0
    finally:
        context.close()
