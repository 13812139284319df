"""The decision point over HTTP: may this identity's data be used for this purpose, so?

Answers never carry a person id or say whether the person is known: a key that may ask for
decisions must not learn who is on file beyond what the rules themselves imply.

Decisions are not audited one by one. They read no personal data value (the identity is
looked up by its keyed hash) and are asked for at campaign rates; an audit entry per
decision would cost more than the decision and drown the log.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterator, Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from opendpo.decisions.bulk import BulkOutcome, decide_many
from opendpo.decisions.decide import Outcome, decide
from opendpo.decisions.rules import MESSAGES, Reason, rule_for
from opendpo.errors import NoPolicyApplied
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.versions import current_version
from opendpo.security.roles import Permission
from opendpo.web.api.campaign_lists import (
    CSV,
    NDJSON,
    BodyStreamingResponse,
    ListRow,
    RecipientList,
    open_list,
)
from opendpo.web.auth import permit
from opendpo.web.dependencies import PolicyDep, StateDep
from opendpo.web.state import WebState

router = APIRouter(tags=["decisions"], dependencies=[permit(Permission.DECISIONS_READ)])

MAX_VALUE = 400


def gpc_requested(request: Request) -> bool:
    return request.headers.get("sec-gpc", "").strip() == "1"


class IdentityRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Plain text, checked by the decision point, so every problem names identity.kind/value.
    kind: Annotated[str, Field(max_length=40)]
    value: Annotated[str, Field(max_length=MAX_VALUE)]


class DecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identity: IdentityRef
    purpose: Annotated[str, Field(max_length=120)]
    channel: Annotated[str, Field(max_length=20)]
    recipient: Annotated[str | None, Field(max_length=120)] = None


class ReasonPublic(BaseModel):
    code: Reason
    message: str


class DecisionPublic(BaseModel):
    allowed: bool
    reasons: list[ReasonPublic]
    purpose: str
    channel: str
    lawful_basis: str
    decided_at: dt.datetime


@router.post("/decisions", response_model=DecisionPublic, summary="Decide one use of one identity")
async def decision_create(
    body: DecisionCreate, request: Request, state: StateDep
) -> DecisionPublic:
    """Allowed or not, with every reason that applies. `Sec-GPC: 1` is honoured."""
    # One hop to the thread pool for all the store work: this route is called at campaign
    # rates, and each hop costs about as much as the decision itself.
    return await run_in_threadpool(_decide_one, state, body, gpc_requested(request))


def _decide_one(state: WebState, body: DecisionCreate, gpc: bool) -> DecisionPublic:
    now = dt.datetime.now(dt.UTC)

    def decide_under(policy: PolicyDocument) -> Outcome:
        return decide(
            session=connection,
            keyring=state.keyring,
            policy=policy,
            identity_kind=body.identity.kind,
            identity_value=body.identity.value,
            purpose=body.purpose,
            channel=body.channel,
            recipient=body.recipient,
            gpc=gpc,
            now=now,
        )

    with state.read_engine.connect() as connection:
        known = state.policy_cache.latest()
        outcome = decide_under(known[1]) if known is not None else None
        # The facts come with the digest of the policy in force: one round trip, unless a
        # policy was applied since this process last loaded one.
        if outcome is None or known is None or outcome.policy_digest != known[0]:
            with Session(bind=connection) as session:
                version = current_version(session=session)
                if version is None:
                    raise NoPolicyApplied()
                policy = state.policy_cache.document(version)  # may load the document
            outcome = decide_under(policy)
    return DecisionPublic(
        allowed=outcome.decision.allowed,
        reasons=[ReasonPublic(code=r, message=MESSAGES[r]) for r in outcome.decision.reasons],
        purpose=outcome.rule.purpose,
        channel=outcome.rule.channel.value,
        lawful_basis=outcome.rule.lawful_basis,
        decided_at=now,
    )


BULK_DESCRIPTION = f"""Stream a campaign list in and the decisions out, in the same order.

Send `{CSV}` (a header row with an `email` column, or `kind` and `value` columns) to get CSV
back: the input columns plus `allowed`, `reasons` (codes separated by `;`) and `error`. Send
`{NDJSON}` (one `{{"email": ...}}` or `{{"kind": ..., "value": ...}}` per line) to get one
JSON object per line back. A line that cannot be read gets an `error` naming its line number;
the rest of the list goes on.
"""


@router.post(
    "/decisions/bulk",
    summary="Decide a whole campaign list",
    description=BULK_DESCRIPTION,
    response_class=BodyStreamingResponse,
    responses={200: {"content": {CSV: {}, NDJSON: {}}}, 415: {"description": "Not CSV or NDJSON"}},
)
async def decision_bulk(
    request: Request,
    state: StateDep,
    policy: PolicyDep,
    purpose: Annotated[str, Query(max_length=120)],
    channel: Annotated[str, Query(max_length=20)],
    recipient: Annotated[str | None, Query(max_length=120)] = None,
) -> BodyStreamingResponse:
    # Checked before anything is streamed: a wrong purpose is one 422, not a million errors.
    rule_for(policy, purpose=purpose, channel=channel, recipient=recipient)
    recipients = await open_list(request)
    decider = BatchDecider(state, policy, purpose, channel, recipient, gpc_requested(request))
    body = (
        _csv_results(recipients, decider)
        if recipients.format == CSV
        else _ndjson_results(recipients, decider)
    )
    return BodyStreamingResponse(body, media_type=recipients.format)


class BatchDecider:
    """Decides one batch of list rows at a time, off the event loop, with a session of its
    own: the request's session would be closed before a long stream ends."""

    def __init__(
        self,
        state: WebState,
        policy: PolicyDocument,
        purpose: str,
        channel: str,
        recipient: str | None,
        gpc: bool,
    ) -> None:
        self.state, self.policy, self.gpc = state, policy, gpc
        self.purpose, self.channel, self.recipient = purpose, channel, recipient

    async def decide(self, batch: Sequence[ListRow]) -> list[BulkOutcome | None]:
        """One outcome per row, None for a row that could not be read."""
        identities = [row.identity for row in batch]
        wanted = [identity for identity in identities if identity is not None]
        outcomes = iter(await run_in_threadpool(self._decide, wanted))
        return [next(outcomes) if identity is not None else None for identity in identities]

    def _decide(self, rows: list[tuple[str, str]]) -> list[BulkOutcome]:
        if not rows:
            return []
        with self.state.session_factory() as session:
            return list(
                decide_many(
                    session=session,
                    keyring=self.state.keyring,
                    policy=self.policy,
                    purpose=self.purpose,
                    channel=self.channel,
                    recipient=self.recipient,
                    gpc=self.gpc,
                    rows=rows,
                )
            )


def row_error(row: ListRow, outcome: BulkOutcome | None) -> str | None:
    if row.error is not None:
        return row.error
    if outcome is not None and outcome.error is not None:
        return f"line {row.line}: {outcome.error}"
    return None


async def _csv_results(recipients: RecipientList, decider: BatchDecider) -> AsyncIterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    width = len(recipients.header)
    writer.writerow([*recipients.header, "allowed", "reasons", "error"])
    async for batch in recipients.batches():
        for row, outcome in zip(batch, await decider.decide(batch), strict=True):
            cells = (row.cells + [""] * width)[:width]
            allowed = outcome is not None and outcome.allowed
            reasons = ";".join(r.value for r in outcome.reasons) if outcome else ""
            writer.writerow(
                [*cells, "true" if allowed else "false", reasons, row_error(row, outcome) or ""]
            )
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    if out.tell():
        yield out.getvalue()


async def _ndjson_results(recipients: RecipientList, decider: BatchDecider) -> AsyncIterator[str]:
    async for batch in recipients.batches():
        lines = []
        for row, outcome in zip(batch, await decider.decide(batch), strict=True):
            result = {
                "line": row.line,
                "kind": row.kind,
                "value": row.value,
                "allowed": outcome is not None and outcome.allowed,
                "reasons": [r.value for r in outcome.reasons] if outcome else [],
                "error": row_error(row, outcome),
            }
            lines.append(json.dumps(result) + "\n")
        yield "".join(lines)
