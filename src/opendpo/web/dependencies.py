"""What route functions ask for: settings, a store session, the current policy.

Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in the
thread pool, and a hop there and back for every trivial lookup costs more than the lookup.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from opendpo.errors import NoPolicyApplied
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.taxonomy import Vocabulary, vocabulary
from opendpo.policy.versions import PolicyVersion, current_version
from opendpo.rights.letters import LetterContext
from opendpo.settings import Settings
from opendpo.web.state import WebState, web_state


async def get_state(request: Request) -> WebState:
    return web_state(request)


StateDep = Annotated[WebState, Depends(get_state)]


async def get_settings(state: StateDep) -> Settings:
    return state.settings


async def get_session(state: StateDep) -> AsyncIterator[Session]:
    # Opening a session does no I/O. Closing one that holds a connection does (a rollback),
    # so that runs in a thread; closing one that never touched the store costs nothing.
    session = state.session_factory()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def get_policy_version(session: SessionDep) -> PolicyVersion:
    version = current_version(session=session)
    if version is None:
        raise NoPolicyApplied()
    return version


PolicyVersionDep = Annotated[PolicyVersion, Depends(get_policy_version)]


async def get_policy(state: StateDep, version: PolicyVersionDep) -> PolicyDocument:
    if state.policy_cache.holds(version):
        return state.policy_cache.document(version)
    # Parsing a newly applied policy takes a while: not on the event loop.
    return await run_in_threadpool(state.policy_cache.document, version)


PolicyDep = Annotated[PolicyDocument, Depends(get_policy)]


async def get_vocabulary(policy: PolicyDep) -> Vocabulary:
    return vocabulary(policy.taxonomy)


VocabularyDep = Annotated[Vocabulary, Depends(get_vocabulary)]


async def get_letters(state: StateDep, policy: PolicyDep) -> LetterContext:
    return LetterContext(policy, state.links, state.settings.base_url)


# What rights workflow steps need to write to the person.
LettersDep = Annotated[LetterContext, Depends(get_letters)]
