"""A policy may be a folder of YAML files: they merge into one document, errors name the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from policy_edits import edited, problems, where

from opendpo.policy.loader import load_policy
from opendpo.policy.versions import digest_of, document_json

SPLIT = Path(__file__).resolve().parent.parent / "policy_files" / "split"


@pytest.fixture
def split(tmp_path: Path) -> Path:
    """A writable copy of the split policy (controller, purposes, a Fides dataset file)."""
    return Path(shutil.copytree(SPLIT, tmp_path / "policy"))


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(edited(path.read_text(encoding="utf-8"), (old, new)), encoding="utf-8")


def test_split_folder_equals_the_single_file(minimal_policy: Path) -> None:
    single = load_policy(minimal_policy)
    folder = load_policy(SPLIT)
    assert folder.document == single.document
    assert digest_of(document_json(folder.document)) == digest_of(document_json(single.document))
    assert [path.relative_to(SPLIT).as_posix() for path in folder.files] == [
        "controller.yaml",
        "datasets/crm_db.yml",
        "purposes.yaml",
    ]


def test_fides_dataset_file_loads_unchanged() -> None:
    # The file carries Fides' own attributes (organization_fides_key, data_type, nulls ...).
    text = (SPLIT / "datasets" / "crm_db.yml").read_text(encoding="utf-8")
    assert "organization_fides_key: default_organization" in text
    dataset = load_policy(SPLIT).document.dataset[0]
    assert dataset.fides_key == "crm_db"
    contacts = next(c for c in dataset.collections if c.name == "contacts")
    email = next(f for f in contacts.fields if f.name == "email")
    assert email.data_categories == ["user.contact.email"]
    assert email.fides_meta is not None and email.fides_meta.identity == "email"


def test_error_in_a_purposes_file_names_that_file(split: Path) -> None:
    purposes = split / "purposes.yaml"
    edit(purposes, "    recipients: [courier]", "    recipients: [couier]")
    assert problems(split) == [f"{where(purposes, 'couier')}: unknown recipient 'couier'"]


def test_error_in_a_dataset_file_names_that_file(split: Path) -> None:
    dataset = split / "datasets" / "crm_db.yml"
    edit(dataset, "field: contacts.id", "field: contacts.uuid")
    assert problems(split) == [
        f"{where(dataset, 'contacts.uuid')}: reference to 'crm_db.contacts.uuid' names no "
        "declared dataset field"
    ]


def test_controller_declared_in_two_files_names_both(split: Path) -> None:
    extra = split / "second.yaml"
    extra.write_text("# a stray copy\ncontroller:\n  legal_name: Other Ltd\n", encoding="utf-8")
    first = where(split / "controller.yaml", "controller:")
    assert problems(split) == [
        f"{where(extra, 'controller:')}: 'controller' is already declared at {first}"
    ]


def test_purpose_declared_in_two_files_names_both(split: Path) -> None:
    purposes = split / "purposes.yaml"
    text = purposes.read_text(encoding="utf-8")
    block = text[text.index("  - key: marketing_email") : text.index("\nsystems:")]
    extra = split / "sales.yaml"  # read after purposes.yaml: files are read in name order
    extra.write_text(f"purposes:\n{block}\n", encoding="utf-8")
    second = where(extra, "- key: marketing_email", "marketing_email")
    first = where(purposes, "- key: marketing_email", "key")
    assert problems(split) == [
        f"{second}: purpose 'marketing_email' is already declared at {first}"
    ]


def test_list_sections_merge_across_files(split: Path) -> None:
    subject = "  - key: marketing_contact\n    taxonomy: prospect\n    name: Marketing contacts\n"
    edit(split / "purposes.yaml", subject, "")
    (split / "subjects.yaml").write_text(f"data_subjects:\n{subject}", encoding="utf-8")
    document = load_policy(split).document
    assert sorted(s.key for s in document.data_subjects) == ["client_contact", "marketing_contact"]


def test_file_that_is_not_utf8_is_located(split: Path) -> None:
    latin1 = split / "notes.yaml"
    latin1.write_bytes("# notes\nsystems:\n  - key: caf\u00e9\n".encode("latin-1"))
    # "é" in Latin-1 is the single byte 0xe9, the 13th character of line 3.
    assert problems(split) == [
        f"{latin1}:3:13: the file is not UTF-8 text (byte 0xe9 cannot be decoded): save it as UTF-8"
    ]


def test_folder_without_policy_files(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("not a policy\n", encoding="utf-8")
    assert problems(tmp_path) == [f"{tmp_path}: no .yaml or .yml files in this folder"]


def test_other_files_in_the_folder_are_ignored(split: Path) -> None:
    (split / "README.md").write_text("controller: not yaml we read\n", encoding="utf-8")
    assert len(load_policy(split).files) == 3


def test_empty_file_in_a_folder_is_named(split: Path) -> None:
    empty = split / "later.yaml"
    empty.write_text("", encoding="utf-8")
    assert problems(split) == [f"{empty}:1:1: the file is empty"]


def test_empty_list_section_points_at_its_key(split: Path) -> None:
    stub = split / "systems.yaml"
    stub.write_text("# to fill in\nsystems:\n", encoding="utf-8")
    assert problems(split) == [f"{stub}:2:1: 'systems' must be a list"]
