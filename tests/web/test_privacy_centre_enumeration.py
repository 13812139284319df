"""Before an address is proved, the privacy centre answers a person on file and a stranger
alike, byte for byte, at every step: the form, the code page, a wrong code, asking for a new
code, and asking for lost links.

Each request carries random values of its own (its signed links and its reference); those,
and only those, are replaced by placeholders before the responses are compared.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from consent_forms import Open, connect_ib, form_token, opener, submit
from generic_responses import assert_indistinguishable
from sqlalchemy import Engine

from opendpo.policy.model.document import PolicyDocument
from opendpo.security.keyring import Keyring
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.subjects.people import find_or_create_person, find_person

pytestmark = pytest.mark.anyio

KNOWN = "known.person@example.com"
STRANGER = "stranger@example.com"
# itsdangerous tokens (payload.timestamp.signature) in the centre's paths, and references.
TOKEN = re.compile(
    r"(/privacy-centre/(?:verify|requests)/)[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"
)
REFERENCE = re.compile(r"R-[0-9A-Z]{8}")


@pytest.fixture
def policy(apply_document: Callable[[PolicyDocument], None]) -> PolicyDocument:
    document = connect_ib()
    apply_document(document)
    return document


@pytest.fixture
def open_client(settings: Settings, policy: PolicyDocument, tmp_path: Path) -> Open:
    return opener(settings, tmp_path / "outbox")


@pytest.fixture
def on_file(engine: Engine, keyring: Keyring) -> str:
    """One person on file under KNOWN (the stranger is not)."""
    with make_session_factory(engine)() as session, session.begin():
        find_or_create_person(session=session, keyring=keyring, identities=[("email", KNOWN)])
    with make_session_factory(engine)() as session:
        assert find_person(session=session, keyring=keyring, kind="email", value=KNOWN)
        assert not find_person(session=session, keyring=keyring, kind="email", value=STRANGER)
    return KNOWN


# How long to wait depends on when each address's window began (a slow machine spreads the
# two windows over different seconds), not on who is on file: as the Retry-After header.
WAIT = re.compile(r"Try again in \d+ seconds")


class Normalised:
    """A response with the request's own random values replaced by placeholders."""

    def __init__(self, response: httpx.Response) -> None:
        def clean(text: str) -> str:
            text = WAIT.sub("Try again in N seconds", text)
            return REFERENCE.sub("R-REFERENCE", TOKEN.sub(r"\1TOKEN", text))

        self.response = httpx.Response(
            response.status_code,
            headers=[(k, clean(v)) for k, v in response.headers.items()],
            content=clean(response.text).encode(),
        )


def same(first: httpx.Response, second: httpx.Response, *ignore: str) -> None:
    # content-length follows the body, compared byte for byte after normalising.
    assert_indistinguishable(
        Normalised(first).response,
        Normalised(second).response,
        ignore_headers={"content-length", *ignore},
    )


async def ask(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await submit(client, "/privacy-centre/requests/new?kind=access", {"email": email})


async def test_every_step_before_proof_answers_known_and_unknown_alike(
    open_client: Open, on_file: str
) -> None:
    async with open_client() as client:
        known_sent = await ask(client, on_file)
        stranger_sent = await ask(client, STRANGER)
        assert known_sent.status_code == 303
        same(known_sent, stranger_sent)
        known_path = known_sent.headers["location"]
        stranger_path = stranger_sent.headers["location"]
        assert known_path != stranger_path  # each request its own link...

        known_page = await client.get(known_path)
        stranger_page = await client.get(stranger_path)
        assert known_page.status_code == 200
        same(known_page, stranger_page)  # ...and nothing else differs

        token = await form_token(client, "/privacy-centre/find")
        wrong = {"csrf_token": token, "code": "000000"}
        known_wrong = await client.post(known_path, data=wrong)
        stranger_wrong = await client.post(stranger_path, data=wrong)
        same(known_wrong, stranger_wrong)

        resend = {"csrf_token": token}
        known_resend = await client.post(f"{known_path}/resend", data=resend)
        stranger_resend = await client.post(f"{stranger_path}/resend", data=resend)
        assert known_resend.status_code == 409  # a code was sent a moment ago, to both
        same(known_resend, stranger_resend)

        known_find = await submit(client, "/privacy-centre/find", {"email": on_file})
        stranger_find = await submit(client, "/privacy-centre/find", {"email": STRANGER})
        assert known_find.status_code == 200
        assert_indistinguishable(known_find, stranger_find)  # no random values at all here


async def test_the_limits_run_out_alike(open_client: Open, on_file: str) -> None:
    async with open_client(rate_limit_identity="2/hour") as client:
        for email in (on_file, STRANGER):
            for _ in range(2):
                assert (await ask(client, email)).status_code == 303
        known = await ask(client, on_file)
        stranger = await ask(client, STRANGER)
        assert known.status_code == 429
        # Seconds to wait depend on when each address's window began, not on who is on file.
        same(known, stranger, "retry-after")
