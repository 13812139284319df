"""The read-only API over the current policy, and its OpenAPI description."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import httpx
import pytest

from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.sharing import DueDiligence
from opendpo.web.assets import SWAGGER_UI

pytestmark = pytest.mark.anyio


async def test_current_policy(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/v1/policy")).json()
    assert body["number"] == 1
    assert body["notice_version"] == "1.0"
    assert body["controller"] == "Example Widgets Ltd"
    assert body["effective_date"] == "2026-01-01"
    assert len(body["digest"]) == 64
    assert dt.datetime.fromisoformat(body["applied_at"]).tzinfo is not None


async def test_versions_grow_when_a_changed_policy_is_applied(
    client: httpx.AsyncClient,
    apply_document: Callable[[PolicyDocument], None],
    applied: PolicyDocument,
) -> None:
    notice = applied.notice.model_copy(update={"version": "1.1"})
    apply_document(applied.model_copy(update={"notice": notice}))
    items = (await client.get("/api/v1/policy/versions")).json()["items"]
    assert [(v["number"], v["notice_version"]) for v in items] == [(1, "1.0"), (2, "1.1")]
    assert (await client.get("/api/v1/policy")).json()["notice_version"] == "1.1"
    assert (await client.get("/api/v1/policy/versions/2")).json()["notice_version"] == "1.1"
    assert (await client.get("/api/v1/policy/versions/3")).status_code == 404


async def test_purposes(client: httpx.AsyncClient) -> None:
    items = (await client.get("/api/v1/purposes")).json()["items"]
    assert [p["key"] for p in items] == ["client_contracts", "marketing_email"]
    marketing = (await client.get("/api/v1/purposes/marketing_email")).json()
    assert marketing["lawful_basis"] == "consent"
    assert marketing["article"] == "Art 6(1)(a)"
    assert marketing["consent"]["withdrawal_routes"] == ["preferences", "dpo_email"]
    assert {"key": "user.contact.email", "name": "Email"} in marketing["data_categories"]
    assert marketing["direct_marketing"] is True
    assert marketing["retention"] == "marketing_consent"


async def test_recipients_show_due_diligence_and_overdue_reviews(
    client: httpx.AsyncClient,
    apply_document: Callable[[PolicyDocument], None],
    applied: PolicyDocument,
) -> None:
    courier = (await client.get("/api/v1/recipients/courier")).json()
    assert courier["kind"] == "courier" and courier["role"] == "controller"
    assert courier["minimum_fields"] == [{"key": "user.name", "name": "Name"}]
    assert courier["due_diligence"] is None

    checks = DueDiligence(dpa_signed_on=dt.date(2024, 1, 1), next_review_on=dt.date(2025, 1, 1))
    recipient = applied.recipients[0].model_copy(
        update={"due_diligence": checks, "country": "US", "transfer_mechanism": "idta"}
    )
    apply_document(applied.model_copy(update={"recipients": [recipient]}))
    courier = (await client.get("/api/v1/recipients")).json()["items"][0]
    assert courier["country"] == "US" and courier["transfer_mechanism"] == "idta"
    assert courier["due_diligence"]["review_overdue"] is True
    assert courier["due_diligence"]["dpa_signed_on"] == "2024-01-01"


async def test_systems_with_their_datasets(client: httpx.AsyncClient) -> None:
    items = (await client.get("/api/v1/systems")).json()["items"]
    assert items == [
        {
            "key": "crm",
            "name": "CRM",
            "description": None,
            "kind": "crm",
            "owner": None,
            "hosted_by": None,
            "country": "GB",
            "datasets": ["crm_db"],
        }
    ]
    crm = (await client.get("/api/v1/systems/crm")).json()
    (dataset,) = crm["dataset_details"]
    assert dataset["key"] == "crm_db"
    contacts, notes = dataset["collections"]
    fields = {field["name"]: field for field in contacts["fields"]}
    assert fields["id"]["primary_key"] is True
    assert fields["email"]["identity"] == "email"
    assert fields["email"]["data_categories"] == [{"key": "user.contact.email", "name": "Email"}]
    note_fields = {field["name"]: field for field in notes["fields"]}
    (reference,) = note_fields["contact_id"]["references"]
    assert reference == {"dataset": "crm_db", "field": "contacts.id", "direction": "from"}


async def test_openapi_describes_every_route_and_the_error_body(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/api/v1/openapi.json")).json()
    paths = set(schema["paths"])
    for path in (
        "/api/v1/policy",
        "/api/v1/policy/versions",
        "/api/v1/purposes",
        "/api/v1/purposes/{key}",
        "/api/v1/recipients",
        "/api/v1/recipients/{key}",
        "/api/v1/systems",
        "/api/v1/systems/{key}",
        "/healthz",
    ):
        assert path in paths
    not_found = schema["paths"]["/api/v1/purposes/{key}"]["get"]["responses"]["404"]
    assert not_found["content"]["application/json"]["schema"]["$ref"].endswith("ErrorResponse")
    invalid = schema["paths"]["/api/v1/policy/versions/{number}"]["get"]["responses"]["422"]
    assert invalid["content"]["application/json"]["schema"]["$ref"].endswith("ErrorResponse")
    assert "HTTPValidationError" not in schema["components"]["schemas"]


async def test_docs_come_from_the_vendored_swagger_ui(client: httpx.AsyncClient) -> None:
    page = await client.get("/api/v1/docs")
    assert page.status_code == 200
    bundle = f"/static/{SWAGGER_UI.path('swagger-ui-bundle.js')}"
    assert bundle in page.text
    assert "cdn." not in page.text and "https://" not in page.text
    assert "'sha256-" in page.headers["content-security-policy"]
    script = await client.get(bundle)
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text


async def test_each_request_is_logged_without_its_query_string(
    client: httpx.AsyncClient, web_logs: list[logging.LogRecord]
) -> None:
    await client.get("/api/v1/purposes?email=someone@example.com")
    (line,) = [r for r in web_logs if r.name == "opendpo.web.access"]
    assert line.method == "GET"  # type: ignore[attr-defined]
    assert line.path == "/api/v1/purposes"  # type: ignore[attr-defined]
    assert line.status == 200  # type: ignore[attr-defined]
    assert isinstance(line.duration_ms, float)  # type: ignore[attr-defined]
    assert "someone" not in line.getMessage()
