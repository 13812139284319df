"""Settings: every knob has a name, a default and a line of help (`opendpo settings`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A value anyone can read in this file is not a secret; outside demo mode it is refused.
DEMO_SECRET_KEY = "opendpo-demo-secret-do-not-use-in-production"
MIN_SECRET_LENGTH = 32


class SettingsError(Exception):
    """The settings are unusable; the message names the variable to fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENDPO_", extra="ignore", frozen=True)

    demo: bool = Field(
        default=False,
        description="Demo mode: allows the published demo secret and prints demo hints.",
    )
    database_url: str = Field(
        default="sqlite:///var/opendpo.db",
        description="SQLAlchemy URL of OpenDPO's own store (SQLite file or PostgreSQL).",
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        le=200,
        description="Store connections each server process keeps open. Size it to the "
        "requests a process serves at once: a connection opened for a burst and closed "
        "after it costs the database far more than the query it ran.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(DEMO_SECRET_KEY),
        description="Secret for signing; at least 32 characters; required outside demo mode.",
    )
    host: str = Field(default="127.0.0.1", description="Address `opendpo serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `opendpo serve` uses.")
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public address of this installation, used in links and records.",
    )
    policy_path: Path = Field(
        default=Path("policies/connect-ib.yaml"),
        description="The policy file or folder `make demo` applies and the docs refer to.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level of log line written."
    )
    log_format: Literal["json", "console"] = Field(
        default="json", description="json: one object per line for collectors; console: readable."
    )
    key_file: Path = Field(
        default=Path("var/keys.json"),
        description="Key file (`opendpo keys init`), used unless OPENDPO_ENCRYPTION_KEYS is set.",
    )
    encryption_keys: SecretStr | None = Field(
        default=None,
        description="Keys as 'id:base64,id:base64', first active; overrides OPENDPO_KEY_FILE.",
    )
    mac_key: SecretStr | None = Field(
        default=None,
        description="Base64 key for blind indexes and the audit chain (never rotated).",
    )
    smtp_host: str | None = Field(
        default=None, description="Mail server for outgoing email; unset: write to outbox_path."
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="Mail server port.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection to TLS.")
    smtp_username: str | None = Field(default=None, description="SMTP user name, if needed.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password, if needed.")
    mail_from: str = Field(
        default="privacy@connect-ib.example",
        description="The From address of email OpenDPO sends (receipts, links, codes).",
    )
    outbox_path: Path = Field(
        default=Path("var/outbox"),
        description="Folder that email goes to as .eml files when no SMTP server is set.",
    )
    unsubscribe_mailbox: str | None = Field(
        default=None,
        description="Address for mailto: unsubscribes in List-Unsubscribe (RFC 8058 asks for "
        "an https link too; both are sent).",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL shared by every process for rate limits; in-process if unset.",
    )
    session_idle_minutes: int = Field(
        default=30, ge=1, description="A console session ends after this long without a request."
    )
    session_absolute_hours: int = Field(
        default=12, ge=1, description="A console session ends this long after sign-in, whatever."
    )
    api_key_cache_seconds: float = Field(
        default=5,
        ge=0,
        le=60,
        description="How long a process trusts an API key it has checked before checking it "
        "in the store again: a revoked key is refused everywhere within this time. 0 checks "
        "every request.",
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed sign-ins in a row before an account is locked."
    )
    login_lockout_minutes: int = Field(
        default=15, ge=1, description="How long a locked account stays locked."
    )
    rate_limit_public: str = Field(
        default="60/minute", description="Requests per client address to public endpoints."
    )
    rate_limit_identity: str = Field(
        default="5/hour", description="Requests per identity (e.g. email) to public endpoints."
    )
    rate_limit_login: str = Field(
        default="10/minute", description="Sign-in attempts per client address."
    )
    reminder_working_days: int = Field(
        default=3,
        ge=0,
        le=20,
        description="Staff are reminded of an open request this many working days before it "
        "is due (and again once it is overdue).",
    )
    staff_mail_domain: str | None = Field(
        default=None,
        description="Mail domain of staff accounts: reminders go to username@domain. Unset: "
        "to the DPO address in the policy.",
    )

    background_jobs: bool = Field(
        default=True,
        description="Run periodic work in each server process: OpenDSR callbacks, reminders.",
    )
    callback_interval_seconds: float = Field(
        default=5,
        ge=0.5,
        le=3600,
        description="How often each server process delivers the OpenDSR callbacks that are due.",
    )
    callback_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=60,
        description="How long an OpenDSR callback may take before it counts as failed.",
    )
    opendsr_allow_http_callbacks: bool = Field(
        default=False,
        description="Accept http:// OpenDSR callback URLs on this machine (127.0.0.1, "
        "localhost) for testing; https:// is required otherwise.",
    )

    task_queue_url: str | None = Field(
        default=None,
        description="Where request steps are queued. Unset: embedded (the SQLite file "
        "OPENDPO_TASK_QUEUE_PATH, worked by threads inside `opendpo serve`); "
        "redis://host:port/db: distributed, worked by any number of `opendpo worker` "
        "processes on any machines.",
    )
    task_queue_name: str = Field(
        default="opendpo",
        min_length=1,
        max_length=100,
        description="The queue's name: installations sharing one Redis use different names.",
    )
    task_queue_path: Path = Field(
        default=Path("var/tasks.db"),
        description="The embedded task queue's SQLite file.",
    )
    worker_threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Steps each worker (or the embedded worker in `serve`) runs at once.",
    )
    embedded_worker: bool = Field(
        default=True,
        description="Run request steps inside `opendpo serve` (turn off when `opendpo worker` "
        "processes do the work).",
    )
    step_lease_seconds: float = Field(
        default=60,
        ge=1,
        le=3600,
        description="How long a worker holds a step without renewing it; a step held by a "
        "worker that died is taken over once this has passed.",
    )
    sweep_interval_seconds: float = Field(
        default=15,
        ge=0.2,
        le=3600,
        description="How often each worker looks for steps that are due or were abandoned.",
    )
    package_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="Days an access or portability package (and its download link) is kept.",
    )

    @property
    def behind_tls(self) -> bool:
        """Served over https: cookies are marked Secure and HSTS is sent."""
        return self.base_url.startswith("https://")

    rate_limit_unsubscribe: str = Field(
        default="600/minute",
        description="One-click unsubscribes per client address: mail providers send them "
        "for many people from few addresses, and each must take effect (RFC 8058).",
    )
    rate_limit_codes: str = Field(
        default="20/hour",
        description="Verification codes typed or asked for on the privacy centre, per client "
        "address (each request also allows OPENDPO_RATE_LIMIT_IDENTITY tries).",
    )

    @field_validator(
        "rate_limit_public",
        "rate_limit_identity",
        "rate_limit_login",
        "rate_limit_unsubscribe",
        "rate_limit_codes",
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        # Checked at start-up: a typo found at the first public request would be a 500 there.
        try:
            limits = parse_many(value)
        except ValueError:
            raise ValueError(
                f"'{value}' is not a rate limit; write e.g. '10/minute' or '5 per hour'"
            ) from None
        if len(limits) != 1:
            raise ValueError(f"'{value}' holds {len(limits)} limits; give one, e.g. '10/minute'")
        if limits[0].amount < 1:
            raise ValueError(f"'{value}' allows nothing at all; give at least 1 per period")
        return value

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.demo:
            return self
        if secret == DEMO_SECRET_KEY:
            raise ValueError(
                "OPENDPO_SECRET_KEY is the published demo secret; set a secret of your own "
                f"(at least {MIN_SECRET_LENGTH} characters) or set OPENDPO_DEMO=1"
            )
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"OPENDPO_SECRET_KEY is too short; use at least {MIN_SECRET_LENGTH} characters"
            )
        return self


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, turning validation failures into a SettingsError."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"])
            label = f"OPENDPO_{name.upper()}: " if name else ""
            problems.append(f"{label}{error['msg'].removeprefix('Value error, ')}")
        raise SettingsError("; ".join(problems)) from None
