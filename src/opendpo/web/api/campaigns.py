"""Preparing a marketing campaign: only the people who may be contacted come back, each
with a personal unsubscribe link, the RFC 8058 headers and a footer naming the sender.

Preparing is refused (409 campaign_not_ready) until the installation can make those headers:
an https base URL (demo mode may use http, and the response says so) and an unsubscribe
mailbox. Each preparation is audited with its counts, never its addresses.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from opendpo.consent.campaigns import Campaign, Prepared, campaign_channel, readiness
from opendpo.decisions.bulk import decide_many
from opendpo.decisions.rules import rule_for
from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.security import audit
from opendpo.security.roles import Permission
from opendpo.subjects.identities import IdentityKind, normalise
from opendpo.web.api.campaign_lists import NDJSON, BodyStreamingResponse, open_list
from opendpo.web.api.decisions import MAX_VALUE, BatchDecider
from opendpo.web.auth import Auth, Permit, record_audit
from opendpo.web.dependencies import PolicyDep, SessionDep, StateDep
from opendpo.web.state import WebState

router = APIRouter(tags=["campaigns"])

Decider = Annotated[Auth, Depends(Permit(Permission.DECISIONS_READ))]
MAX_RECIPIENTS = 10_000  # larger lists stream: /campaigns/prepare/stream
ACTION = "campaign.prepared"


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Annotated[str, Field(max_length=120)]
    channel: Annotated[str, Field(max_length=20)] = "email"
    recipients: Annotated[
        list[Annotated[str, Field(max_length=MAX_VALUE)]],
        Field(min_length=1, max_length=MAX_RECIPIENTS),
    ]


class Footer(BaseModel):
    text: str
    html: str


class RecipientPublic(BaseModel):
    email: str
    unsubscribe_url: str
    headers: dict[str, str]
    footer: Footer


class Counts(BaseModel):
    received: int
    allowed: int
    denied: int


class CampaignPublic(BaseModel):
    purpose: str
    channel: str
    warnings: list[str]
    counts: Counts
    recipients: list[RecipientPublic]


def recipient_public(prepared: Prepared) -> RecipientPublic:
    return RecipientPublic(
        email=prepared.email,
        unsubscribe_url=prepared.unsubscribe_url,
        headers=prepared.headers,
        footer=Footer(text=prepared.footer_text, html=prepared.footer_html),
    )


def start(state: WebState, policy: PolicyDocument, purpose: str, channel: str) -> Campaign:
    """Refuses (409) an installation that cannot send RFC 8058 headers, then (422) a purpose
    or channel the policy lacks."""
    readiness(state.settings)
    campaign_channel(channel)
    rule_for(policy, purpose=purpose, channel=channel)
    return Campaign.start(
        settings=state.settings,
        keyring=state.keyring,
        links=state.links,
        policy=policy,
        purpose=purpose,
    )


@router.post("/campaigns/prepare", response_model=CampaignPublic, summary="Prepare a campaign")
def campaign_prepare(
    body: CampaignCreate, auth: Decider, state: StateDep, session: SessionDep, policy: PolicyDep
) -> CampaignPublic:
    """Only the recipients who may be emailed for this purpose, each with what their email
    must carry. A malformed address is a 422 naming it (`recipients.3`)."""
    campaign = start(state, policy, body.purpose, body.channel)
    warnings = readiness(state.settings)
    normal = [
        normalise(IdentityKind.EMAIL, email, field=f"recipients.{index}")
        for index, email in enumerate(body.recipients)
    ]
    outcomes = decide_many(
        session=session,
        keyring=state.keyring,
        policy=policy,
        purpose=body.purpose,
        channel=body.channel,
        rows=[(IdentityKind.EMAIL.value, email) for email in body.recipients],
    )
    prepared = [
        recipient_public(campaign.prepare(email, normal_form))
        for email, normal_form, outcome in zip(body.recipients, normal, outcomes, strict=True)
        if outcome.allowed
    ]
    counts = Counts(
        received=len(body.recipients),
        allowed=len(prepared),
        denied=len(body.recipients) - len(prepared),
    )
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action=ACTION,
        details={"purpose": body.purpose, "channel": body.channel, **counts.model_dump()},
    )
    session.commit()
    return CampaignPublic(
        purpose=body.purpose,
        channel=body.channel,
        warnings=warnings,
        counts=counts,
        recipients=prepared,
    )


STREAM_DESCRIPTION = """Like `/campaigns/prepare`, for lists of any size: send the list as
CSV (an `email` column) or JSON lines (`{"email": ...}`) and get back JSON lines, one per
recipient who may be contacted, in list order. Rows that cannot be read, or are not email
addresses, are left out and counted. A demo-mode warning comes in the `OpenDPO-Warning` header.
"""


@router.post(
    "/campaigns/prepare/stream",
    summary="Prepare a campaign from a streamed list",
    description=STREAM_DESCRIPTION,
    response_class=BodyStreamingResponse,
    responses={200: {"content": {NDJSON: {}}}, 415: {"description": "Not CSV or NDJSON"}},
)
async def campaign_prepare_stream(
    request: Request,
    auth: Decider,
    state: StateDep,
    policy: PolicyDep,
    purpose: Annotated[str, Query(max_length=120)],
    channel: Annotated[str, Query(max_length=20)] = "email",
) -> BodyStreamingResponse:
    campaign = start(state, policy, purpose, channel)
    warnings = readiness(state.settings)
    recipients = await open_list(request)
    decider = BatchDecider(state, policy, purpose, channel, None, False)
    counts = Counts(received=0, allowed=0, denied=0)

    async def results() -> AsyncIterator[str]:
        async for batch in recipients.batches():
            lines = []
            for row, outcome in zip(batch, await decider.decide(batch), strict=True):
                counts.received += 1
                if outcome is None or not outcome.allowed or row.kind != IdentityKind.EMAIL:
                    continue
                assert row.value is not None  # an allowed row has an identity
                try:
                    normal = normalise(IdentityKind.EMAIL, row.value)
                except InvalidValue:
                    continue
                counts.allowed += 1
                prepared = recipient_public(campaign.prepare(row.value, normal))
                lines.append(json.dumps({"line": row.line, **prepared.model_dump()}) + "\n")
            yield "".join(lines)
        counts.denied = counts.received - counts.allowed
        # Audited once the whole list is through: only then are the counts known.
        await run_in_threadpool(_audit_stream, state, auth, purpose, channel, counts)

    headers = {"OpenDPO-Warning": " ".join(warnings)} if warnings else None
    return BodyStreamingResponse(results(), media_type=NDJSON, headers=headers)


def _audit_stream(state: WebState, auth: Auth, purpose: str, channel: str, counts: Counts) -> None:
    with state.session_factory() as session, session.begin():
        audit.record(
            session=session,
            keyring=state.keyring,
            actor=auth.principal.actor,
            action=ACTION,
            details={"purpose": purpose, "channel": channel, **counts.model_dump()},
        )
