"""Rules a schema cannot express: references, lawfulness, transfers, datasets, erasure,
connections, the notice."""

from __future__ import annotations

from opendpo.policy.errors import PolicyProblem
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.rules.connections import check_connections
from opendpo.policy.rules.context import RuleContext
from opendpo.policy.rules.dataset_keys import check_dataset_keys
from opendpo.policy.rules.datasets import check_datasets
from opendpo.policy.rules.erasure import check_erasure
from opendpo.policy.rules.lawfulness import check_lawfulness
from opendpo.policy.rules.notice import check_notice
from opendpo.policy.rules.references import check_references
from opendpo.policy.rules.transfers import check_transfers
from opendpo.policy.source import PolicySource
from opendpo.policy.taxonomy import vocabulary

RULES = (
    check_dataset_keys,
    check_references,
    check_lawfulness,
    check_transfers,
    check_datasets,
    check_erasure,
    check_connections,
    check_notice,
)


def check_rules(document: PolicyDocument, source: PolicySource) -> list[PolicyProblem]:
    context = RuleContext(document, source.positions, vocabulary(document.taxonomy), source.data)
    for rule in RULES:
        rule(context)
    return context.problems
