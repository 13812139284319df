"""What goes into a person's package: which collections, and which of their fields.

Access (Art 15): every field whose data categories the request covers (a category covers
itself and every category below it: `user.contact` covers `user.contact.email`).

Portability (Art 20) gives only data the person provided, processed on consent or contract.
The policy says this per purpose, so a field is portable when a purpose that uses its data
category in its system (a purpose naming that system, or naming no system at all) rests on
consent or contract and takes its data from the person: directly, or observed from their use
of the service (the ICO counts both as provided). A whole collection is left out when the
purposes that explain it (those covering every personal category it holds, or, when none
covers them all, those covering any) include none that takes data from the person on
consent or contract: a credit check bought from a credit reference agency is never "provided
by the person" merely because it repeats a name the person also gave us.

Primary keys and reference fields carry no personal data of their own, but they let the
person see which rows belong together (this enquiry was about that contact): a reference is
kept when the collection it points to is in the package too, and so is the field it names.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Literal

from opendpo.connectors.base import CollectionSpec, FieldSpec
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.purposes import Purpose

PackageKind = Literal["access", "portability"]
# Sources that are the person: what they gave, and what their use of a service shows.
PERSON_SOURCES = frozenset({"data_subject", "observed"})
PORTABLE_BASES = frozenset({"consent", "contract"})


def category_covers(broad: str, narrow: str) -> bool:
    """Whether `broad` is `narrow` or one of the categories above it."""
    return narrow == broad or narrow.startswith(broad + ".")


def covered_by(categories: Iterable[str], covered: Collection[str]) -> bool:
    return any(category_covers(c, own) for own in categories for c in covered)


def purposes_using(policy: PolicyDocument, system: str, category: str) -> list[Purpose]:
    """The purposes that use `category` held in `system`, in the policy's order."""
    return [
        purpose
        for purpose in policy.purposes
        if (not purpose.systems or system in purpose.systems)
        and any(category_covers(listed, category) for listed in purpose.data_categories)
    ]


def gives_portable_data(purpose: Purpose) -> bool:
    """Consent or contract, with the person among the sources (Art 20(1))."""
    return purpose.lawful_basis in PORTABLE_BASES and any(
        source.kind in PERSON_SOURCES for source in purpose.sources
    )


def leaves(collection: CollectionSpec) -> list[FieldSpec]:
    """The fields that hold values: nested parents are only containers."""
    paths = [f.path for f in collection.fields]
    return [f for f in collection.fields if not any(p.startswith(f.path + ".") for p in paths)]


def explaining_purposes(
    policy: PolicyDocument, system: str, collection: CollectionSpec
) -> list[Purpose]:
    """The purposes covering every personal category of the collection; failing that, any."""
    categories = {c for f in leaves(collection) for c in f.data_categories if f.personal}
    using = [{p.key for p in purposes_using(policy, system, c)} for c in sorted(categories)]
    if not using:
        return []
    keys = set.intersection(*using) or set.union(*using)
    return [p for p in policy.purposes if p.key in keys]


def _portable_field(policy: PolicyDocument, system: str, spec: FieldSpec) -> bool:
    return any(
        gives_portable_data(purpose)
        for category in spec.data_categories
        for purpose in purposes_using(policy, system, category)
    )


def _data_fields(
    policy: PolicyDocument,
    system: str,
    collection: CollectionSpec,
    covered: Collection[str],
    kind: PackageKind,
) -> list[str]:
    wanted = [f for f in leaves(collection) if covered_by(f.data_categories, covered)]
    if kind == "access":
        return [f.path for f in wanted]
    if not any(gives_portable_data(p) for p in explaining_purposes(policy, system, collection)):
        return []
    return [f.path for f in wanted if _portable_field(policy, system, f)]


def choose_fields(
    policy: PolicyDocument,
    *,
    collections: Sequence[tuple[str, CollectionSpec]],
    covered: Collection[str],
    kind: PackageKind,
) -> dict[str, tuple[str, ...]]:
    """Collection key -> the fields to package: primary keys first, then in dataset order.

    `collections` pairs each collection with the key of the system holding it. Collections
    with nothing to give are left out.
    """
    kept: dict[str, set[str]] = {}
    specs: dict[str, CollectionSpec] = {}
    for system, collection in collections:
        fields = _data_fields(policy, system, collection, covered, kind)
        if fields:
            kept[collection.key] = set(fields)
            specs[collection.key] = collection
    for key, collection in specs.items():
        for spec in leaves(collection):
            for dataset, target_collection, target_field, _direction in spec.references:
                target = f"{dataset}.{target_collection}"
                if target in kept and target_field in {f.path for f in specs[target].fields}:
                    kept[key].add(spec.path)
                    kept[target].add(target_field)
    # Keys first: they name the row the other columns describe.
    return {
        key: tuple(
            f.path
            for f in sorted(collection.fields, key=lambda f: not f.primary_key)
            if f.path in kept[key]
        )
        for key, collection in specs.items()
    }
