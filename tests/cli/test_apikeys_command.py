"""`opendpo apikeys`: the token is shown once and stored only as a hash."""

from __future__ import annotations

from collections.abc import Callable

from click.testing import Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opendpo.security import audit
from opendpo.security.api_keys import authenticate_key
from opendpo.store.registry import schema

Run = Callable[..., Result]
WIDE = {"COLUMNS": "200"}


def everything_stored(engine: Engine) -> str:
    """Every value in every table of the schema, as one string."""
    with engine.connect() as connection:
        return "\n".join(
            repr(row)
            for table in schema().sorted_tables
            for row in connection.execute(select(table))
        )


def create(run: Run, *args: str) -> tuple[str, str]:
    result = run("apikeys", "create", *args)
    assert result.exit_code == 0, result.output
    header, token = result.stdout.splitlines()
    assert header.endswith("its token, shown only once:")
    return header.split()[3], token


def test_create_shows_a_working_token_once_and_stores_only_its_hash(
    run: Run, engine: Engine, session: Session
) -> None:
    key_id, token = create(run, "crm", "--scope", "people:read", "--scope", "consent:write")
    assert token.startswith(f"odpo_{key_id}_")
    key = authenticate_key(session=session, token=token)
    assert key is not None
    assert key.scopes == ["people:read", "consent:write"]
    session.rollback()
    stored = everything_stored(engine)
    secret = token.split("_", 2)[2]  # the secret may itself contain "_"
    assert key_id in stored
    assert secret not in stored
    assert token not in stored
    listing = run("apikeys", "list", env=WIDE)
    assert key_id in listing.stdout
    assert secret not in listing.stdout
    [entry] = audit.search(session=session, query=audit.AuditQuery(action="api_key."))
    assert (entry.action, entry.target_id, entry.actor_kind) == ("api_key.created", key_id, "cli")
    assert secret not in str(entry.details)


def test_list_and_revoke(run: Run, engine: Engine, session: Session) -> None:
    key_id, token = create(run, "billing", "--scope", "requests:read")
    other_id, _ = create(run, "website", "--scope", "consent:write")
    revoked = run("apikeys", "revoke", key_id)
    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout == f"revoked API key {key_id} (billing)\n"
    assert authenticate_key(session=session, token=token) is None
    again = run("apikeys", "revoke", key_id)
    assert again.exit_code == 0
    assert "was already revoked" in again.stdout

    listing = run("apikeys", "list", env=WIDE)
    rows = {
        cells[0]: cells
        for line in listing.stdout.splitlines()
        if "│" in line
        for cells in [[cell.strip() for cell in line.split("│")[1:-1]]]
    }
    assert rows[key_id][1:3] == ["billing", "requests:read"]
    assert rows[key_id][5].endswith("UTC")
    assert rows[other_id][4:6] == ["never", ""]
    actions = [e.action for e in audit.search(session=session, query=audit.AuditQuery())]
    assert actions == ["api_key.revoked", "api_key.created", "api_key.created"]


def test_bad_input_is_named(run: Run, engine: Engine) -> None:
    scope = run("apikeys", "create", "crm", "--scope", "staff:manage")
    assert scope.exit_code == 2
    assert "Invalid value for '--scope': 'staff:manage' is not one of" in scope.stderr
    missing = run("apikeys", "create", "crm")
    assert missing.exit_code == 2
    assert "Missing option '--scope'" in missing.stderr
    name = run("apikeys", "create", " ", "--scope", "people:read")
    assert name.exit_code == 1
    assert name.stderr == "Error: name: give the key a name of 1-100 characters\n"
    unknown = run("apikeys", "revoke", "nope")
    assert unknown.exit_code == 1
    assert unknown.stderr == "Error: no API key with key 'nope'\n"
