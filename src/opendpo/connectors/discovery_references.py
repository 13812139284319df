"""Foreign keys as fideslang references, and the direction a request's reads take along them.

Reads go from a table holding an identity down to the tables hanging off it ("from" on the
referring column); from such a table they may also go up to a parent holding no identity
("to": the person's organisation). A table holding an identity is never entered from a parent
holding none, so a person is never reached sideways, through a parent shared with others.
Where both tables hold identities (a client's contacts, each found by their own address),
the foreign key is no reference at all: reads from the parent would reach every colleague.
The parent is then erased after the child instead (`erase_after`), so deletes still go
children first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from opendpo.connectors.discovery_draft import (
    DiscoveredCollection,
    DiscoveredField,
    DiscoveredReference,
    TableFacts,
)


def linked(
    tables: Sequence[TableFacts], drafted: dict[str, list[DiscoveredField]]
) -> tuple[DiscoveredCollection, ...]:
    """The collections, with foreign keys as references and notes on what needs review."""
    drafted = {name: list(fields) for name, fields in drafted.items()}
    with_identity = {name for name, fields in drafted.items() if any(f.identity for f in fields)}
    known = set(drafted)
    erase_after: dict[str, list[str]] = {}
    for found in tables:
        fields = {f.name: f for f in drafted[found.name]}
        for foreign_key in found.foreign_keys:
            parent = str(foreign_key["referred_table"])
            pairs = zip(
                foreign_key["constrained_columns"], foreign_key["referred_columns"], strict=True
            )
            inside = parent in known and foreign_key.get("referred_schema") is None
            for child_column, parent_column in pairs:
                if inside and parent != found.name and {found.name, parent} <= with_identity:
                    fields[child_column] = _between_people(
                        fields[child_column], parent=parent, parent_column=parent_column
                    )
                    if found.name not in erase_after.setdefault(parent, []):
                        erase_after[parent].append(found.name)
                    continue
                fields[child_column] = _referenced(
                    fields[child_column],
                    child=found.name,
                    parent=parent,
                    parent_column=parent_column,
                    known=inside,
                    with_identity=with_identity,
                )
        drafted[found.name] = list(fields.values())
    return _with_notes(tables, drafted, with_identity, erase_after)


def _between_people(
    child_field: DiscoveredField, *, parent: str, parent_column: str
) -> DiscoveredField:
    note = (
        f"foreign key to {parent}.{parent_column}: not followed, both tables hold identities "
        f"and reads from a {parent} row would reach everyone under it; {parent} is erased "
        "after this table instead (erase_after)"
    )
    return replace(child_field, notes=(*child_field.notes, note))


def _referenced(
    child_field: DiscoveredField,
    *,
    child: str,
    parent: str,
    parent_column: str,
    known: bool,
    with_identity: set[str],
) -> DiscoveredField:
    target = f"{parent}.{parent_column}"
    if not known:
        note = f"foreign key to {target}, a table outside this dataset: not followed"
        return replace(child_field, notes=(*child_field.notes, note))
    if parent == child:
        note = (
            f"foreign key to {target} in the same table: not followed, it would reach other people"
        )
        return replace(child_field, notes=(*child_field.notes, note))
    if child in with_identity and parent not in with_identity:
        direction = "to"
        reason = (
            f"foreign key to {target}; direction to: reads go up from a person's row here to "
            f"the {parent} row it names, which holds no identity, and never back down"
        )
    else:
        direction = "from"
        reason = f"foreign key to {target}; direction from: rows here hang off {parent}"
    reference = DiscoveredReference(parent, parent_column, direction, reason)
    return replace(child_field, references=(*child_field.references, reference))


def _with_notes(
    tables: Sequence[TableFacts],
    drafted: Mapping[str, list[DiscoveredField]],
    with_identity: set[str],
    erase_after: Mapping[str, list[str]],
) -> tuple[DiscoveredCollection, ...]:
    edges: dict[str, set[str]] = {name: set() for name in drafted}
    for name, fields in drafted.items():
        for f in fields:
            for reference in f.references:
                if reference.direction == "to":
                    edges[name].add(reference.collection)
                else:
                    edges[reference.collection].add(name)
    reachable = set(with_identity)
    frontier = list(with_identity)
    while frontier:
        for following in edges[frontier.pop()] - reachable:
            reachable.add(following)
            frontier.append(following)
    collections = []
    for found in tables:
        notes: list[str] = []
        if not found.primary_key:
            notes.append(
                "no primary key: a change names its row by every field read, so identical "
                "rows change together"
            )
        collection = DiscoveredCollection(
            found.name,
            tuple(drafted[found.name]),
            erase_after=tuple(erase_after.get(found.name, ())),
        )
        if collection.personal and found.name not in reachable:
            notes.append(
                "holds personal data but no identity reaches it: mark an identity field "
                "(fides_meta.identity) or add a reference"
            )
        collections.append(replace(collection, notes=tuple(notes)))
    return tuple(collections)
