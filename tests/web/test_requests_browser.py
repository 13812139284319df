"""An access request end to end in real Chromium: a person asks in the privacy centre and
confirms their address with the code from the email; a staff member finds it in the queue
with the right due date and works it to completion; the person reads the answer."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from test_consent_browser import Inbox, inbox  # noqa: F401 (the SMTP server fixture)
from test_web_browser import (
    CHROMIUM_ARGS,
    STAFF_PASSWORD,
    add_member,
    prepare_store,
    running,
    server_settings,
    sign_in,
)

from opendpo.rights import calendar
from opendpo.settings import Settings

pytestmark = pytest.mark.browser

EMAIL = "amira.requester@example.com"
CODE = re.compile(r"\b(\d{6})\b")
RESPONSE = "We hold your account details and call records. A copy is attached."


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    inbox: tuple[Inbox, int],  # noqa: F811
) -> Iterator[tuple[str, Settings]]:
    """The server with the company's policy and one DPO, mailing through the test's SMTP."""
    settings = server_settings(tmp_path_factory.mktemp("requests")).model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": inbox[1]}
    )
    prepare_store(settings)
    add_member(settings, "dpo")
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


def long_date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def ask_for_access(page: Page, url: str) -> str:
    """Through the privacy centre as the person; the address of their status page."""
    page.goto(url + "/privacy-centre")
    page.get_by_role("link", name="Give me a copy of my personal data").click()
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Your name").fill("Amira Requester")
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    return page.url


def confirm(page: Page, mailbox: Inbox) -> None:
    mail = mailbox.message_to(EMAIL)
    found = CODE.search(mail.get_content())
    assert found is not None, mail.get_content()
    page.get_by_label("The 6-digit code from the email").fill(found.group(1))
    page.get_by_role("button", name="Confirm").click()


def test_an_access_request_from_the_privacy_centre_to_its_answer(
    server: tuple[str, Settings],
    browser: Browser,
    inbox: tuple[Inbox, int],  # noqa: F811
) -> None:
    url, _ = server
    mailbox, _ = inbox
    person = browser.new_page()
    ask_for_access(person, url)
    confirm(person, mailbox)
    expect(person.get_by_role("heading", name=re.compile(r"Your request R-"))).to_be_visible()
    status_url = person.url
    reference = person.get_by_role("heading", level=1).inner_text().rsplit(" ", 1)[1]
    # Received and confirmed today (London): the clock starts today, due a month on.
    received = calendar.local_date(dt.datetime.now(dt.UTC))
    due = calendar.due(kind="access", starts=received).due
    expect(person.get_by_text("Identity confirmed").first).to_be_visible()
    expect(person.get_by_text(long_date(due)).first).to_be_visible()

    staff = browser.new_page()
    sign_in(staff, url, "dpo", STAFF_PASSWORD)
    staff.get_by_role("link", name="Requests", exact=True).click()
    row = staff.get_by_role("row").filter(has_text=reference)
    expect(row).to_contain_text(long_date(due))
    expect(row).to_contain_text("Access")
    row.get_by_role("link", name=reference).click()
    expect(staff.get_by_role("heading", name=f"Request {reference}")).to_be_visible()
    expect(staff.get_by_text(EMAIL)).to_be_visible()
    staff.get_by_role("button", name="Begin work").click()
    expect(staff.locator("#request-status")).to_have_text("In progress")
    staff.get_by_label("Response to the person").fill(RESPONSE)
    staff.get_by_role("button", name="Complete and send the response").click()
    expect(staff.locator("#request-status")).to_have_text("Completed")

    person.goto(status_url)
    expect(person.get_by_text("Completed").first).to_be_visible()
    expect(person.get_by_text(RESPONSE)).to_be_visible()
    with mailbox.changed:
        arrived = mailbox.changed.wait_for(
            lambda: any(m["To"] == EMAIL and RESPONSE in m.get_content() for m in mailbox.messages),
            15,
        )
    assert arrived, [m["Subject"] for m in mailbox.messages]
