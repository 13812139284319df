"""The whole policy: one document, however many files it was written in."""

from __future__ import annotations

from fideslang.models import Dataset
from pydantic import Field

from opendpo.policy.model.base import StrictModel
from opendpo.policy.model.controller import Controller
from opendpo.policy.model.erasure import Erasure, Restriction
from opendpo.policy.model.notice import Cookies, Notice, Rights, Taxonomy
from opendpo.policy.model.purposes import DataSubject, Purpose
from opendpo.policy.model.sharing import Recipient
from opendpo.policy.model.systems import RetentionRule, System

SINGLE_SECTIONS = (
    "controller", "notice", "rights", "cookies", "taxonomy", "erasure", "restriction",
)  # fmt: skip
LIST_SECTIONS = ("data_subjects", "purposes", "systems", "recipients", "retention", "dataset")


class PolicyDocument(StrictModel):
    controller: Controller
    notice: Notice
    taxonomy: Taxonomy = Taxonomy()
    data_subjects: list[DataSubject] = Field(min_length=1)
    purposes: list[Purpose] = Field(min_length=1)
    systems: list[System] = []
    recipients: list[Recipient] = []
    retention: list[RetentionRule] = []
    rights: Rights
    cookies: Cookies | None = None
    erasure: Erasure = Erasure()
    restriction: Restriction = Restriction()
    # Named as in Fides manifests so that dataset files written for Fides load unchanged.
    dataset: list[Dataset] = []

    def purpose(self, key: str) -> Purpose:
        return next(p for p in self.purposes if p.key == key)

    def recipient(self, key: str) -> Recipient:
        return next(r for r in self.recipients if r.key == key)

    def retention_rule(self, key: str) -> RetentionRule:
        return next(r for r in self.retention if r.key == key)

    def subject(self, key: str) -> DataSubject:
        return next(s for s in self.data_subjects if s.key == key)
