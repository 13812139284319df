"""Downloading an access or portability package by the signed link in the completion letter.

The link is the key: `/privacy/downloads/{token}` names the stored file, signed for the
"download" purpose, and keeps working as long as the package is kept (OPENDPO_PACKAGE_DAYS).
A link that is altered, expired or made for something else, and a package that has expired,
been removed or was never finished, all get the same answer as the privacy centre's other
links: nothing tells a guesser which it was. Every download is written to the audit log.

The zip is decrypted block by block as it is sent: memory stays bounded whatever its size.
The first block is read before the response starts, so a package damaged from its start is
an error page, not a broken download; damage further in cuts the download short (the
Content-Length tells the browser) and is logged.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from opendpo.errors import NotFound
from opendpo.execution.closing import DOWNLOAD_LINK, DOWNLOAD_PATH
from opendpo.execution.files import completed_file, read_blocks
from opendpo.rights.records import Request as RightsRequest
from opendpo.security import audit
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.errors import LinkInvalid
from opendpo.security.roles import Permission
from opendpo.web.auth import client_address, permit
from opendpo.web.dependencies import SessionDep, StateDep
from opendpo.web.public import public_limit

logger = logging.getLogger(__name__)

PATH = DOWNLOAD_PATH
# Files a person may fetch by link; attachments and erasure reports are for staff.
PACKAGES = frozenset({"access_package", "portability_package"})
DAY = 24 * 3600

router = APIRouter(
    include_in_schema=False,
    dependencies=[public_limit("downloads"), permit(Permission.PUBLIC)],
)


def _logged(blocks: Iterator[bytes], file_id: str) -> Iterator[bytes]:
    try:
        yield from blocks
    except Exception:
        # Headers are gone: the browser sees a download shorter than its Content-Length.
        logger.exception("download of stored file %s stopped part way", file_id)
        raise


@router.get(PATH, name="privacy_download")
def download(request: Request, token: str, state: StateDep, session: SessionDep) -> Response:
    max_age = state.settings.package_days * DAY
    payload = state.links.load(DOWNLOAD_LINK, token, max_age=max_age)
    file_id = payload.get("file") if isinstance(payload, dict) else None
    if not isinstance(file_id, str):
        raise LinkInvalid()
    try:
        stored = completed_file(session=session, file_id=file_id)
    except NotFound:
        raise LinkInvalid() from None
    found = session.get(RightsRequest, stored.request_id)
    if stored.purpose not in PACKAGES or found is None:
        raise LinkInvalid()
    blocks = read_blocks(session_factory=state.session_factory, file_id=stored.id)
    first = next(blocks, b"")
    audit.record(
        session=session,
        keyring=state.keyring,
        actor=Actor(ActorKind.SUBJECT, address=client_address(request)),
        action="request.package_downloaded",
        target_kind="stored_file",
        target_id=stored.id,
        details={"request_id": stored.request_id, "purpose": stored.purpose, "bytes": stored.size},
    )
    session.commit()
    headers = {
        "content-disposition": f'attachment; filename="{found.reference}.zip"',
        "content-length": str(stored.size),
        "cache-control": "no-store",
    }
    return StreamingResponse(
        _logged(itertools.chain([first], blocks), stored.id),
        media_type=stored.content_type,
        headers=headers,
    )
