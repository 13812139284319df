"""Drafting a fideslang dataset from a live database schema, for a person to review.

Every table becomes a collection and every column a field; primary keys and foreign keys are
carried over; categories and identities are suggested from column names and from a small
sample of values (read, counted and dropped: never written into the draft).

Foreign keys become references; which way reads flow along them is decided in
discovery_references.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from fideslang.validation import FidesValidationError, validate_fides_key
from sqlalchemy import Connection, column, inspect, select, table
from sqlalchemy import exc as sa_exc
from sqlalchemy.sql import sqltypes
from sqlalchemy.types import TypeEngine

from opendpo.connectors import discovery_categories as categories
from opendpo.connectors.discovery_draft import (
    DiscoveredCollection,
    DiscoveredDataset,
    DiscoveredField,
    DiscoveredReference,
    TableFacts,
)
from opendpo.connectors.discovery_references import linked
from opendpo.connectors.sql_engine import build_engine, database_url, describe_server
from opendpo.connectors.sql_errors import connector_error
from opendpo.connectors.sql_types import decode_json, is_json
from opendpo.errors import InvalidValue

logger = logging.getLogger(__name__)

__all__ = [
    "DiscoveredCollection",
    "DiscoveredDataset",
    "DiscoveredField",
    "DiscoveredReference",
    "discover",
]

_NESTING = 3  # levels of JSON objects described as nested fields
_MAX_KEYS = 50  # more keys than this in one object: a map, not a record
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def discover(
    url: str, *, dataset_key: str, schema_name: str | None = None, sample_rows: int = 50
) -> DiscoveredDataset:
    """Read the schema (and up to `sample_rows` rows of each table) at `url` into a draft.

    InvalidValue for a bad URL or dataset key; ConnectorError when the database cannot be read.
    """
    try:
        parsed = database_url(url)
    except ValueError as exc:
        raise InvalidValue("url", str(exc)) from None
    try:
        validate_fides_key(dataset_key)
    except FidesValidationError:
        raise InvalidValue(
            "dataset_key", "use letters, digits, '_', '-' and '.' only (e.g. crm_db)"
        ) from None
    if sample_rows < 0:
        raise InvalidValue("sample_rows", "must be 0 or more")
    password = parsed.password if isinstance(parsed.password, str) else None
    try:
        engine = build_engine(parsed, pool_size=1, connect_timeout=10, statement_timeout=None)
        try:
            with engine.connect() as connection:
                server = describe_server(connection)
                tables = _read_schema(connection, schema_name, sample_rows)
        finally:
            engine.dispose()
    except (sa_exc.SQLAlchemyError, ImportError) as exc:
        raise connector_error(
            dataset_key, exc, doing="reading the schema", password=password
        ) from None
    drafted: dict[str, list[DiscoveredField]] = {}
    for found in tables:
        holds_people = _holds_people(found)
        drafted[found.name] = [_field(found, info, holds_people) for info in found.columns]
    collections = linked(tables, drafted)
    return DiscoveredDataset(
        key=dataset_key,
        server=server,
        database=parsed.database,
        schema_name=schema_name,
        sample_rows=sample_rows,
        collections=collections,
    )


def _read_schema(connection: Connection, schema: str | None, sample_rows: int) -> list[TableFacts]:
    inspector = inspect(connection)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = sorted(inspector.get_table_names(schema=schema))
        columns = inspector.get_multi_columns(schema=schema, filter_names=names)
        primary_keys = inspector.get_multi_pk_constraint(schema=schema, filter_names=names)
        foreign_keys = inspector.get_multi_foreign_keys(schema=schema, filter_names=names)
    for warning in caught:
        logger.info("discovery: %s", warning.message)
    tables = []
    for name in names:
        key = (schema, name)
        constraint: Mapping[str, Any] = primary_keys.get(key) or {}
        found = TableFacts(
            name=name,
            columns=list(columns.get(key, [])),
            primary_key=list(constraint.get("constrained_columns") or []),
            foreign_keys=[
                # A reference within the schema read is named as if in the default one.
                {**fk, "referred_schema": None} if fk.get("referred_schema") == schema else fk
                for fk in foreign_keys.get(key, [])
                if fk.get("referred_table")
            ],
            samples={},
        )
        if sample_rows:
            found.samples.update(_sample(connection, found, schema, sample_rows))
        tables.append(found)
    return tables


def _sampled(type_: TypeEngine[Any]) -> bool:
    """Columns whose values can say what they hold: text and JSON, not numbers or dates."""
    return isinstance(type_, sqltypes.String | sqltypes.JSON) or not isinstance(
        type_,
        sqltypes.Integer
        | sqltypes.Numeric
        | sqltypes.Boolean
        | sqltypes.DateTime
        | sqltypes.Date
        | sqltypes.Time
        | sqltypes.LargeBinary
        | sqltypes.Interval,
    )


def _sample(
    connection: Connection, found: TableFacts, schema: str | None, rows: int
) -> dict[str, list[Any]]:
    wanted = [c["name"] for c in found.columns if _sampled(c["type"])]
    if not wanted:
        return {}
    source = table(found.name, *(column(name) for name in wanted), schema=schema)
    samples: dict[str, list[Any]] = {name: [] for name in wanted}
    for record in connection.execute(select(*source.c).limit(rows)):
        for name, value in zip(wanted, record, strict=True):
            if value is not None:
                samples[name].append(value)
    return samples


def _documents(values: Sequence[Any]) -> list[dict[str, Any]] | None:
    """The sampled values as JSON objects, if every one of them is one."""
    # JSON null (SQLAlchemy writes None into a JSON column as 'null') says nothing either way.
    decoded = [d for d in (decode_json(value) for value in values) if d is not None]
    if decoded and all(isinstance(value, dict) for value in decoded):
        return decoded
    return None


def _suggest(
    name: str, strings: Sequence[str], *, table_name: str, holds_people: bool
) -> tuple[str | None, tuple[str, ...], categories.Suggestion | None]:
    """(category, reasons, what the values alone suggest)."""
    named = categories.by_name(name, table=table_name, table_holds_people=holds_people)
    valued, counts = categories.by_values(strings)
    if named is not None:
        reasons = named.reasons
        if named.category in counts:
            reasons += (counts[named.category],)
        if valued is not None and valued.category != named.category:
            reasons += (f"but {valued.reasons[0]}",)
        return named.category, reasons, valued
    if valued is not None:
        return valued.category, valued.reasons, valued
    return None, (), None


def _nested(
    documents: Sequence[dict[str, Any]], *, table_name: str, depth: int = 1
) -> tuple[DiscoveredField, ...]:
    keys: dict[str, None] = {}
    for document in documents:
        keys.update(dict.fromkeys(document))
    if len(keys) > _MAX_KEYS or not all(_names_a_field(key) for key in keys):
        # An object used as a map (keyed by email address, by date …): its keys are values,
        # perhaps personal data, and must not be written into the draft.
        return ()
    fields = []
    for key in keys:
        values = [d[key] for d in documents if d.get(key) is not None]
        inner = [v for v in values if isinstance(v, dict)]
        if values and len(inner) == len(values) and depth < _NESTING:
            fields.append(
                DiscoveredField(
                    name=key,
                    sql_type="object",
                    fields=_nested(inner, table_name=table_name, depth=depth + 1),
                )
            )
            continue
        strings = [v for v in values if isinstance(v, str)]
        category, reasons, _ = _suggest(key, strings, table_name=table_name, holds_people=True)
        fields.append(
            DiscoveredField(
                name=key,
                sql_type="json",
                data_categories=(category,) if category else (),
                reasons=reasons,
            )
        )
    return tuple(fields)


def _names_a_field(key: str) -> bool:
    return bool(_FIELD_NAME.fullmatch(key)) and not categories.looks_like_phone(key)


def _holds_people(found: TableFacts) -> bool:
    for info in found.columns:
        named = categories.by_name(info["name"], table=found.name, table_holds_people=False)
        if named is not None and named.category in categories.IDENTITY_FOR:
            return True
        strings = [v for v in found.samples.get(info["name"], []) if isinstance(v, str)]
        valued, _ = categories.by_values(strings)
        if valued is not None and valued.category in categories.IDENTITY_FOR:
            return True
    return False


def _field(found: TableFacts, info: Mapping[str, Any], holds_people: bool) -> DiscoveredField:
    name = str(info["name"])
    type_: TypeEngine[Any] = info["type"]
    samples = found.samples.get(name, [])
    primary_key = name in found.primary_key
    base = DiscoveredField(name=name, sql_type=str(type_), primary_key=primary_key)
    documents = _documents(samples) if (is_json(type_) or samples) else None
    if documents is not None:
        nested = _nested(documents, table_name=found.name)
        if nested:
            why = f"a JSON column: keys found in {len(documents)} sampled values"
            return replace(base, fields=nested, reasons=(why,))
        note = "a JSON column whose keys look like values, not field names: describe it by hand"
        return replace(base, notes=(note,))
    strings = [v for v in samples if isinstance(v, str)]
    suggested = _suggest(name, strings, table_name=found.name, holds_people=holds_people)
    category, reasons, valued = suggested
    if category is None:
        referring = [fk for fk in found.foreign_keys if name in fk["constrained_columns"]]
        if primary_key:
            category, reasons = categories.OPERATIONS, ("the primary key",)
        elif referring:
            target = referring[0]["referred_table"]
            category, reasons = categories.OPERATIONS, (f"a foreign key to {target}",)
        elif isinstance(type_, sqltypes.DateTime | sqltypes.Date) and (
            categories.is_timestamp_name(name)
        ):
            category, reasons = categories.OPERATIONS, ("a date or time of a record",)
    identity = categories.IDENTITY_FOR.get(category or "")
    notes: tuple[str, ...] = ()
    if identity is not None and strings and (valued is None or valued.category != category):
        # Named like an identity but holding something else: looking people up by it would
        # find no one, or the wrong people.
        notes = (
            f"not suggested as an identity ({identity}): too few sampled values look like one",
        )
        identity = None
    elif identity is not None:
        reasons += ("suggested as identity: requests carrying this identity look it up",)
    return replace(
        base,
        data_categories=(category,) if category else (),
        identity=identity,
        reasons=reasons,
        notes=notes,
    )
