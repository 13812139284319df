"""The privacy notice as the reader meets it, gathered from the policy section by section."""

from __future__ import annotations

from dataclasses import dataclass

from opendpo.policy.model.controller import ContactRoute, ContactUse
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.purposes import DataSubject, Purpose, Source
from opendpo.policy.model.sharing import Recipient
from opendpo.policy.model.systems import RetentionRule


@dataclass(frozen=True)
class Relationship:
    """What we collect about one kind of person, and why."""

    subject: DataSubject
    categories: list[str]
    purposes: list[Purpose]
    sources: list[Source]  # where data comes from other than the person


@dataclass(frozen=True)
class NoticeView:
    document: PolicyDocument
    relationships: list[Relationship]
    retention: dict[str, list[RetentionRule]]  # purpose key -> rules that limit it
    routes: dict[str, ContactRoute]
    transfers: list[Recipient]  # recipients outside the United Kingdom
    checked_recipients: bool  # due diligence recorded for every recipient
    non_disclosure: bool  # some recipient signed a non-disclosure agreement

    def routes_for(self, use: ContactUse) -> list[ContactRoute]:
        return [route for route in self.routes.values() if use in route.handles]

    def routes_named(self, keys: list[str]) -> list[ContactRoute]:
        return [self.routes[key] for key in keys if key in self.routes]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _relationship(document: PolicyDocument, subject: DataSubject) -> Relationship:
    purposes = [p for p in document.purposes if subject.key in p.data_subjects]
    categories = _unique([key for purpose in purposes for key in purpose.data_categories])
    sources: list[Source] = []
    for purpose in purposes:
        for source in purpose.sources:
            if source.kind != "data_subject" and source not in sources:
                sources.append(source)
    return Relationship(subject, categories, purposes, sources)


def _retention(document: PolicyDocument, purpose: Purpose) -> list[RetentionRule]:
    return [
        rule
        for rule in document.retention
        if rule.key == purpose.retention or purpose.key in rule.purposes
    ]


def notice_view(document: PolicyDocument) -> NoticeView:
    recipients = document.recipients
    return NoticeView(
        document=document,
        relationships=[_relationship(document, s) for s in document.data_subjects],
        retention={p.key: _retention(document, p) for p in document.purposes},
        routes={route.key: route for route in document.controller.contact_routes},
        transfers=[r for r in recipients if r.country != "GB"],
        checked_recipients=bool(recipients)
        and all(r.due_diligence is not None for r in recipients),
        non_disclosure=any(r.due_diligence and r.due_diligence.nda_signed_on for r in recipients),
    )
