"""What route functions ask for: settings, a store session, the current policy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from opendpo.errors import NoPolicyApplied
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.taxonomy import Vocabulary, vocabulary
from opendpo.policy.versions import PolicyVersion, current_version
from opendpo.settings import Settings
from opendpo.web.state import WebState, web_state


def get_state(request: Request) -> WebState:
    return web_state(request)


StateDep = Annotated[WebState, Depends(get_state)]


def get_settings(state: StateDep) -> Settings:
    return state.settings


def get_session(state: StateDep) -> Iterator[Session]:
    with state.session_factory() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def get_policy_version(session: SessionDep) -> PolicyVersion:
    version = current_version(session=session)
    if version is None:
        raise NoPolicyApplied()
    return version


PolicyVersionDep = Annotated[PolicyVersion, Depends(get_policy_version)]


def get_policy(state: StateDep, version: PolicyVersionDep) -> PolicyDocument:
    return state.policy_cache.document(version)


PolicyDep = Annotated[PolicyDocument, Depends(get_policy)]


def get_vocabulary(policy: PolicyDep) -> Vocabulary:
    return vocabulary(policy.taxonomy)


VocabularyDep = Annotated[Vocabulary, Depends(get_vocabulary)]
