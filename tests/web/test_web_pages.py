"""Server-rendered pages: the privacy notice from the policy, and the console shell."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable
from html.parser import HTMLParser

import httpx
import pytest
from staff_sessions import SignIn, as_staff

from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.sharing import DueDiligence
from opendpo.policy.ropa.formats import FORMATS
from opendpo.security.roles import Role
from opendpo.settings import Settings

pytestmark = pytest.mark.anyio

PAGES = (
    "/",
    "/console/",
    "/console/records",
    "/console/purposes",
    "/console/systems",
    "/console/recipients",
    "/console/policy-versions",
)


class Outline(HTMLParser):
    """The headings, landmarks and scripts of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.landmarks: list[str] = []
        self.inline_scripts = 0
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag in ("header", "nav", "main", "footer"):
            self.landmarks.append(tag)
        if tag == "script" and not attributes.get("src"):
            self.inline_scripts += 1
        for name in ("src", "href"):
            value = attributes.get(name) or ""
            local = value.startswith("http://testserver/") or not value.startswith("http")
            if tag in ("script", "link", "img") and not local:
                self.external.append(value)
        if any(name.startswith("on") for name in attributes):
            self.inline_scripts += 1


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


async def test_every_page_is_accessible_self_contained_and_script_free_inline(
    client: httpx.AsyncClient,
) -> None:
    for path in PAGES:
        response = await client.get(path)
        assert response.status_code == 200, path
        page = outline(response.text)
        assert page.headings[0] == 1 and page.headings.count(1) == 1, path
        # Headings never skip a level on the way down.
        assert all(b - a <= 1 for a, b in itertools.pairwise(page.headings)), path
        assert "main" in page.landmarks and "footer" in page.landmarks, path
        assert 'href="#main"' in response.text, path  # the skip link
        assert page.inline_scripts == 0, path
        assert page.external == [], path
        assert "script-src 'self';" in response.headers["content-security-policy"]


async def test_the_notice_is_rendered_from_the_policy(client: httpx.AsyncClient) -> None:
    html = (await client.get("/")).text
    # Who we are, and what the notice version is.
    assert "Example Widgets Ltd" in html
    assert "1 High Street, Luton, LU1 1AA" in html
    assert "Version 1.0, in effect from 1 January 2026." in html
    # What we collect per relationship, with human names.
    assert "Client contacts" in html and "Marketing contacts" in html
    assert "<li>Email</li>" in html and "user.contact.email" not in html
    # Why, and on which lawful basis, in plain words.
    assert "Marketing emails" in html
    assert "Your consent: you opted in, and you can change your mind at any time." in html
    assert "Our contract with you" in html
    assert "UK GDPR Art 6(1)(a)" in html
    # Sharing: the minimum data, and no transfers abroad.
    assert "What they receive, and nothing more: Name." in html
    assert "We do not send your personal data outside the United Kingdom." in html
    # Retention, rights, the update promise, complaints.
    assert "6 years from the end of the financial year it relates to, then we delete it" in html
    assert "HMRC requires accounting records for six years." in html
    assert "Right of access." in html
    assert "within 10 working days" in html
    assert "Information Commissioner&#39;s Office" in html
    assert "https://ico.org.uk/make-a-complaint/" in html
    # Contact the DPO.
    assert 'href="mailto:dpo@example.co.uk"' in html
    assert "We never sell your personal data." in html


async def test_the_notice_names_transfers_and_their_safeguards(
    client: httpx.AsyncClient,
    apply_document: Callable[[PolicyDocument], None],
    applied: PolicyDocument,
) -> None:
    recipient = applied.recipients[0].model_copy(
        update={"country": "US", "transfer_mechanism": "uk_addendum"}
    )
    apply_document(applied.model_copy(update={"recipients": [recipient]}))
    html = (await client.get("/")).text
    assert (
        "Courier, in the United States: protected by the UK Addendum to the EU Standard "
        "Contractual Clauses." in html
    )


async def test_text_from_the_policy_is_escaped(
    client: httpx.AsyncClient,
    apply_document: Callable[[PolicyDocument], None],
    applied: PolicyDocument,
) -> None:
    notice = applied.notice.model_copy(update={"introduction": "<script>alert(1)</script>"})
    apply_document(applied.model_copy(update={"notice": notice}))
    html = (await client.get("/")).text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_the_console_shows_who_is_signed_in_and_every_section_to_a_dpo(
    client: httpx.AsyncClient,
) -> None:
    html = (await client.get("/console/")).text
    assert "Signed in as <strong>dpo-" in html and 'action="/console/logout"' in html
    for label in (
        "Overview",
        "Records of processing",
        "Purposes",
        "Systems",
        "Recipients",
        "Policy versions",
        "People",
        "Audit log",
        "Staff",
        "API keys",
    ):
        assert f">{label}</a>" in html
    assert 'aria-current="page">Overview<' in html
    assert "Policy version <strong>1</strong>" in html
    assert "<dt>Purposes</dt><dd>2</dd>" in html


async def test_the_console_hides_sections_a_role_may_not_open(
    anonymous_client: httpx.AsyncClient, settings: Settings, sign_in: SignIn
) -> None:
    as_staff(anonymous_client, settings, sign_in(Role.AUDITOR))
    html = (await anonymous_client.get("/console/")).text
    assert ">Audit log</a>" in html and ">Purposes</a>" in html
    for hidden in ("People", "Staff", "API keys"):
        assert f">{hidden}</a>" not in html


async def test_records_of_processing_embed_the_ropa_and_offer_every_download(
    client: httpx.AsyncClient,
) -> None:
    html = (await client.get("/console/records")).text
    assert '<section class="ropa"' in html
    assert "Client accounts and contracts" in html
    for name, export in FORMATS.items():
        assert f'href="http://testserver/console/ropa.{name}"' in html
        response = await client.get(f"/console/ropa.{name}")
        assert response.status_code == 200
        assert response.headers["content-type"].split(";")[0] == export.media_type.split(";")[0]
        assert f"records-of-processing-v1{export.suffix}" in response.headers["content-disposition"]
    csv = (await client.get("/console/ropa.csv")).text
    assert "Marketing emails" in csv
    assert (await client.get("/console/ropa.pdf")).status_code == 404


async def test_systems_page_shows_collections_fields_and_categories(
    client: httpx.AsyncClient,
) -> None:
    html = (await client.get("/console/systems")).text
    assert "Dataset CRM database" in html
    assert "Collection <code>contacts</code>" in html
    assert "<code>email</code>" in html and "Identity: email" in html
    assert "References crm_db.contacts.id" in html


async def test_recipients_page_highlights_overdue_reviews(
    client: httpx.AsyncClient,
    apply_document: Callable[[PolicyDocument], None],
    applied: PolicyDocument,
) -> None:
    html = (await client.get("/console/recipients")).text
    assert "Courier" in html and "None recorded" in html and "overdue" not in html

    yesterday = dt.date.today() - dt.timedelta(days=1)
    checks = DueDiligence(nda_signed_on=dt.date(2024, 5, 2), next_review_on=yesterday)
    recipient = applied.recipients[0].model_copy(update={"due_diligence": checks})
    apply_document(applied.model_copy(update={"recipients": [recipient]}))
    html = (await client.get("/console/recipients")).text
    assert "NDA signed 2 May 2024" in html
    assert '<li class="overdue">' in html and "review overdue" in html
    overview = " ".join((await client.get("/console/")).text.split())
    assert "Due diligence review overdue for 1 recipient: Courier." in overview


async def test_policy_versions_page_lists_each_version(
    client: httpx.AsyncClient,
    apply_document: Callable[[PolicyDocument], None],
    applied: PolicyDocument,
) -> None:
    notice = applied.notice.model_copy(update={"version": "2.0"})
    apply_document(applied.model_copy(update={"notice": notice}))
    html = (await client.get("/console/policy-versions")).text
    assert "2 (in force)" in html
    assert html.index("<td>2.0</td>") < html.index("<td>1.0</td>")  # newest first
