"""The closing step: package what was found (access, portability), or report what changed
and finish the request (erasure, rectification, restriction); then complete it. A package
bound for another controller is completed by the transmit step after it (execution.transmission).

The package is written to the store's encrypted file blocks as it streams, and the letter
sent to the person holds a signed link to it that lasts as long as the package is kept. A
closing step retried after a crash first removes the file its earlier attempt may have left.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendpo.execution import finishing
from opendpo.execution.files import open_writer, remove_files
from opendpo.execution.outcome import Heartbeat, Outcome
from opendpo.execution.package import PackageSection, write_package
from opendpo.execution.package_contents import PackageKind, choose_fields
from opendpo.execution.planning import Phase
from opendpo.execution.records import RequestStep, StoredFile
from opendpo.execution.report import build_report
from opendpo.execution.report_facts import FoundCollection, RequestFacts
from opendpo.execution.rowstore import FoundRows
from opendpo.execution.runtime import Runtime
from opendpo.execution.steps import StepStatus
from opendpo.execution.systems import SystemBinding, bindings
from opendpo.rights import workflow
from opendpo.rights.kinds import RequestKind
from opendpo.rights.letters import LetterContext
from opendpo.rights.records import Request
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.links import LinkSigner

ENGINE = Actor(ActorKind.SYSTEM, "engine")
DOWNLOAD_LINK = "download"
DOWNLOAD_PATH = "/privacy/downloads/{token}"
# The request covers all of the person's data unless it says otherwise.
ALL_PERSONAL = ("user",)


def download_url(links: LinkSigner, base_url: str, file_id: str) -> str:
    """The link a letter gives for a stored package."""
    token = links.sign(DOWNLOAD_LINK, {"file": file_id})
    return base_url.rstrip("/") + DOWNLOAD_PATH.format(token=token)


def run(
    runtime: Runtime, session: Session, request: Request, step: RequestStep, heartbeat: Heartbeat
) -> Outcome:
    # An earlier attempt may have left a file behind: it never reached anyone.
    if step.attempts > 1:
        stale = list(session.scalars(select(StoredFile.id).where(StoredFile.step_id == step.id)))
        if stale:
            remove_files(runtime.session_factory, stale)
    if Phase(step.phase) is Phase.FINISH:
        return finishing.run(runtime, session, request, step)
    return _package(runtime, session, request, step, heartbeat)


def found_steps(session: Session, request: Request) -> list[RequestStep]:
    return list(
        session.scalars(
            select(RequestStep)
            .where(
                RequestStep.request_id == request.id,
                RequestStep.phase == Phase.FIND.value,
                RequestStep.status == StepStatus.DONE.value,
            )
            .order_by(RequestStep.seq)
        )
    )


def _sections(
    reader: FoundRows,
    systems: Sequence[SystemBinding],
    steps: Sequence[RequestStep],
    fields: dict[str, tuple[str, ...]],
) -> tuple[list[PackageSection], list[FoundCollection]]:
    by_key = {s.key: s for s in systems}
    sections: list[PackageSection] = []
    found: list[FoundCollection] = []
    for step in steps:
        system = by_key.get(str(step.system))
        if system is None:
            continue
        counts: dict[str, int] = step.summary.get("rows", {})
        attempt = _attempt(step)
        for collection in system.collections:
            rows = counts.get(collection.key, 0)
            if not rows:
                continue
            found.append(
                FoundCollection(
                    system=system.name,
                    dataset=collection.dataset,
                    collection=collection.name,
                    categories=tuple(
                        sorted({c for f in collection.fields for c in f.data_categories})
                    ),
                    rows=rows,
                )
            )
            if collection.key not in fields:
                continue
            sections.append(
                PackageSection(
                    system=system.key,
                    system_name=system.name,
                    collection=collection,
                    fields=fields[collection.key],
                    rows=partial(
                        reader.rows, step_id=step.id, attempt=attempt, collection=collection.key
                    ),
                )
            )
    return sections, found


def _attempt(step: RequestStep) -> int:
    """The attempt whose rows a finished step keeps."""
    return int(step.summary.get("attempt", step.attempts))


def _package(
    runtime: Runtime, session: Session, request: Request, step: RequestStep, heartbeat: Heartbeat
) -> Outcome:
    policy = runtime.policy(session)
    systems = bindings(session=session, policy=policy)
    steps = found_steps(session, request)
    kind: PackageKind = "portability" if request.kind == RequestKind.PORTABILITY else "access"
    by_key = {s.key: s for s in systems}
    fields = choose_fields(
        policy,
        collections=[
            (system.key, c)
            for s in steps
            if (system := by_key.get(str(s.system))) is not None
            for c in system.collections
            if c.dataset == s.dataset
        ],
        covered=ALL_PERSONAL,
        kind=kind,
    )
    reader = FoundRows(
        session=session,
        session_factory=runtime.session_factory,
        steps=[(s.id, _attempt(s), sum(s.summary.get("rows", {}).values())) for s in steps],
    )
    sections, found = _sections(reader, systems, steps, fields)
    facts = RequestFacts(
        reference=request.reference,
        received_at=request.received_at,
        identities=tuple((i.kind, i.value) for i in request.identities if i.verified_at),
    )
    report = build_report(policy, found=found, request=facts, site_url=runtime.settings.base_url)
    now = dt.datetime.now(dt.UTC)
    expires = now + dt.timedelta(days=runtime.settings.package_days)
    writer = open_writer(
        session_factory=runtime.session_factory,
        session=session,
        request_id=request.id,
        purpose=f"{kind}_package",
        name=f"{request.reference}.zip",
        content_type="application/zip",
        step_id=step.id,
        expires_at=expires,
        created_by="engine",
    )
    with writer:
        summary = write_package(writer, sections=sections, report=report, kind=kind)
        heartbeat()
    file_id = writer.file_id
    total = summary.total_rows
    held_in = len({s.system for s in sections})
    message = (
        f"packaged {total} row{'s' if total != 1 else ''} "
        f"({json.dumps(list(summary.entries))[:200]})"
    )
    outcome = {"attempt": step.attempts, "file": file_id, "rows": dict(summary.rows)}
    if (step.inputs or {}).get("transmit"):
        # The transmit step completes the request, telling the person of both at once.
        return Outcome(
            status=StepStatus.DONE,
            summary={**outcome, "total": total, "systems": held_in},
            message=message + "; to be sent to the controller the person named",
        )
    link = download_url(runtime.links, runtime.settings.base_url, file_id)
    response = letter_text(kind, total, held_in, link, expires)
    context = LetterContext(policy, runtime.links, runtime.settings.base_url)
    letters = workflow.complete(
        session=session, request=request, actor=ENGINE, response=response, context=context
    )
    return Outcome(status=StepStatus.DONE, summary=outcome, message=message, letters=letters)


def letter_text(kind: str, rows: int, systems: int, link: str, expires: dt.datetime) -> str:
    what = (
        "a copy of your personal data"
        if kind == "access"
        else ("the personal data you gave us, in JSON and CSV, to take to another provider")
    )
    return (
        f"We have gathered {what}: {rows} record{'s' if rows != 1 else ''} from "
        f"{systems} system{'s' if systems != 1 else ''}.\n\n"
        f"Download it here (the link works until {expires:%d %B %Y}):\n{link}\n\n"
        + (
            "The file report.html in the download explains, in plain language, why we hold "
            "each kind of data, who we share it with, how long we keep it and your rights."
            if kind == "access"
            else "The download holds data.json and one CSV file per kind of record."
        )
    )
