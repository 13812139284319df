"""The steps staff take on a request, in one table that the console, the API and the CLI share.

Each shell turns its own input (a form, a JSON body, command options) into `Fields`, finds the
action here by name, runs it in its transaction, writes `audit_details` under the action's audit
verb, commits, and only then sends the letters it returned. Domain errors pass through as the
workflow raises them, so every shell reports the same refusal the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from opendpo.rights import clock, verification, workflow
from opendpo.rights.letters import Letter, LetterContext
from opendpo.rights.records import Request
from opendpo.security.audit import Actor
from opendpo.security.staff import StaffUser


@dataclass(frozen=True)
class Fields:
    """What staff gave for a step, already parsed by the shell; each action reads its own."""

    identity_id: int = 0
    evidence: str = ""
    waiting_for: str = ""
    months: int = 0
    reason: str = ""
    explanation: str = ""
    question: str = ""
    note: str = ""
    response: str = ""
    staff: StaffUser | None = None  # None unassigns


Run = Callable[[Session, Request, Actor, LetterContext, Fields], list[Letter]]
Describe = Callable[[Request, Fields], dict[str, object]]


def _nothing(request: Request, fields: Fields) -> dict[str, object]:
    return {}


@dataclass(frozen=True)
class Action:
    """One step: `name` in console URLs and CLI commands, `path` in the API's URLs, `verb` in the
    audit log (`request.<verb>`), `needs` the fields it reads, `describe` what of them the audit
    entry may hold (ids, kinds and numbers, never what anyone wrote)."""

    name: str
    verb: str
    needs: tuple[str, ...]
    run: Run
    describe: Describe = _nothing
    path: str = ""

    @property
    def audit_action(self) -> str:
        return f"request.{self.verb}"

    @property
    def api_path(self) -> str:
        return self.path or self.name


def _verify(
    session: Session, request: Request, actor: Actor, context: LetterContext, fields: Fields
) -> list[Letter]:
    return verification.verify_by_staff(
        session=session,
        request=request,
        identity_id=fields.identity_id,
        actor=actor,
        evidence=fields.evidence,
        context=context,
    )


def _verified(request: Request, fields: Fields) -> dict[str, object]:
    kind = next(i.kind for i in request.identities if i.id == fields.identity_id)
    return {"identity": fields.identity_id, "identity_kind": kind}


def _begin(
    session: Session, request: Request, actor: Actor, context: LetterContext, fields: Fields
) -> list[Letter]:
    return workflow.begin(session=session, request=request, actor=actor)


def _await(
    session: Session, request: Request, actor: Actor, context: LetterContext, fields: Fields
) -> list[Letter]:
    return workflow.await_action(
        session=session, request=request, actor=actor, waiting_for=fields.waiting_for
    )


def _extend(
    session: Session, request: Request, actor: Actor, context: LetterContext, fields: Fields
) -> list[Letter]:
    return clock.extend(
        session=session,
        request=request,
        actor=actor,
        months=fields.months,
        reason=fields.reason,
        context=context,
    )


def _pause(
    session: Session, request: Request, actor: Actor, context: LetterContext, fields: Fields
) -> list[Letter]:
    return clock.pause(
        session=session, request=request, actor=actor, question=fields.question, context=context
    )


def _resume(
    session: Session, request: Request, actor: Actor, context: LetterContext, fields: Fields
) -> list[Letter]:
    return clock.resume(session=session, request=request, actor=actor, note=fields.note)


def _refuse(
    session: Session, request: Request, actor: Actor, context: LetterContext, fields: Fields
) -> list[Letter]:
    return workflow.refuse(
        session=session,
        request=request,
        actor=actor,
        reason=fields.reason,
        explanation=fields.explanation,
        context=context,
    )


def _complete(
    session: Session, request: Request, actor: Actor, context: LetterContext, fields: Fields
) -> list[Letter]:
    return workflow.complete(
        session=session, request=request, actor=actor, response=fields.response, context=context
    )


def _cancel(
    session: Session, request: Request, actor: Actor, context: LetterContext, fields: Fields
) -> list[Letter]:
    return workflow.cancel(
        session=session, request=request, actor=actor, reason=fields.reason, context=context
    )


def _assign(
    session: Session, request: Request, actor: Actor, context: LetterContext, fields: Fields
) -> list[Letter]:
    workflow.assign(session=session, request=request, actor=actor, staff=fields.staff)
    return []


def _note(
    session: Session, request: Request, actor: Actor, context: LetterContext, fields: Fields
) -> list[Letter]:
    workflow.add_note(session=session, request=request, actor=actor, note=fields.note)
    return []


ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action(
            "verify",
            "identity_verified",
            ("identity_id", "evidence"),
            _verify,
            _verified,
            path="verify-identity",
        ),
        Action("begin", "begun", (), _begin),
        Action("await", "awaiting_action", ("waiting_for",), _await),
        Action(
            "extend", "extended", ("months", "reason"), _extend, lambda r, f: {"months": f.months}
        ),
        Action("pause", "paused", ("question",), _pause),
        Action("resume", "resumed", ("note",), _resume),
        Action(
            "refuse",
            "refused",
            ("reason", "explanation"),
            _refuse,
            lambda r, f: {"reason": r.refusal_reason},
        ),
        Action("complete", "completed", ("response",), _complete),
        Action("cancel", "cancelled", ("reason",), _cancel),
        Action(
            "assign",
            "assigned",
            ("staff",),
            _assign,
            lambda r, f: {"staff": f.staff.id if f.staff is not None else None},
        ),
        Action("note", "noted", ("note",), _note),
    )
}


def audit_details(action: Action, request: Request, fields: Fields) -> dict[str, object]:
    """The audit entry's details once the step has run: where the request now stands, and
    what the step allows of its fields."""
    return {
        "reference": request.reference,
        "status": request.status,
        "due_on": str(request.due_on) if request.due_on is not None else None,
        **action.describe(request, fields),
    }


def perform(
    *,
    session: Session,
    request: Request,
    action: Action,
    actor: Actor,
    context: LetterContext,
    fields: Fields,
) -> tuple[list[Letter], dict[str, object]]:
    """Run one step in the caller's transaction: the letters it owes (to send after the
    commit) and the audit entry's details."""
    sent = action.run(session, request, actor, context, fields)
    return sent, audit_details(action, request, fields)
