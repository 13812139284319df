"""A discovered dataset as fideslang dataset YAML, every suggestion explained by a comment.

The draft is meant to be read and edited by a person, then kept in the policy: comments say
why each category, identity and reference was suggested, and "review:" marks what needs a
decision. Sampled values never reach this module: the draft holds names and counts only.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from opendpo.connectors.discovery_draft import (
    DiscoveredCollection,
    DiscoveredDataset,
    DiscoveredField,
)

_RULE = """\
References follow the foreign keys, and their direction decides which way a request's reads
flow: from a table holding an identity down to the tables hanging off it ("direction: from"
on the referring column), and up from such a table to a parent holding no identity
("direction: to", e.g. the person's organisation). A table holding an identity is never
entered from a parent holding none, so a person is never reached sideways, through a parent
they share with other people. Where both tables hold identities (a client and its contacts),
the foreign key is no reference: the parent gets "erase_after" naming the child instead, so
an erasure still deletes the child's rows first."""


def _header(found: DiscoveredDataset) -> str:
    where = f"database '{found.database}'" if found.database else "the database"
    if found.schema_name:
        where += f", schema '{found.schema_name}'"
    sampled = (
        f"Up to {found.sample_rows} rows of each table were sampled to suggest categories; "
        "no value is written here."
        if found.sample_rows
        else "No rows were sampled: categories come from column names only."
    )
    return "\n".join(
        [
            f"Dataset drafted by `opendpo systems discover` from {found.server}, {where}.",
            "A draft: review it field by field before it goes into the policy. Categories and",
            'identities are suggestions, each comment says why, and "review:" marks what needs',
            "a decision.",
            sampled,
            "",
            _RULE,
        ]
    )


def _flow(items: Sequence[object]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _comment(reasons: Sequence[str], notes: Sequence[str]) -> str:
    return "; ".join([*reasons, *(f"review: {note}" for note in notes)])


def _field(dataset: str, found: DiscoveredField) -> CommentedMap:
    node = CommentedMap()
    node["name"] = found.name
    if found.fields:
        if found.reasons or found.notes:
            node.yaml_add_eol_comment(_comment(found.reasons, found.notes), "name")
        node["fields"] = CommentedSeq([_field(dataset, inner) for inner in found.fields])
        return node
    node["data_categories"] = _flow(list(found.data_categories))
    notes = list(found.notes)
    if not found.data_categories:
        notes.insert(0, "no category suggested")
    node.yaml_add_eol_comment(_comment(found.reasons, notes), "data_categories")
    meta = CommentedMap()
    if found.primary_key:
        meta["primary_key"] = True
    if found.identity:
        meta["identity"] = found.identity
    if found.references:
        references = CommentedSeq()
        for index, reference in enumerate(found.references):
            item = CommentedMap(
                [
                    ("dataset", dataset),
                    ("field", f"{reference.collection}.{reference.field}"),
                    ("direction", reference.direction),
                ]
            )
            item.fa.set_flow_style()
            references.append(item)
            references.yaml_add_eol_comment(reference.reason, index)
        meta["references"] = references
    if meta:
        if "references" not in meta:
            meta.fa.set_flow_style()
        node["fides_meta"] = meta
    return node


def _collection(dataset: str, found: DiscoveredCollection) -> CommentedMap:
    node = CommentedMap()
    node["name"] = found.name
    if found.notes:
        node.yaml_add_eol_comment(_comment((), found.notes), "name")
    if found.erase_after:
        meta = CommentedMap(erase_after=_flow([f"{dataset}.{name}" for name in found.erase_after]))
        meta.fa.set_flow_style()
        node["fides_meta"] = meta
        node.yaml_add_eol_comment(
            "their rows reference these: deleted first, never reached from here",
            "fides_meta",
        )
    node["fields"] = CommentedSeq([_field(dataset, f) for f in found.fields])
    return node


def render_dataset(found: DiscoveredDataset) -> str:
    """The draft as a YAML document with a top-level `dataset:` list, as policies hold it."""
    dataset = CommentedMap()
    dataset["fides_key"] = found.key
    dataset["name"] = found.key
    dataset["description"] = f"Drafted from {found.server}; review before use."
    dataset["collections"] = CommentedSeq([_collection(found.key, c) for c in found.collections])
    root = CommentedMap()
    root["dataset"] = CommentedSeq([dataset])
    root.yaml_set_start_comment(_header(found))
    yaml = YAML(typ="rt")
    yaml.width = 4096  # one comment, one line: never wrapped into the next key
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    yaml.dump(root, stream)
    return stream.getvalue()
