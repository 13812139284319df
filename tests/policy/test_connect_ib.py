"""Connect IB's policy encodes its whole notice, and the notice map proves nothing was missed.

The map (policies/connect-ib.notice-map.yaml) lists every sentence of the notice with the
policy elements that keep its promise; its header documents the sentence-splitting rule and
the path syntax that `notice_sentences` and `resolve` below implement.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from opendpo.cli import cli
from opendpo.policy.loader import load_policy
from opendpo.policy.model.document import PolicyDocument
from opendpo.policy.model.notice import ALL_RIGHTS

POLICIES = Path(__file__).resolve().parents[2] / "policies"
POLICY = POLICIES / "connect-ib.yaml"
NOTICE = POLICIES / "connect-ib.notice.txt"
NOTICE_MAP = POLICIES / "connect-ib.notice-map.yaml"

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9‘“\"'(])")
LIST_MARKER = re.compile(r"^[ivx]+\.$")
ITEM_KEYS = ("key", "fides_key", "name")  # how a list item is addressed in a path


def notice_sentences(text: str) -> list[str]:
    """The notice's sentences, split by the rule documented at the top of the map."""
    sentences: list[str] = []
    for line in text.splitlines():
        paragraph = line.strip()
        if not paragraph:
            continue
        pieces: list[str] = []
        for piece in SENTENCE_END.split(paragraph):
            if pieces and LIST_MARKER.match(pieces[-1]):
                pieces[-1] = f"{pieces[-1]} {piece}"
            else:
                pieces.append(piece)
        sentences.extend(pieces)
    return sentences


@dataclass(frozen=True)
class MapEntry:
    sentence: str
    covers: tuple[str, ...] = ()
    no_promise: str | None = None


def read_map(path: Path) -> list[MapEntry]:
    """The map's entries; an entry must have its sentence and exactly one of the two answers."""
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    entries = []
    for raw in data["sentences"]:
        if set(raw) not in ({"sentence", "covers"}, {"sentence", "no_promise"}):
            raise ValueError(f"an entry needs sentence and covers or no_promise: {raw}")
        covers = tuple(raw.get("covers", ()))
        if "covers" in raw and not covers:
            raise ValueError(f"an entry covers nothing: {raw['sentence']!r}")
        entries.append(MapEntry(raw["sentence"], covers, raw.get("no_promise")))
    return entries


def sentence_problems(sentences: list[str], entries: list[MapEntry]) -> list[str]:
    """Sentences of the notice the map misses or repeats, and map sentences not in the notice."""
    expected, mapped = Counter(sentences), Counter(entry.sentence for entry in entries)
    problems = [f"not in the map: {s!r}" for s in expected - mapped]
    problems += [f"in the map but not in the notice: {s!r}" for s in mapped - expected]
    return problems


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def _item(items: list[Any], name: str) -> Any:
    for item in items:
        if item == name or (
            isinstance(item, dict) and any(item.get(key) == name for key in ITEM_KEYS)
        ):
            return item
    return None


def resolve(data: Any, path: str) -> Any:
    """The element at a map path in the policy's plain data, or None when there is none."""
    parts = path.split(".")
    node = data
    i = 0
    while i < len(parts):
        if isinstance(node, dict):
            node, i = node.get(parts[i]), i + 1
        elif isinstance(node, list):
            # Longest first, so that taxonomy keys such as user.contact.email stay whole.
            for end in range(len(parts), i, -1):
                found = _item(node, ".".join(parts[i:end]))
                if found is not None:
                    node, i = found, end
                    break
            else:
                return None
        else:
            return None
        if _is_empty(node):
            return None
    return node


def unresolved_paths(document: PolicyDocument, entries: list[MapEntry]) -> list[str]:
    data = document.model_dump()
    return [path for entry in entries for path in entry.covers if resolve(data, path) is None]


@pytest.fixture(scope="module")
def document() -> PolicyDocument:
    return load_policy(POLICY).document


@pytest.fixture(scope="module")
def entries() -> list[MapEntry]:
    return read_map(NOTICE_MAP)


# --- the policy loads cleanly -------------------------------------------------------------


def test_policy_loads_without_errors_or_warnings() -> None:
    loaded = load_policy(POLICY)
    assert loaded.warnings == []
    assert loaded.files == [POLICY]


def test_policy_check_command_exits_zero_and_warns_of_nothing() -> None:
    result = CliRunner().invoke(cli, ["policy", "check", str(POLICY)])
    assert result.exit_code == 0, result.output
    assert "OK (13 purposes" in result.stdout
    assert result.stderr == ""


# --- the notice map -----------------------------------------------------------------------


def test_splitting_rule() -> None:
    text = (
        "Heading\n\n"
        "Sales enquiries . If you contact us, we reply. See e.g. due diligence\n"
        "ii. With affiliates. We may engage affiliates.\n"
    )
    assert notice_sentences(text) == [
        "Heading",
        "Sales enquiries .",
        "If you contact us, we reply.",
        "See e.g. due diligence",
        "ii. With affiliates.",
        "We may engage affiliates.",
    ]


def test_every_notice_sentence_is_mapped_once_and_in_order(entries: list[MapEntry]) -> None:
    sentences = notice_sentences(NOTICE.read_text(encoding="utf-8"))
    assert sentence_problems(sentences, entries) == []
    assert [entry.sentence for entry in entries] == sentences


def test_every_mapped_sentence_is_verbatim_in_the_notice(entries: list[MapEntry]) -> None:
    notice = NOTICE.read_text(encoding="utf-8")
    assert [e.sentence for e in entries if e.sentence not in notice] == []


def test_every_covers_path_resolves(document: PolicyDocument, entries: list[MapEntry]) -> None:
    assert unresolved_paths(document, entries) == []


def test_sentences_that_promise_something_are_covered(entries: list[MapEntry]) -> None:
    # Only headings, labels, definitions and the like may be waved through.
    waved = [e.sentence for e in entries if e.no_promise is not None]
    assert len(waved) <= 20
    assert "We never have, and never will, sell your personal data to other parties." not in waved


def test_removing_a_covered_element_fails_the_map_check(
    document: PolicyDocument, entries: list[MapEntry]
) -> None:
    without_courier = document.model_copy(
        update={"recipients": [r for r in document.recipients if r.key != "courier"]}
    )
    courier_paths = {
        path for e in entries for path in e.covers if path.startswith("recipients.courier")
    }
    assert courier_paths
    assert set(unresolved_paths(without_courier, entries)) == courier_paths


def test_removing_a_withdrawal_route_fails_the_map_check(
    document: PolicyDocument, entries: list[MapEntry]
) -> None:
    marketing = document.purpose("marketing")
    assert marketing.consent is not None
    consent = marketing.consent.model_copy(
        update={"withdrawal_routes": ["preference_centre", "dpo_phone", "dpo_email"]}
    )
    purposes = [
        p.model_copy(update={"consent": consent}) if p.key == "marketing" else p
        for p in document.purposes
    ]
    changed = document.model_copy(update={"purposes": purposes})
    assert unresolved_paths(changed, entries) == [
        "purposes.marketing.consent.withdrawal_routes.unsubscribe_link"
    ]


def test_a_dropped_or_reworded_sentence_fails_the_map_check(entries: list[MapEntry]) -> None:
    sentences = notice_sentences(NOTICE.read_text(encoding="utf-8"))
    dropped = [e for e in entries if not e.sentence.startswith("i. If we need to arrange")]
    assert sentence_problems(sentences, dropped) == [
        "not in the map: 'i. If we need to arrange to have something delivered to you, we will "
        "need to supply an address, contact name and number to a courier in order for them to "
        "be able to make the delivery.'"
    ]
    reworded = [MapEntry(entries[0].sentence + "!", entries[0].covers), *entries[1:]]
    assert sentence_problems(sentences, reworded) == [
        "not in the map: 'Privacy Policy'",
        "in the map but not in the notice: 'Privacy Policy!'",
    ]


def test_map_entries_must_answer_exactly_once(tmp_path: Path) -> None:
    both = tmp_path / "map.yaml"
    both.write_text(
        "sentences:\n  - sentence: Privacy Policy\n    covers: [notice.title]\n"
        "    no_promise: a heading\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="needs sentence and covers or no_promise"):
        read_map(both)


def test_paths_address_list_items_by_key_and_value() -> None:
    data = {
        "recipients": [{"key": "courier", "minimum_fields": ["user.name", "user.contact"]}],
        "flags": {"on": False, "none": None, "empty": []},
    }
    assert resolve(data, "recipients.courier.minimum_fields.user.name") == "user.name"
    assert resolve(data, "recipients.courier.minimum_fields.user.contact") == "user.contact"
    assert resolve(data, "recipients.courier.minimum_fields.user.contact.email") is None
    assert resolve(data, "recipients.van") is None
    assert resolve(data, "flags.on") is False
    assert resolve(data, "flags.none") is None
    assert resolve(data, "flags.empty") is None


# --- the promises that matter, asserted directly -------------------------------------------


def test_all_eight_rights_are_offered_with_a_route(document: PolicyDocument) -> None:
    rights = {right.key: right for right in document.rights.available}
    assert sorted(rights) == sorted(ALL_RIGHTS)
    assert len(ALL_RIGHTS) == 8
    assert all("dpo_email" in right.routes for right in rights.values())
    assert document.rights.automated_decision_making is False


def test_marketing_is_consent_based_direct_marketing_with_easy_withdrawal(
    document: PolicyDocument,
) -> None:
    marketing = document.purpose("marketing")
    assert marketing.lawful_basis == "consent"
    assert marketing.direct_marketing
    assert marketing.consent is not None
    assert "email" in marketing.consent.channels
    routes = {route.key: route for route in document.controller.contact_routes}
    kinds = {routes[key].kind for key in marketing.consent.withdrawal_routes}
    assert {"unsubscribe_link", "preference_centre", "phone", "email"} <= kinds
    assert routes["preference_centre"].value == "/preferences"
    # Every purpose that markets directly must rest on consent, as the notice promises.
    direct = [p.key for p in document.purposes if p.direct_marketing]
    assert direct == ["marketing"]


def test_updates_within_ten_working_days(document: PolicyDocument) -> None:
    assert document.rights.update_working_days == 10


def test_no_purpose_sells_or_trades_personal_data(document: PolicyDocument) -> None:
    assert document.notice.sells_personal_data is False
    uses = {use for purpose in document.purposes for use in purpose.data_uses}
    assert not any(use.startswith("marketing.advertising") for use in uses)
    sharing = {p.key for p in document.purposes if "third_party_sharing" in p.data_uses}
    assert sharing == {"business_change"}


def test_every_recipient_outside_the_uk_has_a_valid_mechanism(document: PolicyDocument) -> None:
    abroad = {r.key: r.transfer_mechanism for r in document.recipients if r.country != "GB"}
    assert abroad  # the check below must not pass vacuously
    assert all(mechanism is not None for mechanism in abroad.values()), abroad
    assert "eu_sccs" not in abroad.values()
    assert abroad["email_platform_provider"] == "uk_addendum"


def test_group_sharing_rests_on_reasoned_legitimate_interests(document: PolicyDocument) -> None:
    sharing = document.purpose("group_sharing")
    assert sharing.lawful_basis == "legitimate_interests"
    reasoning = sharing.legitimate_interest
    assert reasoning is not None
    assert all(
        len(part) > 40 for part in (reasoning.interest, reasoning.necessity, reasoning.balancing)
    )
    # Apart from the processor hosting the CRM, the data goes only to group companies.
    shared_with = [document.recipient(key) for key in sharing.recipients]
    assert {r.kind for r in shared_with if r.role != "processor"} == {"affiliate"}
    assert {r.group_company for r in shared_with if r.kind == "affiliate"} == {
        "smartspace",
        "swipedon",
        "space_connect",
    }
    assert "group_company" in {source.kind for source in sharing.sources}


def test_courier_gets_only_address_name_and_number(document: PolicyDocument) -> None:
    courier = document.recipient("courier")
    assert sorted(courier.minimum_fields) == [
        "user.contact.address",
        "user.contact.phone_number",
        "user.name",
    ]
    assert courier.purposes == ["deliveries"]


def test_credit_checks_come_from_the_credit_reference_agency(document: PolicyDocument) -> None:
    checks = document.purpose("credit_checks")
    assert [(s.kind, s.recipient) for s in checks.sources] == [
        ("third_party", "credit_reference_agency")
    ]


def test_invoices_are_kept_six_years_from_the_end_of_the_financial_year(
    document: PolicyDocument,
) -> None:
    invoices = document.retention_rule("invoices")
    assert (invoices.period, invoices.starts, invoices.action) == (
        "P6Y",
        "end_of_financial_year",
        "delete",
    )
    assert invoices.legal_reason is not None and "HMRC" in invoices.legal_reason
    assert document.purpose("billing_and_accounts").retention == "invoices"


def test_analytics_cookies_count_unique_users_under_the_objection_exception(
    document: PolicyDocument,
) -> None:
    assert document.cookies is not None
    analytics = next(c for c in document.cookies.categories if c.key == "analytics")
    assert analytics.consent == "objection"
    assert "unique_visitors" in analytics.measures
    assert document.purpose("website_analytics").analytics


def test_due_diligence_reviews_are_not_yet_due(document: PolicyDocument) -> None:
    reviews = [
        r.due_diligence.next_review_on
        for r in document.recipients
        if r.due_diligence is not None and r.due_diligence.next_review_on is not None
    ]
    assert reviews and min(reviews) >= dt.date(2027, 1, 1)
    processors = [r for r in document.recipients if r.role == "processor"]
    assert all(r.due_diligence and r.due_diligence.dpa_signed_on for r in processors)
