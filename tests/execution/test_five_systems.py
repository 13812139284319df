"""Access, erasure, rectification and restriction in one request each, across PostgreSQL,
MariaDB, SQLite, Redis and an HTTP API, asserting the exact rows found and the exact state
each system is left in (Bob, who shares every system with Alice, is never touched)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from five_systems import ALICE, BOB, Estate
from running import Run, data_json, rows_of
from sqlalchemy import select

from opendpo.consent.suppression import Suppression, suppression_index
from opendpo.decisions.decide import decide
from opendpo.execution import changing
from opendpo.execution.records import RequestStep
from opendpo.execution.runtime import Runtime
from opendpo.subjects.flags import ProcessingFlag

pytestmark = [pytest.mark.postgres, pytest.mark.mariadb, pytest.mark.redis]


def statuses(steps: list[RequestStep]) -> list[tuple[int, str, str | None, str]]:
    return [(s.seq, s.phase, s.dataset, s.status) for s in steps]


def test_access_finds_exactly_alices_rows_everywhere(
    runtime: Runtime, estate: Estate, run_request: Run
) -> None:
    request, steps = run_request("access", ("email", ALICE))
    assert request.status == "completed"
    # The support desk needs the shop's customer ids: it runs after the shop.
    assert statuses(steps) == [
        (1, "find", "crm_api", "done"),
        (2, "find", "newsletter", "done"),
        (3, "find", "sessions", "done"),
        (4, "find", "shop", "done"),
        (5, "find", "support", "done"),
        (6, "package", None, "done"),
    ]
    assert steps[4].depends_on == [4]
    found = {k: v for s in steps for k, v in s.summary.get("rows", {}).items()} | {}
    assert steps[0].summary["rows"] == {
        "crm_api.contacts": 3, "crm_api.notes": 3, "crm_api.orders": 3, "crm_api.tickets": 7,
    }  # fmt: skip
    assert found["shop.customers"] == 1
    assert found["shop.orders"] == 2
    # Ticket 1 through the shop's customer id, ticket 2 by its capitalised address.
    assert found["support.tickets"] == 2
    assert found["support.messages"] == 2

    data = data_json(runtime, request.id)
    assert rows_of(data, "shop", "customers") == [{"id": 1, "email": ALICE, "name": "Alice Archer"}]
    # The package keeps what describes the person, and the keys that link its collections.
    assert rows_of(data, "shop", "orders") == [
        {"customer_id": 1, "total": "120.00", "delivery_name": "Alice Archer"},
        {"customer_id": 1, "total": "75.50", "delivery_name": "A. Archer"},
    ]
    assert sorted(r["subject"] for r in rows_of(data, "support", "tickets")) == ["Login", "Refund"]
    assert sorted(r["body"] for r in rows_of(data, "support", "messages")) == [
        "Cannot log in", "Please refund order 11",
    ]  # fmt: skip
    assert rows_of(data, "newsletter", "subscribers") == [{"email": ALICE, "first_name": "Alice"}]
    assert rows_of(data, "sessions", "sessions") == [
        {"email": ALICE, "ip_address": "203.0.113.7", "user_agent": "Firefox"}
    ]
    contacts = rows_of(data, "crm", "contacts")
    assert sorted(c["id"] for c in contacts) == [1, 2, 6]
    assert {c["email"] for c in contacts} == {ALICE}
    assert sorted(n["text"] for n in rows_of(data, "crm", "notes")) == [
        "Called about renewal", "Met at trade show", "Prefers email",
    ]  # fmt: skip
    # Nothing of Bob's anywhere in the package.
    assert BOB not in str(data) and "Bob" not in str(data)


def keyed_hash(runtime: Runtime, value: str) -> str:
    key = runtime.keyring.derived_key("erasure")
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("batched", [False, True], ids=["one batch", "a row at a time"])
def test_erasure_leaves_every_system_in_the_exact_state_expected(
    runtime: Runtime,
    estate: Estate,
    run_request: Run,
    monkeypatch: pytest.MonkeyPatch,
    batched: bool,
) -> None:
    sent: list[int] = []
    add_batch = changing.PlannedChanges.add

    def add(planned: changing.PlannedChanges, batch: changing.ChangeBatch, **kw: bool) -> None:
        sent.append(len(batch.changes))
        add_batch(planned, batch, **kw)

    monkeypatch.setattr(changing.PlannedChanges, "add", add)
    if batched:
        # As for a person with more rows than one batch holds: the same end, a row at a time.
        monkeypatch.setattr(changing, "ONE_BATCH_ROWS", 0)
        monkeypatch.setattr(changing, "BATCH_ROWS", 1)
    request, steps = run_request("erasure", ("email", ALICE))
    assert max(sent) == 1 if batched else max(sent) > 1
    assert request.status == "completed"
    # The courier received names: it is owed a notice (Art 19), left for staff to close.
    assert [(s.phase, s.system, s.status) for s in steps if s.status != "done"] == [
        ("notify", "courier", "waiting")
    ]

    # Shop: the customer stays (orders reference it), unlinkable; orders keep the total only.
    assert estate.rows(estate.shop, "SELECT id, email, name FROM customers ORDER BY id") == [
        (1, keyed_hash(runtime, ALICE), None),
        (2, BOB, "Bob Baker"),
    ]
    assert estate.rows(
        estate.shop, "SELECT id, customer_id, total::text, delivery_name FROM orders ORDER BY id"
    ) == [(10, 1, "120.00", None), (11, 1, "75.50", None), (12, 2, "20.00", "Bob Baker")]
    # Support: Alice's tickets and their messages deleted, children first.
    assert estate.rows(estate.support, "SELECT id FROM tickets ORDER BY id") == [(3,)]
    assert estate.rows(estate.support, "SELECT id, ticket_id FROM messages ORDER BY id") == [(3, 3)]
    # Newsletter and sessions: Alice's rows gone, Bob's as they were.
    assert estate.rows(estate.newsletter, "SELECT email, first_name FROM subscribers") == [
        (BOB, "Bob")
    ]
    assert estate.session(ALICE) == {}
    assert estate.session(BOB)[b"ip_address"] == b"203.0.113.8"
    # CRM API: Alice's contacts and notes deleted; Bob's contact and note still there.
    assert sorted(estate.crm.state.contacts) == [3, 4, 5]
    assert sorted(estate.crm.state.notes) == [13]

    with runtime.session_factory() as session:
        suppressed = session.scalars(select(Suppression)).all()
        assert [(s.blind_index, s.channel, s.reason) for s in suppressed] == [
            (suppression_index(runtime.keyring, "email", ALICE), "email", "erasure")
        ]
    erase = {s.dataset: s.summary["changed"] for s in steps if s.phase == "erase"}
    assert erase["support"] == {"support.messages": 2, "support.tickets": 2}
    assert erase["crm_api"] == {"crm_api.notes": 3, "crm_api.contacts": 3}


def test_erasure_run_again_changes_nothing_twice(
    runtime: Runtime, estate: Estate, run_request: Run
) -> None:
    from opendpo.execution import driving

    request, _ = run_request("erasure", ("email", ALICE))
    before = estate.rows(estate.shop, "SELECT id, email, name FROM customers ORDER BY id")
    # Replay every change step as a retry after a crash would: same rows found, same changes.
    with runtime.session_factory() as session:
        for step in session.scalars(
            select(RequestStep).where(
                RequestStep.request_id == request.id, RequestStep.phase == "erase"
            )
        ):
            step.status = "pending"
        request_row = session.get(type(request), request.id)
        assert request_row is not None
        request_row.status = "in_progress"
        session.commit()
    replayed = driving.drive(runtime, request.id)
    changed = {s.dataset: s.summary["changed"] for s in replayed if s.phase == "erase"}
    assert all(sum(c.values()) == 0 for c in changed.values()), changed
    assert estate.rows(estate.shop, "SELECT id, email, name FROM customers ORDER BY id") == before


def test_rectification_sets_the_corrected_fields_wherever_they_are_held(
    runtime: Runtime, estate: Estate, run_request: Run
) -> None:
    request, steps = run_request(
        "rectification",
        ("email", ALICE),
        details={"corrections": "My name is Alice Smith and I am now CTO"},
        inputs={"corrections": {"shop.customers.name": "Alice Smith", "user.job_title": "CTO"}},
    )
    assert request.status == "completed"
    assert estate.rows(estate.shop, "SELECT id, name FROM customers ORDER BY id") == [
        (1, "Alice Smith"), (2, "Bob Baker"),
    ]  # fmt: skip
    jobs = {i: c["job_title"] for i, c in estate.crm.state.contacts.items()}
    assert jobs == {1: "CTO", 2: "CTO", 3: "Buyer", 4: "Director", 5: "Intern", 6: "CTO"}
    rectify = {s.dataset: s.summary["changed"] for s in steps if s.phase == "rectify"}
    assert rectify["shop"] == {"shop.customers": 1}
    assert rectify["crm_api"] == {"crm_api.contacts": 3}


def test_restriction_flags_the_systems_and_the_decision_point_and_lifting_clears_them(
    runtime: Runtime, estate: Estate, run_request: Run
) -> None:
    request, _ = run_request("restriction", ("email", ALICE))
    assert request.status == "completed"
    newsletter = "SELECT email, restricted FROM subscribers ORDER BY email"
    assert estate.rows(estate.newsletter, newsletter) == [(ALICE, 1), (BOB, 0)]
    assert {i: c["restricted"] for i, c in estate.crm.state.contacts.items()} == {
        1: True, 2: True, 3: False, 4: False, 5: False, 6: True,
    }  # fmt: skip
    with runtime.session_factory() as session:
        flags = session.scalars(select(ProcessingFlag)).all()
        assert [(f.kind, f.lifted_at is None) for f in flags] == [("restriction", True)]

    lifted, _ = run_request("restriction_lift", ("email", ALICE))
    assert lifted.status == "completed"
    assert estate.rows(estate.newsletter, "SELECT restricted FROM subscribers ORDER BY email") == [
        (0,), (0,),
    ]  # fmt: skip
    assert not any(c["restricted"] for c in estate.crm.state.contacts.values())
    with runtime.session_factory() as session:
        flags = session.scalars(select(ProcessingFlag)).all()
        assert [(f.kind, f.lifted_at is None) for f in flags] == [("restriction", False)]


def test_a_direct_marketing_objection_sets_the_systems_flag_and_the_decision_point_refuses(
    runtime: Runtime, estate: Estate, run_request: Run
) -> None:
    request, steps = run_request(
        "objection", ("email", ALICE), details={"ground": "direct_marketing"}
    )
    assert request.status == "completed"
    # Only the do-not-contact flag is set: an objection is not a restriction.
    flags = "SELECT email, restricted, do_not_contact FROM subscribers ORDER BY email"
    assert estate.rows(estate.newsletter, flags) == [(ALICE, 0, 1), (BOB, 0, 0)]
    assert not any(c["restricted"] for c in estate.crm.state.contacts.values())
    with runtime.session_factory() as session:
        recorded = session.scalars(select(ProcessingFlag)).all()
        assert [(f.kind, f.purpose) for f in recorded] == [("objection", "marketing_email")]
        suppressed = session.scalars(select(Suppression)).all()
        assert [(s.channel, s.purpose, s.reason) for s in suppressed] == [
            ("email", "marketing_email", "objection")
        ]
        policy = runtime.policy(session)

        def outcome(email: str) -> tuple[bool, list[str]]:
            decided = decide(
                session=session,
                keyring=runtime.keyring,
                policy=policy,
                identity_kind="email",
                identity_value=email,
                purpose="marketing_email",
                channel="email",
            )
            return decided.decision.allowed, [str(r) for r in decided.decision.reasons]

        allowed, reasons = outcome(ALICE)
        assert not allowed and "objection" in reasons and "suppressed" in reasons
        # Bob never consented either, but nothing of Alice's objection touches him.
        assert "objection" not in outcome(BOB)[1]
    restrict = {s.dataset: s.summary["changed"] for s in steps if s.phase == "restrict"}
    assert restrict["newsletter"] == {"newsletter.subscribers": 1}
