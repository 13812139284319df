"""Build the records of processing activities from a policy document."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from opendpo.policy.model.base import describe_duration
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.purposes import ARTICLE_6, LAWFUL_BASIS_NAMES, Purpose
from opendpo.policy.model.sharing import Recipient
from opendpo.policy.model.systems import RetentionRule
from opendpo.policy.ropa.records import (
    ControllerRecord,
    DataCategory,
    DataProtectionOfficer,
    DataSubjectCategory,
    GroupCompany,
    LawfulBasis,
    LegitimateInterest,
    Named,
    ProcessingActivity,
    RecipientRecord,
    RecordsOfProcessing,
    RetentionLimit,
    SourceRecord,
    SpecialCategoryCondition,
    SupervisoryAuthority,
    SystemRecord,
    Transfer,
)
from opendpo.policy.taxonomy import Vocabulary, vocabulary

HOME_COUNTRY = "GB"

ARTICLE_9_NAMES = {
    "art9_2_a": "explicit consent",
    "art9_2_b": "employment, social security and social protection law",
    "art9_2_c": "vital interests",
    "art9_2_d": "not-for-profit body",
    "art9_2_e": "made manifestly public by the data subject",
    "art9_2_f": "legal claims",
    "art9_2_g": "substantial public interest",
    "art9_2_h": "health or social care",
    "art9_2_i": "public health",
    "art9_2_j": "archiving, research or statistics",
}

RECIPIENT_KINDS = {
    "courier": "Courier",
    "processor": "Processor",
    "affiliate": "Group company",
    "integration_provider": "Integration provider",
    "authority": "Public authority",
    "business_successor": "Business successor",
    "professional_adviser": "Professional adviser",
    "credit_reference_agency": "Credit reference agency",
}

RECIPIENT_ROLES = {
    "processor": "Processor",
    "controller": "Controller",
    "joint_controller": "Joint controller",
}

SAFEGUARDS = {
    "adequacy": "UK adequacy regulations (DPA 2018 s.17A)",
    "idta": "International Data Transfer Agreement (IDTA)",
    "uk_addendum": "UK Addendum to the EU standard contractual clauses",
    "binding_corporate_rules": "Binding corporate rules (Art 47)",
    "derogation": "Derogation for a specific situation (Art 49)",
    "eu_sccs": "EU standard contractual clauses",
}

CLOCK_STARTS = {
    "collection": "collection",
    "last_contact": "the last contact",
    "end_of_contract": "the end of the contract",
    "end_of_financial_year": "the end of the financial year",
    "consent_withdrawal": "withdrawal of consent",
}

SOURCE_KINDS = {
    "data_subject": "The data subject",
    "observed": "Observed",
    "third_party": "A third party",
    "group_company": "A group company",
}


def build_records(
    document: PolicyDocument,
    *,
    policy_version: int | None = None,
    generated_at: dt.datetime | None = None,
) -> RecordsOfProcessing:
    """The Art 30(1) records for `document`, one processing activity per purpose."""
    vocab = vocabulary(document.taxonomy)
    controller = _controller(document)
    activities = tuple(
        _activity(document, vocab, purpose, controller.security_measures)
        for purpose in document.purposes
    )
    return RecordsOfProcessing(
        controller=controller,
        activities=activities,
        notice_version=document.notice.version,
        notice_effective_date=document.notice.effective_date,
        policy_version=policy_version,
        generated_at=generated_at or dt.datetime.now(dt.UTC),
    )


def describe_retention(rule: RetentionRule) -> str:
    """Plain words: '6 years from the end of the financial year, then delete — HMRC …'."""
    clock = _label(CLOCK_STARTS, rule.starts).lower()
    words = f"{describe_duration(rule.period)} from {clock}, then {rule.action}"
    return f"{words} — {rule.legal_reason}" if rule.legal_reason else words


def _controller(document: PolicyDocument) -> ControllerRecord:
    source = document.controller
    dpo = source.dpo
    authority = source.supervisory_authority
    return ControllerRecord(
        legal_name=source.legal_name,
        trading_name=source.trading_name,
        company_number=source.company_number,
        group_parent=source.group_parent,
        registered_address=source.registered_address.one_line(),
        dpo=DataProtectionOfficer(
            name=dpo.name, email=str(dpo.email), phone=dpo.phone, post=dpo.post.one_line()
        ),
        supervisory_authority=SupervisoryAuthority(
            name=authority.name, url=authority.url, phone=authority.phone
        ),
        group_companies=tuple(
            GroupCompany(
                name=company.name,
                relationship=company.relationship,
                country=company.country,
                company_number=company.company_number,
            )
            for company in source.group_companies
        ),
        security_measures=tuple(source.security_measures),
    )


def _activity(
    document: PolicyDocument,
    vocab: Vocabulary,
    purpose: Purpose,
    security_measures: tuple[str, ...],
) -> ProcessingActivity:
    recipients = tuple(
        _recipient(vocab, recipient) for recipient in _recipients_of(document, purpose)
    )
    return ProcessingActivity(
        key=purpose.key,
        name=purpose.name,
        description=purpose.description,
        lawful_basis=_lawful_basis(purpose),
        special_category_condition=_article_9(purpose.special_category_condition),
        data_uses=tuple(Named(key, vocab.data_uses[key]) for key in purpose.data_uses),
        data_subjects=tuple(
            _subject(document, vocab, key) for key in _unique(purpose.data_subjects)
        ),
        data_categories=_categories(vocab, purpose.data_categories),
        recipients=recipients,
        transfers=tuple(
            Transfer(
                recipient=recipient.name,
                country=recipient.country,
                mechanism=recipient.transfer_mechanism,
                safeguard=recipient.safeguard or "no transfer mechanism recorded",
            )
            for recipient in recipients
            if recipient.third_country
        ),
        retention=tuple(
            _retention(vocab, rule, purpose) for rule in _retention_rules(document, purpose)
        ),
        systems=tuple(_system(document, system_key) for system_key in _unique(purpose.systems)),
        sources=tuple(
            _source(document, source.kind, source.description, source.recipient)
            for source in purpose.sources
        ),
        direct_marketing=purpose.direct_marketing,
        analytics=purpose.analytics,
        research=purpose.research,
        security_measures=security_measures,
    )


def _lawful_basis(purpose: Purpose) -> LawfulBasis:
    reasoning = purpose.legitimate_interest
    return LawfulBasis(
        key=purpose.lawful_basis,
        name=_label(LAWFUL_BASIS_NAMES, purpose.lawful_basis),
        article=ARTICLE_6[purpose.lawful_basis],
        legitimate_interest=(
            LegitimateInterest(reasoning.interest, reasoning.necessity, reasoning.balancing)
            if reasoning is not None
            else None
        ),
    )


def _article_9(condition: str | None) -> SpecialCategoryCondition | None:
    if condition is None:
        return None
    letter = condition.rsplit("_", 1)[-1]
    return SpecialCategoryCondition(
        key=condition, article=f"Art 9(2)({letter})", name=_label(ARTICLE_9_NAMES, condition)
    )


def _subject(document: PolicyDocument, vocab: Vocabulary, key: str) -> DataSubjectCategory:
    subject = document.subject(key)
    taxonomy = Named(subject.taxonomy, vocab.data_subjects[subject.taxonomy])
    return DataSubjectCategory(key=subject.key, name=subject.name, taxonomy=taxonomy)


def _categories(vocab: Vocabulary, keys: Iterable[str]) -> tuple[DataCategory, ...]:
    return tuple(
        DataCategory(key=key, name=vocab.data_categories[key], special=vocab.is_special(key))
        for key in _unique(keys)
    )


def _recipients_of(document: PolicyDocument, purpose: Purpose) -> list[Recipient]:
    """Everyone who receives the purpose's data: named by the purpose, naming the purpose
    themselves, or hosting one of its systems as a processor."""
    keys = list(purpose.recipients)
    keys += [r.key for r in document.recipients if purpose.key in r.purposes]
    keys += [
        system.hosted_by
        for system in document.systems
        if system.key in purpose.systems and system.hosted_by is not None
    ]
    return [document.recipient(key) for key in _unique(keys)]


def _recipient(vocab: Vocabulary, recipient: Recipient) -> RecipientRecord:
    mechanism = recipient.transfer_mechanism
    return RecipientRecord(
        key=recipient.key,
        name=recipient.name,
        kind=recipient.kind,
        kind_name=_label(RECIPIENT_KINDS, recipient.kind),
        role=recipient.role,
        role_name=_label(RECIPIENT_ROLES, recipient.role),
        country=recipient.country,
        third_country=recipient.country != HOME_COUNTRY,
        transfer_mechanism=mechanism,
        safeguard=_label(SAFEGUARDS, mechanism) if mechanism is not None else None,
        minimum_fields=_categories(vocab, recipient.minimum_fields),
        circumstances=recipient.circumstances,
    )


def _retention_rules(document: PolicyDocument, purpose: Purpose) -> list[RetentionRule]:
    """The purpose's own rule first, then rules naming the purpose, then rules that cover
    some of its data categories whatever the purpose."""

    def covers(rule: RetentionRule) -> bool:
        if rule.key == purpose.retention or purpose.key in rule.purposes:
            return True
        return not rule.purposes and any(
            _within(category, scope)
            for category in purpose.data_categories
            for scope in rule.data_categories
        )

    rules = [document.retention_rule(purpose.retention)] if purpose.retention else []
    rules += [rule for rule in document.retention if covers(rule) and rule not in rules]
    return rules


def _retention(vocab: Vocabulary, rule: RetentionRule, purpose: Purpose) -> RetentionLimit:
    scoped = (
        []
        if purpose.key in rule.purposes or rule.key == purpose.retention
        else [
            category
            for category in purpose.data_categories
            if any(_within(category, scope) for scope in rule.data_categories)
        ]
    )
    return RetentionLimit(
        key=rule.key,
        name=rule.name,
        period=rule.period,
        period_words=describe_duration(rule.period),
        starts=rule.starts,
        starts_words=_label(CLOCK_STARTS, rule.starts).lower(),
        action=rule.action,
        legal_reason=rule.legal_reason,
        data_categories=_categories(vocab, scoped),
        summary=describe_retention(rule),
    )


def _system(document: PolicyDocument, key: str) -> SystemRecord:
    system = next(s for s in document.systems if s.key == key)
    host = document.recipient(system.hosted_by).name if system.hosted_by else None
    return SystemRecord(
        key=system.key, name=system.name, kind=system.kind, country=system.country, hosted_by=host
    )


def _source(
    document: PolicyDocument, kind: str, description: str | None, recipient: str | None
) -> SourceRecord:
    words = _label(SOURCE_KINDS, kind)
    if recipient is not None:
        words += f" ({document.recipient(recipient).name})"
    if description:
        words += f": {description}"
    return SourceRecord(kind=kind, description=words)


def _label(names: Mapping[str, str], key: str) -> str:
    """The human name of a schema value; a value added to the schema later still reads well."""
    return names.get(key) or key.replace("_", " ").capitalize()


def _within(category: str, scope: str) -> bool:
    return category == scope or category.startswith(scope + ".")


def _unique(keys: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(keys))
