"""Process configuration, read from the environment (``EBANK_*``) with pydantic-settings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EBANK_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'ebank.db'}",
        description="SQLAlchemy URL; SQLite (embedded, default) or postgresql+psycopg://…",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    policy_profile: str = "cn"
    policy_dir: Path = PROJECT_ROOT / "policies"
    var_dir: Path = PROJECT_ROOT / "var"
    keys_file: Path | None = Field(
        default=None,
        description="JSON file holding the data-encryption and lookup keys; "
        "defaults to <var_dir>/keys.json, created on first start",
    )
    data_keys: str | None = Field(
        default=None,
        description="Data-encryption keys as 'id:base64key,…' (the first one encrypts); "
        "overrides the keys file",
    )
    lookup_key: str | None = Field(
        default=None, description="Base64 key for the keyed hash used to find personal data"
    )
    default_locale: str = "zh-CN"
    cookie_secure: bool = False
    max_body_bytes: int = 1_048_576
    argon2_time_cost: int = Field(default=3, ge=1, le=20)
    argon2_memory_kib: int = Field(default=65536, ge=8, le=4_194_304)

    ledger_batch_max: int = Field(default=1000, ge=1, le=8190)
    ledger_workers: int = Field(
        default=0, ge=0, le=16, description="Posting workers (0: 2 on PostgreSQL, 1 on SQLite)"
    )

    ledger_batch_wait_ms: float = Field(
        default=1.0,
        ge=0,
        le=100,
        description="How long a batch waits for company once it has a first request (0: take "
        "only what is already queued)",
    )
    sms_gateway: str = Field(
        default="file",
        description="'file' (var/sms-outbox.jsonl), a file path, or an http(s) gateway URL",
    )
    payment_batch_wait_ms: float = Field(
        default=8.0,
        ge=0,
        le=50,
        description="Under load, how long a payment batch may wait for the requests on their way "
        "(it closes as soon as as many have joined as joined the batch before)",
    )
    notify_gather_ms: float = Field(
        default=100.0,
        ge=0,
        le=5000,
        description="How long the courier gathers notifications into one round (codes go at once)",
    )
    gc_young_threshold: int = Field(
        default=10_000,
        ge=100,
        le=1_000_000,
        description="Allocations between young-generation collections (Python's default: 700)",
    )
    risk_store_url: str | None = Field(
        default=None,
        description="Redis URL of the risk feature store shared by processes (none: in memory, "
        "rebuilt from the event log on start)",
    )
    risk_reload_s: float = Field(
        default=5.0, ge=0, description="How often a process looks for a new live rule set or model"
    )
    identity_check: str = Field(
        default="simulated",
        pattern=r"^(simulated|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$",
        description="The citizen-identity check for self-service registration: 'simulated' (the "
        "bank's own verified documents) or 'package.module:Class' of the national service's client",
    )
    rp_id: str = Field(default="localhost", description="WebAuthn relying-party id (the host)")
    rp_origin: str = Field(default="http://localhost:8000", description="WebAuthn origin")
    background_interval_s: float = Field(default=5.0, ge=0, description="0 turns the worker off")
    simulate_counterparty: bool = Field(
        default=False, description="Let a simulated counterparty bank settle inter-bank payments"
    )

    @property
    def resolved_keys_file(self) -> Path:
        return self.keys_file or self.var_dir / "keys.json"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
