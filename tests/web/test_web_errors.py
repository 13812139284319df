"""One error body for every failure: walk every route, force a 500, break the store."""

from __future__ import annotations

import logging
import re

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy.orm import Session
from starlette.routing import Mount

from opendpo.settings import Settings
from opendpo.web.app import create_app
from opendpo.web.dependencies import get_session

pytestmark = pytest.mark.anyio

UNUSED_METHODS = ("DELETE", "PATCH", "PUT", "POST", "GET")


def assert_error_json(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "errors"}
    assert error["status"] == status
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["errors"], list)
    return dict(error)


def assert_error_page(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "<h1" in html
    assert f"<dd>{status}</dd>" in html
    assert f"<code>{code}</code>" in html
    assert "Traceback" not in html


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "no-such-key", path)


def routes(app: FastAPI) -> list[tuple[str, set[str]]]:
    """Every registered path (included routers resolved) and all the methods routes give it:
    two routes may share a path (GET and DELETE with different permissions)."""
    found: dict[str, set[str]] = {}
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if isinstance(route.original_route, Mount):
            found.setdefault(path + "/no-such-file.css", set()).update({"GET", "HEAD"})
        else:
            found.setdefault(concrete(path), set()).update(route.methods or {"GET"})
    return list(found.items())


def is_api(path: str) -> bool:
    return path.startswith(("/api/", "/healthz", "/opendsr/"))


async def test_every_route_answers_a_wrong_method_with_the_error_shape(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    checked = 0
    for path, methods in routes(app):
        method = next(m for m in UNUSED_METHODS if m not in methods)
        response = await client.request(method, path)
        if is_api(path):
            assert_error_json(response, 405, "method_not_allowed")
        else:
            assert_error_page(response, 405, "method_not_allowed")
        assert "allow" in response.headers, path
        checked += 1
    assert checked >= 20  # every API route, page, the docs and the static files


async def test_every_route_with_a_key_answers_an_unknown_key_with_404(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    paths = [
        path
        for path in (
            route.path or ""
            for route in iter_route_contexts(app.routes)
            if "GET" in (route.methods or {"GET"})  # actions (POST only) answer GET with 405
        )
        if "{" in path and "{number}" not in path
    ]
    assert len(paths) >= 4
    for path in paths:
        response = await client.get(concrete(path))
        if "{token}" in path:
            # A signed link that does not verify is a bad link, not a missing record: the
            # answer must not tell a forged token from one for someone unknown.
            assert_error_page(response, 400, "link_invalid")
        elif path.startswith("/opendsr/"):
            # Inside its routes OpenDSR answers in its own specification's error shape.
            assert response.status_code == 404
            assert response.json()["error"]["code"] == 404
        elif is_api(path):
            error = assert_error_json(response, 404, "not_found")
            assert "no-such-key" in str(error["message"])
        else:
            assert_error_page(response, 404, "not_found")


async def test_unknown_addresses_are_404_json_for_the_api_and_a_page_for_people(
    client: httpx.AsyncClient,
) -> None:
    assert_error_json(await client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error_page(await client.get("/nothing-here"), 404, "not_found")
    assert_error_page(await client.get("/static/no-such-file.css"), 404, "not_found")


async def test_validation_errors_name_the_field(client: httpx.AsyncClient) -> None:
    error = assert_error_json(
        await client.get("/api/v1/policy/versions/first"), 422, "validation_failed"
    )
    assert error["errors"] and error["errors"][0]["field"] == "number"  # type: ignore[index]
    assert "integer" in error["errors"][0]["message"]  # type: ignore[index]


def _broken_session() -> Session:
    raise RuntimeError("database password is hunter2")


async def test_an_unhandled_error_is_a_500_without_a_traceback(
    app: FastAPI, lenient_client: httpx.AsyncClient, web_logs: list[logging.LogRecord]
) -> None:
    app.dependency_overrides[get_session] = _broken_session
    response = await lenient_client.get("/api/v1/purposes")
    error = assert_error_json(response, 500, "internal_error")
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert error["errors"] == []

    page = await lenient_client.get("/console/")
    assert_error_page(page, 500, "internal_error")
    assert "hunter2" not in page.text

    logged = [r for r in web_logs if r.name == "opendpo.web.errors"]
    assert len(logged) == 2 and logged[0].exc_info is not None
    assert logged[0].path == "/api/v1/purposes"  # type: ignore[attr-defined]


async def test_no_policy_yet_is_a_503_for_the_api_and_a_clear_page(
    empty_client: httpx.AsyncClient,
) -> None:
    for path in ("/api/v1/policy", "/api/v1/purposes", "/api/v1/systems/crm"):
        assert_error_json(await empty_client.get(path), 503, "no_policy_applied")
    page = await empty_client.get("/")
    assert_error_page(page, 503, "no_policy_applied")
    assert "The privacy notice is not published yet" in page.text
    assert_error_page(await empty_client.get("/console/records"), 503, "no_policy_applied")
    # Versions list fine without any: an empty history is not an error.
    versions = await empty_client.get("/api/v1/policy/versions")
    assert versions.status_code == 200 and versions.json() == {"items": []}


async def test_health_is_ok_on_a_migrated_store(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["store"]["reachable"] is True and body["store"]["migrated"] is True


async def _health(settings: Settings) -> httpx.Response:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        return await client.get("/healthz")


async def test_health_is_503_on_a_store_not_migrated(database_url: str, settings: Settings) -> None:
    # `database_url` is an empty store: nobody has run the migrations.
    error = assert_error_json(await _health(settings), 503, "store_not_migrated")
    assert "opendpo db upgrade" in str(error["message"])


async def test_health_is_503_when_the_store_is_unreachable(settings: Settings) -> None:
    unreachable = settings.model_copy(
        update={"database_url": "postgresql://nobody@127.0.0.1:9/nowhere"}
    )
    assert_error_json(await _health(unreachable), 503, "store_unreachable")
