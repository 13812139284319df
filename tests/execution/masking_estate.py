"""Jane Example erased from the demo estate with Connect IB's policy, as an erasure step would.

The rows "found" are Jane's rows as the estate wrote them, made JSON-ready as the row store
keeps them between steps; the changes go to the real SQL connector, deletes children first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from masking_specs import connect_ib, connect_ib_collections, context
from pydantic import SecretStr
from sqlalchemy import create_engine, select

from opendpo.connectors.base import Change
from opendpo.connectors.sql import SqlConnection, SqlConnector
from opendpo.demo.estate import build_estate
from opendpo.demo.jane import jane_rows
from opendpo.demo.schema import DATASETS, dataset_metadata
from opendpo.execution.masking import deletion_order, plan_erasure, referenced_fields
from opendpo.execution.rowstore import json_ready

Row = dict[str, Any]
AS_OF = dt.date(2026, 11, 26)


def build(urls: Mapping[str, str]) -> None:
    build_estate(urls, people=20, seed=7, as_of=AS_OF)


def erase_jane(urls: Mapping[str, str]) -> dict[str, int]:
    """Plan and apply the erasure; rows changed per collection."""
    specs = connect_ib_collections()
    referenced = referenced_fields(specs)
    found = {table: [json_ready(row) for row in rows] for table, rows in jane_rows().items()}
    changes: dict[str, list[Change]] = {}
    for spec in deletion_order(specs):
        plan = plan_erasure(
            spec,
            found.get(spec.key, []),
            erasure=connect_ib().erasure,
            context=context("req-jane"),
            referenced=referenced.get(spec.key, frozenset()),
        )
        changes.setdefault(spec.dataset, []).extend(plan.changes)
    changed: dict[str, int] = {}
    for dataset, batch in changes.items():
        connector = SqlConnector(
            dataset,
            SqlConnection(url=SecretStr(urls[dataset])),
            [spec for spec in specs if spec.dataset == dataset],
            environ={},
        )
        try:
            changed.update(connector.apply(batch).changed)
        finally:
            connector.close()
    return changed


def snapshot(urls: Mapping[str, str]) -> dict[str, list[Row]]:
    """Every row of every estate table, keyed `dataset.table`, in a stable order."""
    tables: dict[str, list[Row]] = {}
    for dataset in DATASETS:
        engine = create_engine(urls[dataset])
        try:
            with engine.connect() as connection:
                for name, table in dataset_metadata(dataset).tables.items():
                    order = list(table.primary_key.columns) or list(table.columns)
                    rows = connection.execute(select(table).order_by(*order))
                    tables[f"{dataset}.{name}"] = [dict(row._mapping) for row in rows]
        finally:
            engine.dispose()
    return tables
