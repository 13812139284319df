"""What a request can ask for, how it arrived, and where it stands: the words of the workflow.

Statuses move only along TRANSITIONS; every move is an event on the request's timeline
(`rights.workflow`). The labels are what people read on the privacy centre and in letters.
"""

from __future__ import annotations

from enum import StrEnum


class RequestKind(StrEnum):
    INFORMED = "informed"
    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    RESTRICTION_LIFT = "restriction_lift"
    PORTABILITY = "portability"
    OBJECTION = "objection"
    HUMAN_REVIEW = "human_review"
    CONSENT_WITHDRAWAL = "consent_withdrawal"
    COMPLAINT = "complaint"


# The right in the policy (`rights.available[].key`) each kind exercises; None: always offered
# (withdrawing consent and complaining are not rights a notice can leave out).
POLICY_RIGHT: dict[RequestKind, str | None] = {
    RequestKind.INFORMED: "informed",
    RequestKind.ACCESS: "access",
    RequestKind.RECTIFICATION: "rectification",
    RequestKind.ERASURE: "erasure",
    RequestKind.RESTRICTION: "restriction",
    RequestKind.RESTRICTION_LIFT: "restriction",
    RequestKind.PORTABILITY: "portability",
    RequestKind.OBJECTION: "objection",
    RequestKind.HUMAN_REVIEW: "automated_decision_review",
    RequestKind.CONSENT_WITHDRAWAL: None,
    RequestKind.COMPLAINT: None,
}

LABELS: dict[RequestKind, str] = {
    RequestKind.INFORMED: "Tell me what you hold about me and why",
    RequestKind.ACCESS: "Give me a copy of my personal data",
    RequestKind.RECTIFICATION: "Correct my personal data",
    RequestKind.ERASURE: "Delete my personal data",
    RequestKind.RESTRICTION: "Stop using my data for now (restriction)",
    RequestKind.RESTRICTION_LIFT: "Lift a restriction I asked for",
    RequestKind.PORTABILITY: "Give me my data to take elsewhere (portability)",
    RequestKind.OBJECTION: "Object to how you use my data",
    RequestKind.HUMAN_REVIEW: "Have a person review an automated decision",
    RequestKind.CONSENT_WITHDRAWAL: "Withdraw my consent",
    RequestKind.COMPLAINT: "Make a complaint about how you handled my data",
}


class ObjectionGround(StrEnum):
    """Art 21: direct marketing is absolute; the others are weighed by staff."""

    DIRECT_MARKETING = "direct_marketing"
    LEGITIMATE_INTERESTS = "legitimate_interests"
    RESEARCH = "research"


class RequestChannel(StrEnum):
    PRIVACY_CENTRE = "privacy_centre"
    API = "api"
    OPENDSR = "opendsr"
    PHONE = "phone"
    EMAIL = "email"
    POST = "post"
    IN_PERSON = "in_person"


# Channels through which staff log a request on the person's behalf, with evidence.
STAFF_CHANNELS = frozenset(
    {RequestChannel.PHONE, RequestChannel.EMAIL, RequestChannel.POST, RequestChannel.IN_PERSON}
)


class RequestStatus(StrEnum):
    RECEIVED = "received"
    AWAITING_VERIFICATION = "awaiting_verification"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    AWAITING_ACTION = "awaiting_action"
    COMPLETED = "completed"
    REFUSED = "refused"
    CANCELLED = "cancelled"


CLOSED = frozenset({RequestStatus.COMPLETED, RequestStatus.REFUSED, RequestStatus.CANCELLED})
OPEN = frozenset(RequestStatus) - CLOSED

_ENDINGS = {RequestStatus.REFUSED, RequestStatus.CANCELLED}
TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.RECEIVED: frozenset(
        {RequestStatus.AWAITING_VERIFICATION, RequestStatus.VERIFIED, *_ENDINGS}
    ),
    RequestStatus.AWAITING_VERIFICATION: frozenset({RequestStatus.VERIFIED, *_ENDINGS}),
    RequestStatus.VERIFIED: frozenset(
        {
            RequestStatus.IN_PROGRESS,
            RequestStatus.AWAITING_ACTION,
            RequestStatus.COMPLETED,
            *_ENDINGS,
        }
    ),
    RequestStatus.IN_PROGRESS: frozenset(
        {RequestStatus.AWAITING_ACTION, RequestStatus.COMPLETED, *_ENDINGS}
    ),
    RequestStatus.AWAITING_ACTION: frozenset(
        {RequestStatus.IN_PROGRESS, RequestStatus.COMPLETED, *_ENDINGS}
    ),
    RequestStatus.COMPLETED: frozenset(),
    RequestStatus.REFUSED: frozenset(),
    RequestStatus.CANCELLED: frozenset(),
}

STATUS_LABELS: dict[RequestStatus, str] = {
    RequestStatus.RECEIVED: "Received",
    RequestStatus.AWAITING_VERIFICATION: "Waiting for you to confirm your identity",
    RequestStatus.VERIFIED: "Identity confirmed; waiting to be worked on",
    RequestStatus.IN_PROGRESS: "Being worked on",
    RequestStatus.AWAITING_ACTION: "Waiting on a step (from you, us or a supplier)",
    RequestStatus.COMPLETED: "Completed",
    RequestStatus.REFUSED: "Refused",
    RequestStatus.CANCELLED: "Cancelled",
}


class RefusalReason(StrEnum):
    """Why a request is refused: Art 12(5), identity, or an exemption (DPA 2018 Sch 2-4)."""

    MANIFESTLY_UNFOUNDED = "manifestly_unfounded"
    MANIFESTLY_EXCESSIVE = "manifestly_excessive"
    IDENTITY_NOT_CONFIRMED = "identity_not_confirmed"
    LEGAL_OBLIGATION = "legal_obligation"  # e.g. erasure refused under Art 17(3)(b)
    LEGAL_CLAIMS = "legal_claims"
    EXEMPTION = "exemption"  # a DPA 2018 exemption, named in the explanation
    NOT_A_RIGHT_HERE = "not_a_right_here"  # e.g. portability of data not given on consent/contract


REFUSAL_LABELS: dict[RefusalReason, str] = {
    RefusalReason.MANIFESTLY_UNFOUNDED: "The request is manifestly unfounded (UK GDPR Art 12(5)).",
    RefusalReason.MANIFESTLY_EXCESSIVE: "The request is manifestly excessive (UK GDPR Art 12(5)).",
    RefusalReason.IDENTITY_NOT_CONFIRMED: "We could not confirm your identity (Art 12(6)).",
    RefusalReason.LEGAL_OBLIGATION: "The law requires us to keep or use this data.",
    RefusalReason.LEGAL_CLAIMS: "We need the data to establish, exercise or defend legal claims.",
    RefusalReason.EXEMPTION: "An exemption in the Data Protection Act 2018 applies.",
    RefusalReason.NOT_A_RIGHT_HERE: "The right does not apply to this data or this use of it.",
}

# Every refusal tells the person they may complain to the regulator (Art 12(4)).
ICO_COMPLAINT = (
    "You have the right to complain to the Information Commissioner's Office "
    "(ico.org.uk/make-a-complaint, 0303 123 1113) and to seek a remedy through the courts."
)
