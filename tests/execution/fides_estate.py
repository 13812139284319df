"""The shop described by a dataset written for Fides (fides/postgres_example.yml), seeded on
PostgreSQL from fides/postgres_example.sql, and a policy folder that uses the dataset file
exactly as written."""

from __future__ import annotations

import shutil
from pathlib import Path

from ruamel.yaml import YAML
from sqlalchemy import create_engine, text

HERE = Path(__file__).resolve().parent
DATASET_FILE = HERE / "fides" / "postgres_example.yml"
SEED_SQL = HERE / "fides" / "postgres_example.sql"
MINIMAL = HERE.parent / "policy_files" / "minimal.yaml"
ALICE = "alice@example.com"
BOB = "bob@example.com"
KINDS = ("access", "erasure", "rectification", "restriction", "portability", "objection")


def write_policy(folder: Path, *, with_dataset: bool = True) -> Path:
    """minimal.yaml with one system, the shop, and beside it the Fides dataset file copied
    byte for byte (or, `with_dataset` False, no dataset: `systems add --dataset` gives it)."""
    yaml = YAML(typ="safe")
    data = yaml.load(MINIMAL.read_text(encoding="utf-8"))
    held = ["postgres_example"] if with_dataset else []
    data["systems"] = [{"key": "shop", "name": "Shop", "kind": "other", "datasets": held}]
    data["dataset"] = []
    # No recipient to tell of an erasure (Art 19): the request ends when the shop is done.
    data["recipients"] = []
    for purpose in data["purposes"]:
        purpose["systems"] = ["shop"]
        purpose["recipients"] = []
    data["rights"]["available"] = [
        {"key": key, "name": key.title(), "description": f"The right of {key}.",
         "routes": ["dpo_email"]}
        for key in KINDS
    ]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "policy.yaml").open("w", encoding="utf-8") as handle:
        yaml.dump(data, handle)
    if with_dataset:
        shutil.copyfile(DATASET_FILE, folder / DATASET_FILE.name)
    return folder


def seed(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(SEED_SQL.read_text(encoding="utf-8"))
    engine.dispose()


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = [tuple(r) for r in connection.execute(text(sql))]
    engine.dispose()
    return found
