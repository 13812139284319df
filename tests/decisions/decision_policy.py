"""A policy built for the decision tests: one purpose per kind of rule, from minimal.yaml.

model_copy keeps every other part of the minimal policy, which passes every policy rule.
"""

from __future__ import annotations

from pathlib import Path

from opendpo.policy.loader import load_policy
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.notice import CookieCategory, Cookies

MINIMAL = Path(__file__).resolve().parents[1] / "policy_files" / "minimal.yaml"

# Purposes: marketing_email (consent, email only, direct marketing), and these additions.
EXPIRING = "offers"  # consent that lapses after a year; renewal: deny
RENEWAL_ALLOWED = "newsletter"  # consent that stays good until renewed
LI_MARKETING = "customer_news"  # direct marketing on legitimate interests (PECR soft opt-in)
LI_PURPOSE = "fraud_prevention"  # legitimate interests, not marketing
CONTRACT = "client_contracts"
PROCESSOR = "mail_house"  # a processor for the marketing purposes
CONTROLLER = "courier"  # a controller, for client_contracts only


def decision_policy(*, honour_gpc: bool = True) -> PolicyDocument:
    document = load_policy(MINIMAL).document
    marketing = document.purpose("marketing_email")
    contract = document.purpose(CONTRACT)
    assert marketing.consent is not None
    offers = marketing.model_copy(
        update={
            "key": EXPIRING,
            "consent": marketing.consent.model_copy(
                update={"channels": ["email", "sms"], "valid_for": "P1Y", "until_renewed": "deny"}
            ),
        }
    )
    newsletter = marketing.model_copy(
        update={
            "key": RENEWAL_ALLOWED,
            "consent": marketing.consent.model_copy(update={"until_renewed": "allow"}),
        }
    )
    news = contract.model_copy(
        update={
            "key": LI_MARKETING,
            "lawful_basis": "legitimate_interests",
            "direct_marketing": True,
        }
    )
    fraud = contract.model_copy(update={"key": LI_PURPOSE, "lawful_basis": "legitimate_interests"})
    courier = document.recipient(CONTROLLER)
    mail_house = courier.model_copy(
        update={"key": PROCESSOR, "role": "processor", "purposes": ["marketing_email", EXPIRING]}
    )
    cookies = Cookies(
        honour_global_privacy_control=honour_gpc,
        categories=[
            CookieCategory(
                key="strictly_necessary", name="Necessary", description="d", consent="not_required"
            ),
            CookieCategory(key="analytics", name="Analytics", description="d", consent="objection"),
            CookieCategory(
                key="advertising", name="Advertising", description="d", consent="required"
            ),
        ],
    )
    return document.model_copy(
        update={
            "purposes": [*document.purposes, offers, newsletter, news, fraud],
            "recipients": [*document.recipients, mail_house],
            "cookies": cookies,
        }
    )
