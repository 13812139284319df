"""Loading a dataset written for Fides: the file as Fides' own examples write it loads with
no change, every fides_meta key Fides accepts is either honoured or reported as a warning,
and mistakes in it are still errors, pointed at the line that holds them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fides_estate import DATASET_FILE, write_policy
from fideslang.models import Dataset
from ruamel.yaml import YAML

from opendpo.connectors.base import FieldSpec, dataset_specs
from opendpo.execution.graph import traverse
from opendpo.execution.masking import MaskContext, mask
from opendpo.policy.dataset_file import read_dataset_file
from opendpo.policy.errors import PolicyInvalid, PolicyProblem
from opendpo.policy.loader import load_policy
from opendpo.policy.model.erasure import Masking
from opendpo.policy.model.fides_masking import from_fides

Edit = Callable[[dict[str, Any]], None]


def _as_written() -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load(DATASET_FILE.read_text(encoding="utf-8"))
    return loaded


def _problems(tmp_path: Path, edit: Edit) -> list[PolicyProblem]:
    """Every error, or else every warning, of the policy with the dataset file edited."""
    folder = write_policy(tmp_path / "policy")
    data = _as_written()
    edit(data["dataset"][0])
    with (folder / DATASET_FILE.name).open("w", encoding="utf-8") as handle:
        YAML(typ="safe").dump(data, handle)
    try:
        return load_policy(folder).warnings
    except PolicyInvalid as exc:
        return exc.problems


def _collection(dataset: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in dataset["collections"] if c["name"] == name)
    return found


def _field(dataset: dict[str, Any], collection: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        f for f in _collection(dataset, collection)["fields"] if f["name"] == name
    )
    return found


def test_the_file_loads_as_fides_reads_it(tmp_path: Path) -> None:
    loaded = load_policy(write_policy(tmp_path / "policy"))
    # The only warning: a collection holding personal data that the dataset itself skips.
    assert [(p.severity, p.message) for p in loaded.warnings] == [
        (
            "warning",
            "collection 'postgres_example.archived_customer' holds personal data but "
            "skip_processing is set: requests never read or change it",
        )
    ]
    assert loaded.warnings[0].location is not None
    assert loaded.warnings[0].location.file.endswith("postgres_example.yml")
    (dataset,) = loaded.document.dataset
    assert dataset == Dataset.model_validate(_as_written()["dataset"][0])
    specs = {spec.name: spec for spec in dataset_specs(dataset)}
    # fidesops_meta read as fides_meta: identities, keys, references, lengths, overrides.
    assert specs["customer"].field("email").identity == "email"
    assert specs["customer"].primary_key == ("id",)
    assert specs["customer"].field("name").length == 40
    assert specs["customer"].field("name").masking_override == {
        "strategy": "hmac",
        "configuration": {"algorithm": "SHA-256"},
    }
    assert specs["login"].field("customer_id").references == (
        ("postgres_example", "customer", "id", "from"),
    )
    assert specs["customer"].field("profile.phone").data_categories == (
        "user.contact.phone_number",
    )


def test_reads_follow_references_after_and_skip_processing() -> None:
    (raw,) = _as_written()["dataset"]
    traversal = traverse(dataset_specs(Dataset.model_validate(raw)), ["email"])
    order = [name for _, name in traversal.order]
    assert "archived_customer" not in order
    # visit is a seed, but its fides_meta says after login, which customer's ids feed.
    assert order.index("visit") > order.index("login") > order.index("customer")
    assert order.index("order_item") > order.index("orders")
    assert order.index("product") > order.index("order_item")
    assert order.index("service_request") > order.index("employee")
    feeding = {
        (e.source[1], e.target[1]) for e in traversal.incoming[("postgres_example", "address")]
    }
    assert feeding == {
        ("customer", "address"),
        ("employee", "address"),
        ("orders", "address"),
        ("payment_card", "address"),
    }


def _both_spellings(dataset: dict[str, Any]) -> None:
    _field(dataset, "customer", "email")["fides_meta"] = {"data_type": "string"}


def _typo_under_old_spelling(dataset: dict[str, Any]) -> None:
    _field(dataset, "report", "email")["fidesops_meta"] = {"identiy": "email"}


def _unknown_strategy(dataset: dict[str, Any]) -> None:
    meta = _field(dataset, "address", "street")["fides_meta"]
    meta["masking_strategy_override"] = {"strategy": "scramble"}


def _rewrite_without_value(dataset: dict[str, Any]) -> None:
    meta = _field(dataset, "service_request", "alt_email")["fidesops_meta"]
    meta["masking_strategy_override"] = {"strategy": "string_rewrite"}


def _skip_customer(dataset: dict[str, Any]) -> None:
    # Logins are reached only through customers: skipping customers loses them too.
    _collection(dataset, "customer")["fides_meta"] = {"skip_processing": True}


def _random_too_long(dataset: dict[str, Any]) -> None:
    meta = _field(dataset, "address", "street")["fides_meta"]
    meta["masking_strategy_override"]["configuration"]["length"] = 5000


def _after_nowhere(dataset: dict[str, Any]) -> None:
    _collection(dataset, "visit")["fides_meta"] = {"after": ["postgres_example.nowhere"]}


def _erase_after_nowhere(dataset: dict[str, Any]) -> None:
    _collection(dataset, "login")["fides_meta"] = {"erase_after": ["other.login"]}


@pytest.mark.parametrize(
    ("edit", "line", "message"),
    [
        (_both_spellings, "fidesops_meta: {", "both fides_meta and fidesops_meta"),
        (
            _typo_under_old_spelling,
            "identiy:",
            "unknown key 'identiy' in dataset[0].collections[9].fields[0].fidesops_meta",
        ),
        (_unknown_strategy, "strategy: scramble", "unknown Fides masking strategy 'scramble'"),
        (_rewrite_without_value, "strategy: string_rewrite", "needs configuration.rewrite_value"),
        (
            _skip_customer,
            "- fields:",  # the login collection's first key, as the edited file is dumped
            "collection 'postgres_example.login' holds personal data but no identity reaches it",
        ),
        (_random_too_long, "strategy: random_string_rewrite", "length must be a whole number"),
        (
            _after_nowhere,
            "after: [postgres_example.nowhere]",
            "after names 'postgres_example.nowhere'",
        ),
        (_erase_after_nowhere, "erase_after: [other.login]", "erase_after names 'other.login'"),
    ],
)
def test_mistakes_are_errors_at_their_line(
    tmp_path: Path, edit: Edit, line: str, message: str
) -> None:
    problems = _problems(tmp_path, edit)
    # Others may follow from the first (an identity lost makes collections unreachable).
    (error,) = [p for p in problems if message in p.message]
    assert error.severity == "error"
    assert error.location is not None
    written = Path(error.location.file).read_text(encoding="utf-8").splitlines()
    assert line in written[error.location.line - 1]


def _retired_qualifier(dataset: dict[str, Any]) -> None:
    field = _field(dataset, "customer", "email")
    field["data_qualifier"] = "aggregated.anonymized.unlinked_pseudonymized.pseudonymized"


def _sha512(dataset: dict[str, Any]) -> None:
    meta = _field(dataset, "customer", "name")["fidesops_meta"]
    meta["masking_strategy_override"] = {
        "strategy": "hash",
        "configuration": {"algorithm": "SHA-512"},
    }


def _aes(dataset: dict[str, Any]) -> None:
    meta = _field(dataset, "customer", "name")["fidesops_meta"]
    meta["masking_strategy_override"] = {"strategy": "aes_encrypt", "configuration": {}}


def _custom_field(dataset: dict[str, Any]) -> None:
    _field(dataset, "report", "name")["fides_meta"] = {"custom_request_field": "report_name"}


def _override_on_key(dataset: dict[str, Any]) -> None:
    meta = _field(dataset, "customer", "id")["fidesops_meta"]
    meta["masking_strategy_override"] = {"strategy": "null_rewrite"}


def _hmac_on_integer(dataset: dict[str, Any]) -> None:
    _field(dataset, "report", "total_visits")["fides_meta"] = {
        "data_type": "integer",
        "masking_strategy_override": {"strategy": "hmac"},
    }


def _partitioned(dataset: dict[str, Any]) -> None:
    _collection(dataset, "visit")["fides_meta"]["partitioning"] = {"field": "last_visit"}


def _dataset_after(dataset: dict[str, Any]) -> None:
    dataset["fides_meta"] = {"after": ["some_other_dataset"]}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_retired_qualifier, "'data_qualifier' is ignored: data qualifiers were removed"),
        (_sha512, "SHA-512 is not supported: SHA-256 is used"),
        (_aes, "OpenDPO never encrypts reversibly"),
        (_custom_field, "custom_request_field is not supported"),
        (_override_on_key, "field 'id' is the primary key: an erasure keeps it"),
        (_hmac_on_integer, "hmac: an integer field cannot hold the string keyed_hash writes"),
        (_partitioned, "partitioning is not supported"),
        (_dataset_after, "a dataset's after is not supported"),
    ],
)
def test_what_cannot_be_honoured_loads_with_a_warning(
    tmp_path: Path, edit: Edit, message: str
) -> None:
    problems = _problems(tmp_path, edit)
    assert all(p.severity == "warning" for p in problems), problems
    assert [p.message for p in problems if message in p.message], problems


@pytest.mark.parametrize(
    ("override", "masking", "note"),
    [
        ({"strategy": "null_rewrite"}, Masking(strategy="null"), ""),
        (
            {"strategy": "string_rewrite", "configuration": {"rewrite_value": "MASKED"}},
            Masking(strategy="fixed", value="MASKED"),
            "",
        ),
        ({"strategy": "hmac", "configuration": {}}, Masking(strategy="keyed_hash"), ""),
        (
            {"strategy": "random_string_rewrite", "configuration": {"length": 5}},
            Masking(strategy="random_string", length=5),
            "",
        ),
        ({"strategy": "hash"}, Masking(strategy="keyed_hash"), "Fides salts the hash"),
        (
            {"strategy": "string_rewrite",
             "configuration": {"rewrite_value": "x", "format_preservation": {"suffix": "@x"}}},
            Masking(strategy="fixed", value="x"),
            "format_preservation is not supported",
        ),
    ],
)  # fmt: skip
def test_fides_strategies_map_to_their_equivalents(
    override: dict[str, Any], masking: Masking, note: str
) -> None:
    mapped = from_fides(override)
    assert mapped.masking == masking
    assert mapped.error == ""
    assert (note in mapped.note) if note else mapped.note == ""


def test_masked_values_are_cut_to_the_declared_length() -> None:
    context = MaskContext(request_id="r1", erasure_key=b"k" * 32, random_key=b"r" * 32)
    short = FieldSpec(path="name", data_categories=("user.name",), length=12)
    assert (
        len(mask(Masking(strategy="keyed_hash"), "Alice Archer", field=short, context=context))
        == 12
    )
    assert len(mask(Masking(strategy="hash"), "Alice Archer", field=short, context=context)) == 12
    written = mask(Masking(strategy="random_string", length=30), "A", field=short, context=context)
    assert len(written) == 12
    fixed = Masking(strategy="fixed", value="erased by request r1")
    assert mask(fixed, "Alice", field=short, context=context) == "erased by re"
    free = FieldSpec(path="name", data_categories=("user.name",))
    assert len(mask(Masking(strategy="keyed_hash"), "Alice", field=free, context=context)) == 64


def test_a_dataset_file_alone_is_checked_like_the_policy(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path / "policy", with_dataset=False)).document
    single = tmp_path / "single.yml"
    with single.open("w", encoding="utf-8") as handle:
        YAML(typ="safe").dump(_as_written()["dataset"][0], handle)
    read = read_dataset_file(single, system="shop", policy=policy)
    assert [d["fides_key"] for d in read.datasets] == ["postgres_example"]
    assert [p.message for p in read.warnings] == [
        "collection 'postgres_example.archived_customer' holds personal data but "
        "skip_processing is set: requests never read or change it"
    ]


def test_a_dataset_file_may_reference_the_policys_datasets(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path / "policy")).document
    archive = {
        "fides_key": "order_archive",
        "collections": [
            {
                "name": "orders",
                "fields": [
                    {"name": "customer_id", "data_categories": ["user.unique_id"],
                     "fidesops_meta": {"references": [
                         {"dataset": "postgres_example", "field": "customer.id",
                          "direction": "from"}]}},
                    {"name": "note", "data_categories": ["user.content"]},
                ],
            }
        ],
    }  # fmt: skip
    path = tmp_path / "archive.yml"
    with path.open("w", encoding="utf-8") as handle:
        YAML(typ="safe").dump({"dataset": [archive]}, handle)
    # The policy's own warning (archived_customer) is not the file's to report.
    assert read_dataset_file(path, system="archive", policy=policy).warnings == []

    archive["collections"][0]["fields"][0]["fidesops_meta"]["references"][0]["field"] = (
        "customer.uid"
    )
    with path.open("w", encoding="utf-8") as handle:
        YAML(typ="safe").dump({"dataset": [archive]}, handle)
    with pytest.raises(PolicyInvalid) as raised:
        read_dataset_file(path, system="archive", policy=policy)
    messages = [str(p) for p in raised.value.problems]
    assert len(messages) == 1
    assert "archive.yml:" in messages[0]
    assert (
        "reference to 'postgres_example.customer.uid' names no declared dataset field"
        in messages[0]
    )
