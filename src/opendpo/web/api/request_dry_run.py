"""An erasure's dry run over the API: what it would change in every system, nothing changed.

The same dry run as `opendpo requests dry-run` (execution.dry_run): the systems are read, no
step is written, and the request stays ready to run. The dry run is noted on the request's
timeline and in the audit log before the listing goes out; the listing is the same JSON
document the CLI's `--output` writes, streamed, so a person with a million rows is listed in
full without the server holding them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import StreamingResponse

from opendpo.execution.dry_run import DryRun, dry_run, json_pieces, record_dry_run
from opendpo.rights.handling import get_request
from opendpo.security.roles import Permission
from opendpo.web.auth import Auth, Permit, record_audit
from opendpo.web.dependencies import SessionDep, StateDep

router = APIRouter(tags=["requests"])

# Reading every connected system for the person, as running the request would.
Writer = Annotated[Auth, Depends(Permit(Permission.REQUESTS_WRITE))]

LISTING = {
    "description": "The dry run: totals, then per system and collection the rows found, why "
    "they are deleted, masked or kept (the retention rule and legal reason of an exemption), "
    "each row's key and action with every field's change (strategy, data category, the old "
    "value masked, what is written instead), and the plan in plain words.",
    "content": {
        "application/json": {
            "example": {
                "request": "R-7K2M9QXD",
                "request_id": "4f0c…",
                "dry_run": True,
                "totals": {"update": 3, "delete": 1, "keep": 0},
                "systems": {
                    "crm": {
                        "name": "CRM",
                        "collections": {
                            "crm_db.contacts": {
                                "found": 1,
                                "reason": "masked: the contact's details",
                                "retention": None,
                                "legal_reason": None,
                                "rows": [
                                    {
                                        "key": {"id": 1},
                                        "action": "update",
                                        "fields": [
                                            {
                                                "field": "email",
                                                "strategy": "keyed_hash",
                                                "category": "user.contact.email",
                                                "old": "j***@e******.c**",
                                                "new": "a keyed hash (HMAC-SHA-256)",
                                            }
                                        ],
                                    }
                                ],
                                "plan": ["crm_db.contacts: 1 row kept, masked …"],
                            }
                        },
                    }
                },
                "by_person": [],
            }
        }
    },
}


@router.post(
    "/requests/{request_id}/dry-run",
    response_class=StreamingResponse,
    responses={200: LISTING},
    summary="What erasing the person would change in every system, changing nothing",
    description="For a verified erasure request not yet run: the connected systems are read "
    "as the erasure would read them and the changes worked out as it would work them out; "
    "nothing is written to any system and the request stays ready for `POST …/run`, which "
    "then makes exactly the changes listed. Old values are shown masked.",
)
def request_dry_run(
    auth: Writer, state: StateDep, session: SessionDep, request_id: str
) -> StreamingResponse:
    request = get_request(session=session, key=request_id)
    preview = dry_run(runtime=state.runner.runtime, session=session, request=request)
    try:
        record_dry_run(
            session=session,
            request=request,
            preview=preview,
            actor=auth.principal.actor,
            now=dt.datetime.now(dt.UTC),
        )
        record_audit(
            session=session,
            state=state,
            auth=auth,
            action="request.dry_run",
            target_kind="request",
            target_id=request.id,
            details=preview.totals(),
        )
        session.commit()  # on the log before the listing goes out
    except BaseException:
        preview.close()
        raise
    return StreamingResponse(_listed(preview), media_type="application/json")


def _listed(preview: DryRun) -> Iterator[bytes]:
    with preview:
        for piece in json_pieces(preview):
            yield piece.encode("utf-8")
