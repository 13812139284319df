"""`opendpo audit`: head, list and a CSV export that is itself audited."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from opendpo.security import audit
from opendpo.security.audit import Actor, ActorKind
from opendpo.security.keyring import Keyring

Run = Callable[..., Result]
WIDE = {"COLUMNS": "200"}
DAY = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def write_entries(session: Session, keyring: Keyring) -> None:
    """Six entries, one a day from 1 March 2026."""
    for number in range(6):
        audit.record(
            session=session,
            keyring=keyring,
            actor=Actor(ActorKind.STAFF, "dpo" if number % 2 else "ann", "192.0.2.1"),
            action="person.viewed" if number % 2 else "request.closed",
            target_kind="person",
            target_id=f"p{number}",
            details={"n": number},
            now=DAY + dt.timedelta(days=number),
        )
    session.commit()


def test_export_writes_the_chosen_entries_and_is_audited(
    run: Run, engine: Engine, session: Session, keyring: Keyring, tmp_path: Path
) -> None:
    write_entries(session, keyring)
    output = tmp_path / "audit.csv"
    result = run(
        "audit", "export", "--output", str(output), "--since", "2026-03-02", "--until", "2026-03-05"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"exported 3 audit entries to {output}\n"
    with output.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["seq"] for row in rows] == ["2", "3", "4"]
    assert rows[0] == {
        "seq": "2",
        "at": "2026-03-02T09:00:00+00:00",
        "actor_kind": "staff",
        "actor_id": "dpo",
        "client_address": "192.0.2.1",
        "action": "person.viewed",
        "target_kind": "person",
        "target_id": "p1",
        "details": '{"n":1}',
        "prev_hash": rows[0]["prev_hash"],
        "hash": rows[0]["hash"],
    }
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    assert not output.with_name("audit.csv.partial").exists()

    session.expire_all()
    [exported] = audit.search(session=session, query=audit.AuditQuery(action="audit.exported"))
    assert exported.seq == 7
    assert exported.actor_kind == "cli"
    assert exported.details["rows"] == 3
    assert (exported.details["first_seq"], exported.details["last_seq"]) == (2, 4)
    assert audit.verify(session=session, keyring=keyring).checked == 7

    everything = run("audit", "export", "--output", str(output))
    assert everything.stdout == f"exported 7 audit entries to {output}\n"


def test_export_names_bad_options(run: Run, engine: Engine, tmp_path: Path) -> None:
    date = run("audit", "export", "--output", str(tmp_path / "a.csv"), "--since", "March")
    assert date.exit_code == 2
    assert "Invalid value for '--since'" in date.stderr
    order = run(
        "audit",
        "export",
        "--output",
        str(tmp_path / "a.csv"),
        "--since",
        "2026-03-02",
        "--until",
        "2026-03-01",
    )
    assert order.exit_code == 2
    assert "Invalid value for --until: must be later than --since" in order.stderr
    folder = run("audit", "export", "--output", str(tmp_path / "none" / "a.csv"))
    assert folder.exit_code == 1
    assert folder.stderr.startswith("Error: --output: cannot write")


def test_head_and_list(run: Run, engine: Engine, session: Session, keyring: Keyring) -> None:
    write_entries(session, keyring)
    last = audit.search(session=session, query=audit.AuditQuery(), limit=1)[0]
    head = run("audit", "head")
    assert head.stdout.splitlines()[:2] == ["seq: 6", f"hash: {last.hash}"]
    verified = run("audit", "verify", "--head", f"6:{last.hash}")
    assert verified.exit_code == 0, verified.output
    bad = run("audit", "verify", "--head", "six")
    assert bad.exit_code == 2
    assert "Invalid value for --head: use SEQ:HASH" in bad.stderr

    listing = run(
        "audit", "list", "--actor", "dpo", "--action", "person.", "--limit", "2", env=WIDE
    )
    assert listing.exit_code == 0, listing.output
    seqs = [line.split("│")[1].strip() for line in listing.stdout.splitlines() if "│" in line]
    assert seqs == ["6", "4"]
    assert "staff:dpo" in listing.stdout
    target = run("audit", "list", "--target", "p2", env=WIDE)
    assert [line.split("│")[1].strip() for line in target.stdout.splitlines() if "│" in line] == [
        "3"
    ]
