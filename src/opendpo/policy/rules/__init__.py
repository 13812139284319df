"""Rules a schema cannot express: references, lawfulness, transfers, datasets, the notice."""

from __future__ import annotations

from opendpo.policy.errors import PolicyProblem
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.rules.context import RuleContext
from opendpo.policy.rules.datasets import check_datasets
from opendpo.policy.rules.lawfulness import check_lawfulness
from opendpo.policy.rules.notice import check_notice
from opendpo.policy.rules.references import check_references
from opendpo.policy.rules.transfers import check_transfers
from opendpo.policy.source import Positions
from opendpo.policy.taxonomy import vocabulary

RULES = (check_references, check_lawfulness, check_transfers, check_datasets, check_notice)


def check_rules(document: PolicyDocument, positions: Positions) -> list[PolicyProblem]:
    context = RuleContext(document, positions, vocabulary(document.taxonomy))
    for rule in RULES:
        rule(context)
    return context.problems
