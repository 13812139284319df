"""Drafting a dataset from a live schema: exact suggestions, and no sampled value written out."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fideslang.models import Dataset
from ruamel.yaml import YAML
from sql_estate import SAMPLE_VALUES, company_url, empty_url, engine_for, seed, seed_website
from sqlalchemy import text

from opendpo.cli.discover import discover_command
from opendpo.connectors.base import ConnectorError, dataset_specs
from opendpo.connectors.discovery import DiscoveredDataset, DiscoveredField, discover
from opendpo.connectors.discovery_yaml import render_dataset
from opendpo.errors import InvalidValue
from opendpo.execution.deletion_order import deletion_order
from opendpo.execution.graph import traverse
from opendpo.policy.errors import PolicyInvalid
from opendpo.policy.loader import load_policy

__all__ = ["company_url", "empty_url"]  # fixtures, used by name

MINIMAL_POLICY = Path(__file__).resolve().parent.parent / "policy_files" / "minimal.yaml"
OPS = ("system.operations",)

# collection → field → (categories, identity, primary key, references as "table.column/direction")
COMPANY: dict[str, dict[str, tuple[tuple[str, ...], str | None, bool, tuple[str, ...]]]] = {
    "contacts": {
        "id": (OPS, None, True, ()),
        "email": (("user.contact.email",), "email", False, ()),
        "backup_email": (("user.contact.email",), None, False, ()),
        "phone": (("user.contact.phone_number",), "phone_number", False, ()),
        "first_name": (("user.name.first",), None, False, ()),
        "last_name": (("user.name.last",), None, False, ()),
        "job_title": (("user.job_title",), None, False, ()),
        "organisation_id": (OPS, None, False, ("organisations.id/to",)),
        "marketing_opt_in": (("user.privacy_preferences",), None, False, ()),
        "created_at": (OPS, None, False, ()),
    },
    "credit_checks": {
        "id": (OPS, None, True, ()),
        "organisation_id": (OPS, None, False, ("organisations.id/from",)),
        "score": ((), None, False, ()),
        "checked_on": (OPS, None, False, ()),
    },
    "customer_contacts": {
        # Both tables hold people: no reference (see the erase_after on customers).
        "customer_id": (OPS, None, False, ()),
        "name": (("user.name",), None, False, ()),
        "email": (("user.contact.email",), "email", False, ()),
        "phone": (("user.contact.phone_number",), "phone_number", False, ()),
    },
    "customers": {
        "id": (OPS, None, True, ()),
        "company_name": (("user.contact.organization",), None, False, ()),
        "billing_email": (("user.contact.email",), "email", False, ()),
        "contact": (("user.contact.email",), "email", False, ()),
        "billing_address.street": (("user.contact.address.street",), None, False, ()),
        "billing_address.city": (("user.contact.address.city",), None, False, ()),
        "billing_address.postcode": (("user.contact.address.postal_code",), None, False, ()),
    },
    "enquiries": {
        "id": (OPS, None, True, ()),
        "contact_id": (OPS, None, False, ("contacts.id/from",)),
        "message": (("user.content.private",), None, False, ()),
        "received_at": (OPS, None, False, ()),
    },
    "invoices": {
        "id": (OPS, None, True, ()),
        "customer_id": (OPS, None, False, ("customers.id/from",)),
        "number": ((), None, False, ()),
        "amount": ((), None, False, ()),
        "issued_on": (OPS, None, False, ()),
    },
    "organisations": {
        "id": (OPS, None, True, ()),
        "name": (("user.contact.organization",), None, False, ()),
        "registration_number": ((), None, False, ()),
    },
    "subscribers": {
        "email": (("user.contact.email",), "email", True, ()),
        "first_name": (("user.name.first",), None, False, ()),
        "consent": (("user.privacy_preferences",), None, False, ()),
    },
}


def flattened(fields: tuple[DiscoveredField, ...], prefix: str = "") -> dict[str, DiscoveredField]:
    found: dict[str, DiscoveredField] = {}
    for f in fields:
        if f.fields:
            found.update(flattened(f.fields, f"{prefix}{f.name}."))
        else:
            found[f"{prefix}{f.name}"] = f
    return found


def summary(draft: DiscoveredDataset) -> dict[str, dict[str, Any]]:
    return {
        c.name: {
            path: (
                f.data_categories,
                f.identity,
                f.primary_key,
                tuple(f"{r.collection}.{r.field}/{r.direction}" for r in f.references),
            )
            for path, f in flattened(c.fields).items()
        }
        for c in draft.collections
    }


def field_of(draft: DiscoveredDataset, collection: str, path: str) -> DiscoveredField:
    found = next(c for c in draft.collections if c.name == collection)
    return flattened(found.fields)[path]


def test_the_company_schema_is_drafted_exactly(company_url: str) -> None:
    draft = discover(company_url, dataset_key="company_db")
    assert summary(draft) == COMPANY
    assert draft.identities == [
        ("contacts", "email", "email"),
        ("contacts", "phone", "phone_number"),
        ("customer_contacts", "email", "email"),
        ("customer_contacts", "phone", "phone_number"),
        ("customers", "billing_email", "email"),
        ("customers", "contact", "email"),
        ("subscribers", "email", "email"),
    ]
    assert field_of(draft, "contacts", "email").reasons == (
        "named like an email address",
        "10 of 10 sampled values look like email addresses",
        "suggested as identity: requests carrying this identity look it up",
    )
    # A name alone is not enough for an identity when the values say otherwise.
    assert field_of(draft, "contacts", "backup_email").notes == (
        "not suggested as an identity (email): too few sampled values look like one",
    )
    # Values alone are enough when the name says nothing.
    assert field_of(draft, "customers", "contact").reasons == (
        "3 of 3 sampled values look like email addresses",
        "suggested as identity: requests carrying this identity look it up",
    )
    assert field_of(draft, "customers", "billing_address.postcode").reasons == (
        "named like a postcode",
        "2 of 2 sampled values look like UK postcodes",
    )
    notes = {c.name: c.notes for c in draft.collections if c.notes}
    assert notes == {
        "customer_contacts": (
            "no primary key: a change names its row by every field read, so identical rows "
            "change together",
        )
    }
    # A client's contacts are found by their own address, never through the client: the
    # foreign key between two tables of people orders the deletes only.
    assert {c.name: c.erase_after for c in draft.collections if c.erase_after} == {
        "customers": ("customer_contacts",)
    }
    assert field_of(draft, "customer_contacts", "customer_id").notes == (
        "foreign key to customers.id: not followed, both tables hold identities and reads "
        "from a customers row would reach everyone under it; customers is erased after this "
        "table instead (erase_after)",
    )


def test_the_yaml_loads_with_fideslang_and_holds_no_sampled_value(company_url: str) -> None:
    draft = discover(company_url, dataset_key="company_db")
    document = render_dataset(draft)
    for value in SAMPLE_VALUES:
        assert value not in document, value
    loaded = YAML(typ="safe").load(document)
    dataset = Dataset.model_validate(loaded["dataset"][0])
    specs = {spec.name: spec for spec in dataset_specs(dataset)}
    assert specs["customers"].field("billing_address.city").data_categories == (
        "user.contact.address.city",
    )
    assert specs["contacts"].field("organisation_id").references == (
        ("company_db", "organisations", "id", "to"),
    )
    assert specs["subscribers"].primary_key == ("email",)
    assert specs["customers"].options["erase_after"] == ["company_db.customer_contacts"]
    assert specs["customer_contacts"].field("customer_id").references == ()
    order = [spec.key for spec in deletion_order(list(specs.values()))]
    assert order.index("company_db.customer_contacts") < order.index("company_db.customers")
    reads = traverse(list(specs.values()), ["email"])
    assert reads.incoming[("company_db", "customer_contacts")] == []
    lines = document.splitlines()
    assert "            data_categories: []  # review: no category suggested" in lines
    assert (
        "            data_categories: [user.contact.email]  # 3 of 3 sampled values look like "
        "email addresses; suggested as identity: requests carrying this identity look it up"
    ) in lines
    assert (
        "                - {dataset: company_db, field: organisations.id, direction: to}  # "
        "foreign key to organisations.id; direction to: reads go up from a person's row here "
        "to the organisations row it names, which holds no identity, and never back down"
    ) in lines
    assert "# an erasure still deletes the child's rows first." in lines
    assert (
        "        fides_meta: {erase_after: [company_db.customer_contacts]}  # their rows "
        "reference these: deleted first, never reached from here"
    ) in lines


def test_the_draft_passes_the_policy_dataset_checks(company_url: str, tmp_path: Path) -> None:
    draft = discover(company_url, dataset_key="company_db")
    folder = tmp_path / "policy"
    folder.mkdir()
    shutil.copy(MINIMAL_POLICY, folder / "policy.yaml")
    (folder / "company_db.yaml").write_text(render_dataset(draft), encoding="utf-8")
    loaded = load_policy(folder)
    assert [d.fides_key for d in loaded.document.dataset] == ["company_db", "crm_db"]
    assert [str(w.message) for w in loaded.warnings] == [
        "dataset 'company_db' belongs to no system"
    ]


def test_a_table_no_identity_reaches_is_marked_for_review(empty_url: str, tmp_path: Path) -> None:
    seed_website(empty_url)
    draft = discover(empty_url, dataset_key="website_db")
    assert summary(draft) == {
        "visits": {
            "id": (OPS, None, True, ()),
            "visitor_id": (("user.device.cookie_id",), None, False, ()),
            "ip_address": (("user.device.ip_address",), None, False, ()),
            "page": (("user.behavior.browsing_history",), None, False, ()),
            "visited_at": (OPS, None, False, ()),
        }
    }
    assert field_of(draft, "visits", "ip_address").reasons == (
        "named like an IP address",
        "5 of 5 sampled values look like IP addresses",
    )
    assert draft.collections[0].notes == (
        "holds personal data but no identity reaches it: mark an identity field "
        "(fides_meta.identity) or add a reference",
    )
    # The note says what the policy checks will say.
    folder = tmp_path / "policy"
    folder.mkdir()
    shutil.copy(MINIMAL_POLICY, folder / "policy.yaml")
    (folder / "website_db.yaml").write_text(render_dataset(draft), encoding="utf-8")
    with pytest.raises(PolicyInvalid) as caught:
        load_policy(folder)
    assert [p.message for p in caught.value.problems] == [
        "collection 'website_db.visits' holds personal data but no identity reaches it: mark "
        "an identity field (fides_meta.identity) or add references"
    ]


def test_people_are_never_reached_sideways(tmp_path: Path) -> None:
    """Two kinds of people hang off one organisation: neither is reachable from the other."""
    path = tmp_path / "people.db"
    path.touch()
    url = f"sqlite:///{path}"
    engine = engine_for(url)
    with engine.begin() as connection:
        for statement in (
            "CREATE TABLE organisations (id INTEGER PRIMARY KEY, name TEXT)",
            "CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, "
            "organisation_id INTEGER REFERENCES organisations (id), "
            "referred_by INTEGER REFERENCES contacts (id))",
            "CREATE TABLE referees (id INTEGER PRIMARY KEY, phone TEXT, "
            "organisation_id INTEGER REFERENCES organisations (id))",
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, "
            "organisation_id INTEGER REFERENCES organisations (id))",
        ):
            connection.execute(text(statement))
    engine.dispose()
    draft = discover(url, dataset_key="people", sample_rows=0)
    references = {
        (c.name, f.name): [(r.collection, r.direction) for r in f.references]
        for c in draft.collections
        for f in c.fields
        if f.references
    }
    assert references == {
        ("contacts", "organisation_id"): [("organisations", "to")],
        ("referees", "organisation_id"): [("organisations", "to")],
        ("notes", "organisation_id"): [("organisations", "from")],
    }
    assert field_of(draft, "contacts", "referred_by").notes == (
        "foreign key to contacts.id in the same table: not followed, it would reach other people",
    )


def test_json_objects_used_as_maps_are_not_described(tmp_path: Path) -> None:
    path = tmp_path / "maps.db"
    path.touch()
    url = f"sqlite:///{path}"
    engine = engine_for(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE lists (id INTEGER PRIMARY KEY, members JSON)"))
        connection.execute(
            text("INSERT INTO lists VALUES (1, :a), (2, :b)"),
            {"a": '{"zebedee@sample.test": {"since": "2026"}}', "b": '{"07700900999": 1}'},
        )
    engine.dispose()
    draft = discover(url, dataset_key="maps")
    members = field_of(draft, "lists", "members")
    assert (members.fields, members.data_categories) == ((), ())
    assert members.notes == (
        "a JSON column whose keys look like values, not field names: describe it by hand",
    )
    document = render_dataset(draft)
    assert "zebedee" not in document
    assert "07700900999" not in document


@pytest.mark.postgres
def test_a_postgresql_schema_is_read_with_its_references(estate_postgres_url: str) -> None:
    seed(estate_postgres_url, schema="sales")
    draft = discover(estate_postgres_url, dataset_key="company_db", schema_name="sales")
    assert summary(draft) == COMPANY
    assert render_dataset(draft).splitlines()[0] == (
        f"# Dataset drafted by `opendpo systems discover` from {draft.server}, database "
        f"'{draft.database}', schema 'sales'."
    )


def test_a_missing_sqlite_file_is_an_error_not_a_new_database(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    with pytest.raises(ConnectorError) as caught:
        discover(f"sqlite:///{path}", dataset_key="crm")
    assert caught.value.message == (
        "crm: reading the schema: unable to open database file (SQLite error 14)"
    )
    assert not path.exists()


def test_bad_arguments_and_unreachable_servers() -> None:
    with pytest.raises(InvalidValue) as bad_url:
        discover("not a url", dataset_key="crm")
    assert bad_url.value.field == "url"
    with pytest.raises(InvalidValue) as bad_key:
        discover("sqlite:////tmp/x.db", dataset_key="crm db!")
    assert bad_key.value.field == "dataset_key"
    with pytest.raises(ConnectorError) as unreachable:
        discover("postgresql://postgres:hunter2-secret@127.0.0.1:1/crm", dataset_key="crm")
    assert unreachable.value.retryable is True
    assert unreachable.value.message.startswith("crm: reading the schema: cannot reach the server")
    assert "hunter2-secret" not in unreachable.value.message


# -- the command --------------------------------------------------------------------------------


def test_the_command_prints_the_draft_and_a_summary(company_url: str) -> None:
    result = CliRunner().invoke(discover_command, [company_url, "--dataset-key", "company_db"])
    assert result.exit_code == 0, result.output
    loaded = YAML(typ="safe").load(result.stdout)
    assert [c["name"] for c in loaded["dataset"][0]["collections"]] == sorted(COMPANY)
    assert "contacts" in result.stderr
    assert "email (email), phone (phone_number)" in result.stderr
    assert result.stderr.rstrip().endswith(
        "8 tables, 38 columns, 7 suggested identities: review every field before use."
    )


def test_the_command_writes_a_file_only_when_told_to_overwrite(
    company_url: str, tmp_path: Path
) -> None:
    output = tmp_path / "company_db.yaml"
    runner = CliRunner()
    args = [company_url, "--dataset-key", "company_db", "--output", str(output)]
    first = runner.invoke(discover_command, args)
    assert first.exit_code == 0, first.output
    assert first.stdout == ""
    assert output.read_text(encoding="utf-8").startswith("# Dataset drafted by `opendpo")
    output.write_text("kept\n", encoding="utf-8")
    refused = runner.invoke(discover_command, args)
    assert refused.exit_code == 1
    assert refused.stderr == f"Error: {output} exists: add --force to overwrite it\n"
    assert output.read_text(encoding="utf-8") == "kept\n"
    forced = runner.invoke(discover_command, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert output.read_text(encoding="utf-8").startswith("# Dataset drafted by `opendpo")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "not a url",
            "Error: URL: not a database URL (expected e.g. postgresql://user:password@host/"
            "database, mysql://user@host/database or sqlite:///path/to/file.db)\n",
        ),
        (
            "mysql://root:hunter2-secret@127.0.0.1:1/crm",
            "Error: crm: reading the schema: Can't connect to MySQL server on '127.0.0.1' "
            "([Errno 111] Connection refused) (MySQL error 2003)\n",
        ),
    ],
)
def test_the_command_fails_in_one_line(url: str, message: str) -> None:
    result = CliRunner().invoke(discover_command, [url, "--dataset-key", "crm"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == message
