"""Connections declared in the policy: a relative spec_file is anchored to the policy's folder."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from opendpo.policy.loader import load_policy

MINIMAL = Path(__file__).resolve().parent.parent / "policy_files" / "minimal.yaml"


def test_a_relative_spec_file_is_stored_absolute(tmp_path: Path) -> None:
    yaml = YAML(typ="safe")
    data = yaml.load(MINIMAL.read_text(encoding="utf-8"))
    data["systems"][0]["connection"] = {
        "type": "http",
        "base_url": "https://crm.example",
        "spec_file": "apis/crm.yaml",
    }
    folder = tmp_path / "policy"
    folder.mkdir()
    with (folder / "policy.yaml").open("w", encoding="utf-8") as handle:
        yaml.dump(data, handle)
    loaded = load_policy(folder / "policy.yaml")
    connection = loaded.document.systems[0].connection
    assert connection is not None
    assert connection["spec_file"] == str(folder / "apis" / "crm.yaml")
    # Loading the same policy from elsewhere gives the same answer.
    assert load_policy(folder).document.systems[0].connection == connection
