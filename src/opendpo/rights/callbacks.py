"""Delivering OpenDSR status callbacks: signed, retried with backoff, each exactly once.

`workflow.move` owes a StatusCallback row for every status change of a request that came with
callback URLs, in the same transaction as the change. Any number of processes may deliver at
once: each row is claimed by a conditional UPDATE (still undelivered and due), which only one
claimant can win, and the claim pushes the row's next attempt a lease into the future. A
process that dies mid-delivery leaves the row to be tried again when the lease runs out.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from opendpo.rights.opendsr import callback_body
from opendpo.rights.records import Request, StatusCallback
from opendpo.rights.signing import Signer

logger = logging.getLogger("opendpo.rights.callbacks")

FIRST_RETRY = dt.timedelta(seconds=30)
LONGEST_RETRY = dt.timedelta(hours=6)
# Twelve attempts with doubling waits cover about two days before a callback is given up.
MAX_ATTEMPTS = 12
# Longer than any one attempt can take (the HTTP client's timeout): the claim outlives it.
LEASE = dt.timedelta(minutes=5)
BATCH = 50


@dataclass(frozen=True)
class Outcome:
    delivered: int = 0
    failed: int = 0


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min, ... at most 6 h."""
    doubled: dt.timedelta = FIRST_RETRY * 2 ** max(attempts - 1, 0)
    return min(doubled, LONGEST_RETRY)


def deliver_due(
    *,
    session_factory: sessionmaker[Session],
    http: httpx.Client,
    signer: Signer,
    now: dt.datetime | None = None,
    request_id: str | None = None,
) -> Outcome:
    """Try every callback that is due (or only `request_id`'s); what came of the attempts."""
    moment = now or dt.datetime.now(dt.UTC)
    query = (
        select(StatusCallback.id)
        .where(
            StatusCallback.delivered_at.is_(None),
            StatusCallback.next_attempt_at <= moment,
            StatusCallback.attempts < MAX_ATTEMPTS,
        )
        .order_by(StatusCallback.next_attempt_at, StatusCallback.id)
        .limit(BATCH)
    )
    if request_id is not None:
        query = query.where(StatusCallback.request_id == request_id)
    with session_factory() as session:
        due = list(session.scalars(query))
    delivered = failed = 0
    for callback_id in due:
        claimed = _claim(session_factory, callback_id, moment)
        if claimed is None:
            continue  # another process has it
        url, body, attempts = claimed
        error = _post(http, signer, url, body)
        _record(session_factory, callback_id, attempts, error, moment)
        if error is None:
            delivered += 1
        else:
            failed += 1
    return Outcome(delivered=delivered, failed=failed)


def _claim(
    session_factory: sessionmaker[Session], callback_id: int, moment: dt.datetime
) -> tuple[str, bytes, int] | None:
    """(url, body, attempts so far) if this process won the row, else None."""
    with session_factory() as session, session.begin():
        won = session.execute(
            update(StatusCallback)
            .where(
                StatusCallback.id == callback_id,
                StatusCallback.delivered_at.is_(None),
                StatusCallback.next_attempt_at <= moment,
            )
            .values(next_attempt_at=moment + LEASE, attempts=StatusCallback.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if getattr(won, "rowcount", 0) != 1:
            return None
        callback = session.get(StatusCallback, callback_id)
        assert callback is not None
        request = session.get(Request, callback.request_id)
        assert request is not None
        body = callback_body(request, url=callback.url, status=callback.status)
        # Compact and in a fixed order: the bytes signed are the bytes sent.
        raw = json.dumps(body, separators=(",", ":")).encode()
        return callback.url, raw, callback.attempts


def _post(http: httpx.Client, signer: Signer, url: str, body: bytes) -> str | None:
    """None if the controller took the callback (any 2xx), else what went wrong."""
    headers = {"content-type": "application/json", **signer.headers(body)}
    try:
        response = http.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    if not response.is_success:
        return f"HTTP {response.status_code}"
    return None


def _record(
    session_factory: sessionmaker[Session],
    callback_id: int,
    attempts: int,
    error: str | None,
    moment: dt.datetime,
) -> None:
    with session_factory() as session, session.begin():
        callback = session.get(StatusCallback, callback_id)
        assert callback is not None
        if error is None:
            callback.delivered_at = moment
            callback.last_error = None
            return
        callback.last_error = error
        callback.next_attempt_at = moment + retry_delay(attempts)
        if attempts >= MAX_ATTEMPTS:
            # The spec asks processors to notice callbacks that keep failing.
            logger.warning(
                "OpenDSR callback %s to %s given up after %s attempts: %s",
                callback_id,
                callback.url,
                attempts,
                error,
                extra={"callback_id": callback_id, "request_id": callback.request_id},
            )
