"""Which of the policy's systems the demo estate can serve, and which it must leave out."""

from __future__ import annotations

from pathlib import Path

from opendpo.demo.connecting import estate_connections
from opendpo.demo.estate import default_estate_urls
from opendpo.policy.loader import load_policy
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.systems import System

ROOT = Path(__file__).resolve().parents[2]


def connect_ib() -> PolicyDocument:
    return load_policy(ROOT / "policies" / "connect-ib.yaml").document


def test_each_connect_ib_system_is_connected_to_its_own_file(tmp_path: Path) -> None:
    urls = default_estate_urls(tmp_path)
    connections, left_out = estate_connections(policy=connect_ib(), urls=urls)
    assert left_out == []
    assert {c.system: (c.datasets, dict(c.config)) for c in connections} == {
        "crm": (("crm_db",), {"type": "sql", "url": urls["crm_db"]}),
        "billing": (("billing_db",), {"type": "sql", "url": urls["billing_db"]}),
        "email_platform": (("email_platform",), {"type": "sql", "url": urls["email_platform"]}),
        "website": (("website_db",), {"type": "sql", "url": urls["website_db"]}),
    }


def test_systems_the_estate_cannot_serve_are_left_out_with_the_reason(tmp_path: Path) -> None:
    policy = connect_ib()
    crm = next(s for s in policy.systems if s.key == "crm")
    systems = [
        *policy.systems,
        System.model_validate(
            crm.model_dump() | {"key": "warehouse", "datasets": ["crm_db", "billing_db"]}
        ),
        System.model_validate(
            crm.model_dump() | {"key": "shop", "datasets": ["crm_db", "shop_db"]}
        ),
    ]
    urls = default_estate_urls(tmp_path)
    only_crm = {"crm_db": urls["crm_db"], "billing_db": urls["billing_db"]}
    connections, left_out = estate_connections(
        policy=policy.model_copy(update={"systems": systems}), urls=only_crm
    )
    assert [c.system for c in connections] == ["crm", "billing"]
    assert left_out == [
        "warehouse: its datasets are in 2 databases",
        "shop: the estate does not hold shop_db",
    ]
    shared = dict.fromkeys(only_crm, urls["crm_db"])
    connections, left_out = estate_connections(
        policy=policy.model_copy(update={"systems": systems}), urls=shared
    )
    assert [c.system for c in connections] == ["crm", "billing", "warehouse"]
    assert left_out == ["shop: the estate does not hold shop_db"]
