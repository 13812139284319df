"""Fixtures shared by the whole suite: settings, and a migrated store on SQLite and PostgreSQL.

PostgreSQL runs whenever reachable; with OPENDPO_REQUIRE_SERVICES=1 (CI) an unreachable
service fails the test instead of skipping it.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from opendpo.cli import cli
from opendpo.security.keyring import Keyring, load_keyring
from opendpo.settings import Settings
from opendpo.store.engine import make_engine, make_session_factory
from opendpo.store.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
POLICY_FILES = Path(__file__).resolve().parent / "policy_files"
REQUIRE_SERVICES = os.environ.get("OPENDPO_REQUIRE_SERVICES") == "1"
POSTGRES_ADMIN_URL = os.environ.get(
    "OPENDPO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TEST_SECRET = "test-secret-key-that-is-long-enough-for-settings"
# Fixed test keys (base64 of 32 bytes each): never used outside the suite.
TEST_ENCRYPTION_KEYS = "t1:" + base64.b64encode(bytes(range(32))).decode()
TEST_MAC_KEY = base64.b64encode(bytes(range(100, 132))).decode()
CHROMIUM = Path("/usr/bin/chromium")


def service_missing(what: str, why: object) -> None:
    """Skip, or fail when the run requires every service (CI)."""
    message = f"{what} is not reachable: {why}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (OPENDPO_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session; its URL."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"opendpo_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        service_missing("PostgreSQL", exc.orig)
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'opendpo.db'}"
        return
    url: str = request.getfixturevalue("postgres_database")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    yield url


@pytest.fixture
def keyring(settings: Settings) -> Keyring:
    return load_keyring(settings)


@pytest.fixture
def engine(database_url: str, keyring: Keyring) -> Iterator[Engine]:
    """A store migrated to the latest schema, opening encrypted columns with the test keys."""
    engine = make_engine(database_url, keyring=keyring)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with make_session_factory(engine)() as session:
        yield session


@pytest.fixture(scope="session", autouse=True)
def files_kept_out_of_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Email and the task queue default to ./var: point them elsewhere for any Settings a
    test builds, so no test writes into the checkout, nor shares a queue with a server
    another test started (its worker would take that server's messages)."""
    folder = tmp_path_factory.mktemp("var")
    values = {
        "OPENDPO_OUTBOX_PATH": str(folder / "outbox"),
        "OPENDPO_TASK_QUEUE_PATH": str(folder / "tasks.db"),
    }
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
        encryption_keys=TEST_ENCRYPTION_KEYS,  # type: ignore[arg-type]
        mac_key=TEST_MAC_KEY,  # type: ignore[arg-type]
        outbox_path=tmp_path / "outbox",
        task_queue_path=tmp_path / "tasks.db",
    )


@pytest.fixture
def minimal_policy() -> Path:
    return POLICY_FILES / "minimal.yaml"


@pytest.fixture
def run(settings: Settings) -> Callable[..., Result]:
    """Invoke `opendpo ARGS...` in-process with OPENDPO_* pointing at this test's store."""
    runner = CliRunner(
        env={
            "OPENDPO_DATABASE_URL": settings.database_url,
            "OPENDPO_SECRET_KEY": settings.secret_key.get_secret_value(),
            "OPENDPO_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
            "OPENDPO_MAC_KEY": TEST_MAC_KEY,
            "OPENDPO_OUTBOX_PATH": str(settings.outbox_path),
            "OPENDPO_TASK_QUEUE_PATH": str(settings.task_queue_path),
            # Whatever the developer's shell says, tests run outside demo mode.
            "OPENDPO_DEMO": None,
        }
    )

    def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
        return runner.invoke(cli, list(args), env=env)

    return invoke


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    """Debian's Chromium, which Playwright drives (it cannot download a browser here)."""
    if not CHROMIUM.exists():
        service_missing("Chromium", f"{CHROMIUM} is missing (apt-get install -y chromium)")
    return CHROMIUM


# The company's own systems that requests run across: throwaway databases on the real servers.
MARIADB_ADMIN_URL = os.environ.get(
    "OPENDPO_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
)
REDIS_TEST_URL = os.environ.get("OPENDPO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def estate_postgres_url(postgres_database: str) -> Iterator[str]:
    """An empty PostgreSQL database for a connected system (not OpenDPO's store)."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"estate_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def estate_mariadb_url() -> Iterator[str]:
    """An empty MariaDB database for a connected system."""
    admin = create_engine(MARIADB_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"estate_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except OperationalError as exc:
        admin.dispose()
        service_missing("MariaDB", exc.orig)
    yield make_url(MARIADB_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, str]]:
    """(Redis URL, a key prefix owned by this test); every key under the prefix is removed after."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        service_missing("Redis", exc)
    prefix = f"opendpo-test:{uuid.uuid4().hex[:12]}:"
    yield REDIS_TEST_URL, prefix
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()
