"""Console sign-in through the real forms: passwords, lockout, rate limits, CSRF, cookies,
timeouts, sign-out, one-time passwords and two-factor codes, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select
from staff_sessions import SignIn, as_staff

from opendpo.policy.model.document import PolicyDocument
from opendpo.security.audit import AuditEntry
from opendpo.security.roles import Role
from opendpo.security.sessions import StaffSession, token_hash
from opendpo.security.staff import StaffUser, add_user, get_user, set_disabled
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.web.app import create_app

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery staple"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
COOKIE = "opendpo_session"

Connect = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def connect(settings: Settings, applied: PolicyDocument) -> Connect:
    """Clients of an app built from the test settings with `overrides` (a fresh rate limiter)."""

    @asynccontextmanager
    async def open_client(
        address: str = "127.0.0.1", base_url: str = "http://testserver", **overrides: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        overrides.setdefault("rate_limit_login", "1000/minute")
        app = create_app(settings.model_copy(update={"base_url": base_url, **overrides}))
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url=base_url) as client,
        ):
            yield client

    return open_client


def add_staff(
    engine: Engine, username: str, *, password: str | None = PASSWORD, role: Role = Role.DPO
) -> str:
    """An account in the store; with `password`, one of its own, else the one-time password."""
    with make_session_factory(engine)() as session, session.begin():
        user, one_time = add_user(session=session, username=username, role=role, display_name="")
        if password is not None:
            user.password_hash = PasswordHasher().hash(password)
            user.must_change_password = False
        return one_time if password is None else password


def csrf_of(response: httpx.Response) -> str:
    found = CSRF_FIELD.search(response.text)
    assert found is not None, response.text
    return found.group(1)


async def submit(
    client: httpx.AsyncClient, path: str, data: dict[str, str], *, page: str | None = None
) -> httpx.Response:
    """Post a form as a browser would: the CSRF token comes from the form on `page`."""
    form = await client.get(page or path)
    assert form.status_code == 200, form.text
    return await client.post(path, data={"csrf_token": csrf_of(form), **data})


async def log_in(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD, **extra: str
) -> httpx.Response:
    return await submit(
        client, "/console/login", {"username": username, "password": password, **extra}
    )


def set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    cookies = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            cookies[name] = cookie
    return cookies


def actions(engine: Engine) -> list[str]:
    with make_session_factory(engine)() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def change_user(engine: Engine, username: str, change: Callable[[StaffUser], None]) -> None:
    with make_session_factory(engine)() as session, session.begin():
        change(get_user(session=session, username=username))


def change_session(engine: Engine, token: str, change: Callable[[StaffSession], None]) -> None:
    with make_session_factory(engine)() as session, session.begin():
        staff_session = session.get(StaffSession, token_hash(token))
        assert staff_session is not None
        change(staff_session)


async def test_the_right_password_opens_the_console(connect: Connect, engine: Engine) -> None:
    add_staff(engine, "alice")
    async with connect() as client:
        response = await log_in(client, "alice", next="/console/recipients")
        assert response.status_code == 303
        assert response.headers["location"] == "/console/recipients"
        page = await client.get("/console/recipients")
        assert page.status_code == 200
        assert "Signed in as <strong>alice</strong>" in page.text
    assert actions(engine) == ["auth.login"]


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/console", "/privacy", "/console\\@evil"]
)
async def test_sign_in_only_returns_to_console_pages(
    connect: Connect, engine: Engine, target: str
) -> None:
    add_staff(engine, "alice")
    async with connect() as client:
        response = await log_in(client, "alice", next=target)
        assert response.headers["location"] == "/console/"


async def test_wrong_password_and_unknown_name_get_the_same_answer(
    connect: Connect, engine: Engine
) -> None:
    add_staff(engine, "alice")
    async with connect() as client:
        wrong = await log_in(client, "alice", "not the password")
        unknown = await log_in(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "The name, password or code is not right." in wrong.text
    assert wrong.text.replace("alice", "NAME") == unknown.text.replace("nobody", "NAME")
    assert COOKIE not in set_cookies(wrong) and COOKIE not in set_cookies(unknown)
    assert actions(engine) == ["auth.login_failed", "auth.login_failed"]


async def test_an_account_locks_after_repeated_failures_even_for_the_right_password(
    connect: Connect, engine: Engine
) -> None:
    add_staff(engine, "alice")
    async with connect(login_max_failures=3, login_lockout_minutes=7) as client:
        for _ in range(2):
            assert (await log_in(client, "alice", "wrong password!")).status_code == 401
        locked = await log_in(client, "alice", "wrong password!")
        assert locked.status_code == 423
        assert "locked for up to 7 minutes" in locked.text
        still = await log_in(client, "alice")
        assert still.status_code == 423
        assert COOKIE not in set_cookies(still)
    assert actions(engine)[-2:] == ["auth.locked", "auth.locked"]


async def test_sign_in_attempts_are_rate_limited_per_address_and_per_name(
    connect: Connect, engine: Engine
) -> None:
    add_staff(engine, "alice")
    async with connect(rate_limit_login="2/minute") as client:
        for name in ("alice", "bob"):
            assert (await log_in(client, name, "wrong password!")).status_code == 401
        limited = await log_in(client, "carol", "wrong password!")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
    # Spread over addresses, guesses at one name still run out (one app, one counter).
    async with connect(rate_limit_login="2/minute") as first:
        transport = first._transport
        assert isinstance(transport, httpx.ASGITransport)
        statuses = []
        for number in (1, 2, 3):
            other = httpx.ASGITransport(app=transport.app, client=(f"10.0.0.{number}", 50000))
            async with httpx.AsyncClient(transport=other, base_url="http://testserver") as client:
                statuses.append((await log_in(client, "alice", "wrong password!")).status_code)
        assert statuses == [401, 401, 429]


async def test_the_sign_in_form_refuses_a_missing_or_wrong_csrf_token(
    connect: Connect, engine: Engine
) -> None:
    add_staff(engine, "alice")
    async with connect() as client:
        form = await client.get("/console/login")
        cookie = set_cookies(form)["opendpo_login_csrf"]["opendpo_login_csrf"]
        assert cookie["httponly"] and cookie["samesite"].lower() == "strict"
        token = csrf_of(form)
        credentials = {"username": "alice", "password": PASSWORD}
        for data in ({}, {"csrf_token": "x" * 43}, {"csrf_token": ""}):
            refused = await client.post("/console/login", data={**credentials, **data})
            assert refused.status_code == 403
            assert "did not come from this site" in refused.text
        client.cookies.clear()  # the right field without its cookie is no better
        refused = await client.post("/console/login", data={**credentials, "csrf_token": token})
        assert refused.status_code == 403
    assert actions(engine) == []


async def test_a_signed_in_post_without_the_session_csrf_token_is_refused(
    anonymous_client: httpx.AsyncClient, settings: Settings, sign_in: SignIn
) -> None:
    member = sign_in(Role.DPO)
    as_staff(anonymous_client, settings, member)
    del anonymous_client.headers["x-csrf-token"]
    for data in ({}, {"csrf_token": "forged"}):
        refused = await anonymous_client.post("/console/logout", data=data)
        assert refused.status_code == 403
    assert (await anonymous_client.get("/console/")).status_code == 200  # the session lives on
    signed_out = await anonymous_client.post(
        "/console/logout", data={"csrf_token": member.csrf_token}
    )
    assert signed_out.status_code == 303


@pytest.mark.parametrize("https", [False, True])
async def test_the_session_cookie_is_http_only_lax_and_secure_behind_tls(
    connect: Connect, engine: Engine, https: bool
) -> None:
    add_staff(engine, "alice")
    base_url = "https://opendpo.example" if https else "http://testserver"
    async with connect(base_url=base_url, session_absolute_hours=3) as client:
        response = await log_in(client, "alice")
        name = "__Host-opendpo_session" if https else COOKIE
        cookie = set_cookies(response)[name][name]
        assert cookie["httponly"] is True
        assert cookie["samesite"].lower() == "lax"
        assert cookie["path"] == "/"
        assert cookie["max-age"] == str(3 * 3600)
        assert not cookie["domain"]  # host-only
        assert bool(cookie["secure"]) is https
        assert (await client.get("/console/")).status_code == 200


async def test_idle_and_absolute_timeouts_end_the_session(connect: Connect, engine: Engine) -> None:
    add_staff(engine, "alice")
    async with connect(session_idle_minutes=10) as client:
        await log_in(client, "alice")
        token = client.cookies[COOKIE]
        assert (await client.get("/console/")).status_code == 200

        def idle(staff_session: StaffSession) -> None:
            staff_session.last_seen_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)

        change_session(engine, token, idle)
        response = await client.get("/console/")
        assert response.status_code == 303
        assert response.headers["location"] == "/console/login?next=%2Fconsole%2F"

        await log_in(client, "alice")
        token = client.cookies[COOKIE]

        def expired(staff_session: StaffSession) -> None:
            staff_session.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)

        change_session(engine, token, expired)
        response = await client.get("/console/purposes")
        assert response.headers["location"] == "/console/login?next=%2Fconsole%2Fpurposes"


async def test_sign_out_ends_the_session_in_the_store(connect: Connect, engine: Engine) -> None:
    add_staff(engine, "alice")
    async with connect() as client:
        await log_in(client, "alice")
        token = client.cookies[COOKIE]
        response = await submit(client, "/console/logout", {}, page="/console/")
        assert response.status_code == 303
        assert response.headers["location"] == "/console/login"
        cleared = set_cookies(response)[COOKIE][COOKIE]
        assert cleared.value == "" and cleared["max-age"] == "0"
        # A copy of the old cookie no longer opens anything.
        client.cookies.set(COOKIE, token, domain="testserver.local")
        assert (await client.get("/console/")).status_code == 303
    with make_session_factory(engine)() as session:
        stored = session.get(StaffSession, token_hash(token))
        assert stored is not None and stored.ended_at is not None
    assert actions(engine) == ["auth.login", "auth.logout"]


async def test_signing_in_again_replaces_the_session_in_the_browser(
    connect: Connect, engine: Engine, settings: Settings, sign_in: SignIn
) -> None:
    add_staff(engine, "alice")
    planted = sign_in(Role.AUDITOR)
    async with connect() as client:
        form = await client.get("/console/login")
        # A cookie planted (or left behind) while the form was open is replaced, not kept.
        client.cookies.set(COOKIE, planted.cookie, domain="testserver.local")
        credentials = {"username": "alice", "password": PASSWORD, "csrf_token": csrf_of(form)}
        response = await client.post("/console/login", data=credentials)
        assert response.status_code == 303
        assert client.cookies[COOKIE] != planted.cookie
        page = await client.get("/console/")
        assert "Signed in as <strong>alice</strong>" in page.text
        # Signed in, the sign-in page sends one on rather than offering a second session.
        assert (await client.get("/console/login")).headers["location"] == "/console/"
    with make_session_factory(engine)() as session:
        old = session.get(StaffSession, token_hash(planted.cookie))
        assert old is not None and old.ended_at is not None


async def test_a_one_time_password_must_be_changed_before_anything_else(
    connect: Connect, engine: Engine
) -> None:
    one_time = add_staff(engine, "bob", password=None)
    async with connect() as client:
        response = await log_in(client, "bob", one_time)
        assert response.headers["location"] == "/console/account/password"
        for path in ("/console/", "/console/account", "/console/account/totp"):
            blocked = await client.get(path)
            assert blocked.headers["location"] == "/console/account/password", path
        form = await client.get("/console/account/password")
        assert "Choose your password" in form.text and "console-user" not in form.text

        async def change(current: str, new: str, repeat: str) -> httpx.Response:
            data = {"current_password": current, "new_password": new, "repeat_password": repeat}
            return await submit(client, "/console/account/password", data)

        mismatch = await change(one_time, PASSWORD, PASSWORD + "!")
        assert mismatch.status_code == 422
        assert 'id="repeat_password-error"' in mismatch.text
        assert "the two new passwords are not the same" in mismatch.text
        short = await change(one_time, "short", "short")
        assert short.status_code == 422
        assert re.search(r'id="new_password-error"[^>]*>use at least 12 characters<', short.text)
        wrong = await change("not it at all", PASSWORD, PASSWORD)
        assert wrong.status_code == 422 and 'id="current_password-error"' in wrong.text

        done = await change(one_time, PASSWORD, PASSWORD)
        assert done.status_code == 303 and done.headers["location"] == "/console/"
        assert (await client.get("/console/")).status_code == 200
    assert actions(engine)[-1] == "auth.password_changed"
    with make_session_factory(engine)() as session:
        assert get_user(session=session, username="bob").must_change_password is False
    async with connect() as client:
        assert (await log_in(client, "bob", one_time)).status_code == 401
        assert (await log_in(client, "bob")).status_code == 303


async def test_changing_a_password_ends_the_other_sessions(
    connect: Connect, engine: Engine
) -> None:
    add_staff(engine, "alice")
    async with connect() as elsewhere, connect() as client:
        await log_in(elsewhere, "alice")
        await log_in(client, "alice")
        data = {
            "current_password": PASSWORD,
            "new_password": "a new passphrase, longer",
            "repeat_password": "a new passphrase, longer",
        }
        done = await submit(client, "/console/account/password", data)
        assert done.headers["location"] == "/console/account?done=password"
        assert "Your password has been changed" in (await client.get(done.headers["location"])).text
        assert (await elsewhere.get("/console/")).status_code == 303


async def enrol(client: httpx.AsyncClient) -> pyotp.TOTP:
    """Turn on two-factor sign-in through the account page; the app's TOTP."""
    start = await submit(client, "/console/account/totp", {"action": "start"})
    assert start.status_code == 303
    page = await client.get("/console/account/totp")
    assert 'src="data:image/svg+xml' in page.text
    found = re.search(r"otpauth://totp/OpenDPO:[^?]+\?secret=([A-Z2-7]+)", page.text)
    assert found is not None
    assert f'class="totp-secret">{found.group(1)}<' in page.text
    return pyotp.TOTP(found.group(1))


async def test_two_factor_sign_in_with_authenticator_codes(
    connect: Connect, engine: Engine
) -> None:
    add_staff(engine, "alice")
    async with connect() as client:
        await log_in(client, "alice")
        totp = await enrol(client)
        wrong = await submit(
            client, "/console/account/totp", {"action": "confirm", "code": "000000"}
        )
        assert wrong.status_code == 422 and 'id="code-error"' in wrong.text
        # The code of the previous 30 seconds is still accepted (clock drift), and then used up.
        used = totp.at(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30))
        confirmed = await submit(
            client, "/console/account/totp", {"action": "confirm", "code": used}
        )
        assert confirmed.headers["location"] == "/console/account?done=totp-on"
        await submit(client, "/console/logout", {}, page="/console/account")

        response = await log_in(client, "alice", next="/console/systems")
        assert response.headers["location"] == "/console/login/code?next=%2Fconsole%2Fsystems"
        partial = client.cookies[COOKIE]
        assert (await client.get("/console/")).headers["location"] == "/console/login/code"
        assert (await client.get("/console/account/password")).status_code == 303
        replayed = await submit(client, "/console/login/code", {"code": used})
        assert replayed.status_code == 401 and 'id="code-error"' in replayed.text
        next_code = totp.at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30))
        passed = await submit(
            client, "/console/login/code", {"code": next_code, "next": "/console/systems"}
        )
        assert passed.headers["location"] == "/console/systems"
        assert client.cookies[COOKIE] != partial  # a fresh token once fully signed in
        assert (await client.get("/console/systems")).status_code == 200
    assert actions(engine) == [
        "auth.login",
        "auth.totp_enabled",
        "auth.logout",
        "auth.login",
        "auth.second_factor_failed",
        "auth.second_factor_passed",
    ]


async def test_wrong_codes_count_towards_the_lockout(connect: Connect, engine: Engine) -> None:
    add_staff(engine, "alice")
    secret = pyotp.random_base32()

    def enrolled(user: StaffUser) -> None:
        user.totp_secret, user.totp_enabled = secret, True

    change_user(engine, "alice", enrolled)
    async with connect(login_max_failures=2) as client:
        await log_in(client, "alice")
        assert (await submit(client, "/console/login/code", {"code": "123"})).status_code == 401
        form = await client.get("/console/login/code")
        locked = await client.post(
            "/console/login/code", data={"csrf_token": csrf_of(form), "code": "12"}
        )
        assert locked.status_code == 423
        # Locked out, and the half-finished session is gone.
        assert (await client.get("/console/login/code")).status_code == 303
        assert (await log_in(client, "alice")).status_code == 423


async def test_two_factor_sign_in_can_be_turned_off_with_a_code(
    connect: Connect, engine: Engine
) -> None:
    add_staff(engine, "alice")
    async with connect() as client:
        await log_in(client, "alice")
        totp = await enrol(client)
        await submit(client, "/console/account/totp", {"action": "confirm", "code": totp.now()})

        def forget_last_code(user: StaffUser) -> None:
            user.totp_last_step = None  # as if the next 30 seconds had passed

        change_user(engine, "alice", forget_last_code)
        wrong = await submit(
            client, "/console/account/totp", {"action": "disable", "code": "999999"}
        )
        assert wrong.status_code == 422
        off = await submit(
            client, "/console/account/totp", {"action": "disable", "code": totp.now()}
        )
        assert off.headers["location"] == "/console/account?done=totp-off"
        account = await client.get("/console/account")
        assert "<dt>Two-factor sign-in</dt><dd>off</dd>" in account.text
    assert actions(engine)[-2:] == ["auth.totp_enabled", "auth.totp_disabled"]


async def test_a_disabled_account_cannot_sign_in_and_its_sessions_stop(
    connect: Connect, engine: Engine
) -> None:
    add_staff(engine, "alice")
    async with connect() as client:
        await log_in(client, "alice")
        assert (await client.get("/console/")).status_code == 200
        with make_session_factory(engine)() as session, session.begin():
            set_disabled(session=session, username="alice", disabled=True)
        assert (await client.get("/console/")).status_code == 303
        refused = await log_in(client, "alice")
        assert refused.status_code == 401
        assert "The name, password or code is not right." in refused.text


async def test_sign_in_pages_have_one_heading_and_no_inline_script(
    connect: Connect, engine: Engine
) -> None:
    add_staff(engine, "alice")
    async with connect() as client:
        pages = [await client.get("/console/login")]
        await log_in(client, "alice")
        for path in ("/console/account", "/console/account/password", "/console/account/totp"):
            pages.append(await client.get(path))
    for page in pages:
        assert page.status_code == 200
        assert page.text.count("<h1") == 1
        assert "<script>" not in page.text and " style=" not in page.text
        assert '<form method="post"' in page.text
