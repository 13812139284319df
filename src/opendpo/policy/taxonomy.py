"""The fideslang default taxonomy, extended by the policy's own categories, uses and subjects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from fideslang.default_taxonomy import DEFAULT_TAXONOMY
from fideslang.models import DataCategory, DataSubject, DataUse

from opendpo.policy.model.notice import Taxonomy

# UK GDPR Art 9(1) special categories, and Art 10 criminal offence data, in fideslang keys.
SPECIAL_CATEGORY_ROOTS = (
    "user.biometric",
    "user.health_and_medical",
    "user.demographic.political_opinion",
    "user.demographic.race_ethnicity",
    "user.demographic.religious_belief",
    "user.demographic.sexual_orientation",
    "user.authorization.biometric",
    "user.criminal_history",
)


@dataclass(frozen=True)
class Vocabulary:
    data_categories: dict[str, str]  # key -> human name
    data_uses: dict[str, str]
    data_subjects: dict[str, str]
    special_categories: frozenset[str]

    def is_special(self, category: str) -> bool:
        return any(
            category == root or category.startswith(root + ".") for root in self.special_categories
        )


@cache
def _defaults() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    def names(items: Sequence[DataCategory | DataUse | DataSubject]) -> dict[str, str]:
        return {item.fides_key: item.name or item.fides_key for item in items}

    return (
        names(DEFAULT_TAXONOMY.data_category),
        names(DEFAULT_TAXONOMY.data_use),
        names(DEFAULT_TAXONOMY.data_subject),
    )


def vocabulary(extensions: Taxonomy) -> Vocabulary:
    categories, uses, subjects = (dict(part) for part in _defaults())
    categories.update({item.key: item.name for item in extensions.data_categories})
    uses.update({item.key: item.name for item in extensions.data_uses})
    subjects.update({item.key: item.name for item in extensions.data_subjects})
    special = set(SPECIAL_CATEGORY_ROOTS)
    special.update(item.key for item in extensions.data_categories if item.special_category)
    return Vocabulary(categories, uses, subjects, frozenset(special))
