"""The local CRM API the HTTP connector tests talk to: started once a module, reset for each
test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from http_crm_server import CrmServer


@pytest.fixture(scope="module")
def crm_server() -> Iterator[CrmServer]:
    server = CrmServer()
    with server.running():
        yield server


@pytest.fixture
def crm(crm_server: CrmServer) -> CrmServer:
    crm_server.reset()
    return crm_server
