"""The company database's dataset, and connectors to it, for the connector tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from fideslang.models import Dataset
from pydantic import SecretStr
from ruamel.yaml import YAML
from sql_estate import CONTACTS, engine_for
from sqlalchemy import text

from opendpo.connectors.base import CollectionSpec, dataset_specs
from opendpo.connectors.sql import SqlConnection, SqlConnector

DATASET_YAML = """
fides_key: company_db
name: Company database
collections:
  - name: organisations
    fields:
      - {name: id, fides_meta: {primary_key: true}}
      - {name: name, data_categories: [user.contact.organization]}
      - {name: registration_number}
  - name: contacts
    fields:
      - {name: id, fides_meta: {primary_key: true}}
      - {name: email, data_categories: [user.contact.email], fides_meta: {identity: email}}
      - name: phone
        data_categories: [user.contact.phone_number]
        fides_meta: {identity: phone_number}
      - {name: first_name, data_categories: [user.name.first]}
      - {name: last_name, data_categories: [user.name.last]}
      - name: organisation_id
        fides_meta:
          references: [{dataset: company_db, field: organisations.id, direction: to}]
      - {name: marketing_opt_in, data_categories: [user.privacy_preferences]}
  - name: enquiries
    fields:
      - {name: id, fides_meta: {primary_key: true}}
      - name: contact_id
        fides_meta:
          references: [{dataset: company_db, field: contacts.id, direction: from}]
      - {name: message, data_categories: [user.content.private]}
  - name: customers
    fields:
      - {name: id, fides_meta: {primary_key: true}}
      - {name: company_name, data_categories: [user.contact.organization]}
      - {name: billing_email, data_categories: [user.contact.email], fides_meta: {identity: email}}
      - name: billing_address
        fields:
          - {name: street, data_categories: [user.contact.address.street]}
          - {name: city, data_categories: [user.contact.address.city]}
          - {name: postcode, data_categories: [user.contact.address.postal_code]}
  - name: customer_contacts
    fields:
      - name: customer_id
        fides_meta:
          references: [{dataset: company_db, field: customers.id, direction: from}]
      - {name: name, data_categories: [user.name]}
      - {name: email, data_categories: [user.contact.email], fides_meta: {identity: email}}
      - {name: phone, data_categories: [user.contact.phone_number]}
  - name: invoices
    fields:
      - {name: id, fides_meta: {primary_key: true}}
      - name: customer_id
        fides_meta:
          references: [{dataset: company_db, field: customers.id, direction: from}]
      - {name: number}
      - {name: amount}
      - {name: issued_on}
  - name: subscribers
    fields:
      - name: email
        data_categories: [user.contact.email]
        fides_meta: {identity: email, primary_key: true}
      - {name: first_name, data_categories: [user.name.first]}
      - {name: consent, data_categories: [user.privacy_preferences]}
"""


def collections() -> dict[str, CollectionSpec]:
    dataset = Dataset.model_validate(YAML(typ="safe").load(DATASET_YAML))
    return {spec.name: spec for spec in dataset_specs(dataset)}


SPECS = collections()


def connector(url: str, **options: Any) -> SqlConnector:
    """A connector to the company database at `url`, holding every collection of it."""
    config = SqlConnection(url=SecretStr(url), **options)
    return SqlConnector("crm", config, list(SPECS.values()), environ={})


@pytest.fixture
def crm(company_url: str) -> Iterator[SqlConnector]:
    found = connector(company_url)
    yield found
    found.close()


def expected(spec: CollectionSpec, row: dict[str, Any]) -> dict[str, Any]:
    """`row` as find returns it: the collection's top-level fields."""
    return {name: row.get(name) for name in spec.top_level}


def contact(i: int) -> dict[str, Any]:
    return expected(SPECS["contacts"], CONTACTS[i - 1])


def server_version(url: str) -> str:
    """The server's version as the server itself reports it, to compare check() with."""
    if url.startswith("sqlite"):
        return f"SQLite {sqlite3.sqlite_version}"
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            if url.startswith("postgresql"):
                version = connection.execute(text("SHOW server_version")).scalar_one()
                return f"PostgreSQL {str(version).split()[0]}"
            version = connection.execute(text("SELECT VERSION()")).scalar_one()
            return f"MariaDB {str(version).split('-')[0]}"
    finally:
        engine.dispose()
