"""The JSON-LD export parses as RDF and says what the records say, in W3C DPV terms."""

from __future__ import annotations

import io

import pytest
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, SKOS, XSD

from opendpo.policy.ropa.formats import FORMATS
from opendpo.policy.ropa.jsonld import to_jsonld
from opendpo.policy.ropa.records import RecordsOfProcessing

DPV = Namespace("https://w3id.org/dpv#")
LOC = Namespace("https://w3id.org/dpv/loc#")
LEGAL_GB = Namespace("https://w3id.org/dpv/legal/gb#")
BASE = "urn:opendpo:"

# rdflib 7's JSON-LD parser builds a ConjunctiveGraph internally and warns about its own use.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")

# Every DPV term the export may use, each checked against the DPV 2.1 vocabulary.
DPV_TERMS = {
    "Analyse", "Consent", "Contract", "DataController", "DataProcessor",
    "DataProtectionOfficer", "DataSubject", "DataSubjectDataSource", "DirectMarketing",
    "Justification", "LegalBasis", "LegalEntity", "LegalMeasure", "LegalObligation",
    "LegitimateInterest", "PersonalData", "PersonalDataHandling", "PersonalDataProcess",
    "PublicInterest", "Purpose", "Recipient", "ResearchAndDevelopment",
    "SpecialCategoryPersonalData", "StorageDeletion", "StorageDuration", "Technology",
    "TechnicalOrganisationalMeasure", "TemporalDuration", "ThirdPartyDataSource",
    "VitalInterest", "hasAddress", "hasApplicableLaw", "hasContact", "hasCountry",
    "hasDataController", "hasDataProtectionOfficer", "hasDataSource", "hasDataSubject",
    "hasDuration", "hasJurisdiction", "hasJustification", "hasLegalBasis", "hasLegalMeasure",
    "hasName", "hasPersonalData", "hasProcessing", "hasPurpose", "hasRecipient",
    "hasStorageCondition", "hasTechnicalOrganisationalMeasure", "hasThirdCountry",
    "isImplementedUsingTechnology",
}  # fmt: skip


def node(kind: str, key: str = "") -> URIRef:
    return URIRef(f"{BASE}{kind}:{key}" if key else f"{BASE}{kind}")


@pytest.fixture
def graph(rich_records: RecordsOfProcessing) -> Graph:
    out = io.BytesIO()
    FORMATS["jsonld"].write(rich_records, out)
    return Graph().parse(data=out.getvalue().decode("utf-8"), format="json-ld")


def test_each_purpose_is_a_process_with_its_legal_basis(graph: Graph) -> None:
    expected = {
        "client_contracts": DPV.Contract,
        "marketing_email": DPV.Consent,
        "accessibility": DPV.LegitimateInterest,
        "site_statistics": DPV.LegitimateInterest,
    }
    for key, basis in expected.items():
        process = node("processing", key)
        assert (process, RDF.type, DPV.PersonalDataProcess) in graph
        assert (process, DPV.hasLegalBasis, basis) in graph
        assert (process, DPV.hasPurpose, node("purpose", key)) in graph
        assert (process, DPV.hasDataController, node("controller")) in graph
        assert (process, DPV.hasApplicableLaw, LEGAL_GB["law-GDPR"]) in graph
    marketing = node("processing", "marketing_email")
    assert (marketing, DPV.hasPurpose, DPV.DirectMarketing) in graph
    assert (node("purpose", "marketing_email"), DCTERMS.title, Literal("Marketing emails")) in (
        graph
    )


def test_data_subjects_and_personal_data(graph: Graph) -> None:
    marketing = node("processing", "marketing_email")
    assert (marketing, DPV.hasDataSubject, node("data-subject", "marketing_contact")) in graph
    email = node("data-category", "user.contact.email")
    assert (marketing, DPV.hasPersonalData, email) in graph
    assert (email, RDF.type, DPV.PersonalData) in graph
    assert (email, SKOS.prefLabel, Literal("User Contact Email")) in graph
    health = node("data-category", "user.health_and_medical")
    assert (health, RDF.type, DPV.SpecialCategoryPersonalData) in graph
    assert (email, RDF.type, DPV.SpecialCategoryPersonalData) not in graph


def test_recipients_third_countries_and_safeguards(graph: Graph) -> None:
    marketing = node("processing", "marketing_email")
    mailer = node("recipient", "mailer")
    assert (marketing, DPV.hasRecipient, mailer) in graph
    assert (mailer, RDF.type, DPV.DataProcessor) in graph
    assert (mailer, DPV.hasThirdCountry, LOC.US) in graph
    assert (marketing, DPV.hasThirdCountry, LOC.US) in graph
    (safeguard,) = graph.objects(mailer, DPV.hasLegalMeasure)
    assert (safeguard, RDF.type, DPV.LegalMeasure) in graph
    assert (safeguard, DCTERMS.identifier, Literal("uk_addendum")) in graph
    courier = node("recipient", "courier")
    assert (courier, RDF.type, DPV.DataController) in graph
    assert (courier, DPV.hasThirdCountry, None) not in graph


def test_storage_duration_and_measures(graph: Graph) -> None:
    contracts = node("processing", "client_contracts")
    (storage,) = graph.objects(contracts, DPV.hasStorageCondition)
    assert (storage, RDF.type, DPV.StorageDuration) in graph
    assert (storage, RDF.type, DPV.StorageDeletion) in graph
    (duration,) = graph.objects(storage, DPV.hasDuration)
    assert (duration, RDF.value, Literal("P6Y", datatype=XSD.duration)) in graph
    measures = set(graph.objects(contracts, DPV.hasTechnicalOrganisationalMeasure))
    assert len(measures) == 2
    descriptions = {str(graph.value(m, DCTERMS.description)) for m in measures}
    assert "Encryption at rest and in transit" in descriptions
    controller = node("controller")
    assert (controller, RDF.type, DPV.DataController) in graph
    dpo = graph.value(controller, DPV.hasDataProtectionOfficer)
    assert (dpo, DPV.hasContact, Literal("mailto:dpo@example.co.uk")) in graph


def test_legitimate_interest_reasoning_and_flags(graph: Graph) -> None:
    statistics = node("processing", "site_statistics")
    justifications = set(graph.objects(statistics, DPV.hasJustification))
    assert {str(graph.value(j, DCTERMS.title)) for j in justifications} == {
        "Legitimate interest",
        "Necessity",
        "Balancing test",
    }
    assert (statistics, DPV.hasProcessing, DPV.Analyse) in graph
    assert (statistics, DPV.hasPurpose, DPV.ResearchAndDevelopment) in graph
    assert (node("processing", "client_contracts"), DPV.hasJustification, None) not in graph


def test_uses_only_known_dpv_terms(graph: Graph) -> None:
    used = {
        str(term).removeprefix(str(DPV))
        for triple in graph
        for term in triple
        if isinstance(term, URIRef) and str(term).startswith(str(DPV))
    }
    assert used <= DPV_TERMS, used - DPV_TERMS


def test_base_sets_node_identifiers(rich_records: RecordsOfProcessing) -> None:
    document = to_jsonld(rich_records, base="https://example.org/ropa/")
    ids = {n["@id"] for n in document["@graph"]}
    assert "https://example.org/ropa/controller" in ids
    assert "https://example.org/ropa/processing:marketing_email" in ids
