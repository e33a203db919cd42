"""Settings: one object, read from the environment (``WEB4OS_*``) and ``.env``.

Zero configuration is a supported setup: SQLite in a local data directory, the
in-process worker and the offline model. Each of those is swapped by one setting.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

OFFLINE_LABEL = "Offline model (built in; no external AI is called)"


class Settings(BaseSettings):
    """Everything web4os reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="WEB4OS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(default=Path("./.web4os"), description="SQLite file and local files.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite.")
    # Postgres only: the restricted role tenant transactions switch to, so row-level
    # security applies (see tenancy.py). Empty turns the switch off.
    tenant_db_role: str = Field(default="web4os_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$|^$")

    # Dispatch: "embedded" runs tasks in a thread pool inside the web process,
    # "celery" sends them to Celery workers on the broker.
    dispatch: Literal["embedded", "celery"] = "embedded"
    broker_url: str = "redis://127.0.0.1:6379/0"
    result_backend: str = ""
    embedded_workers: int = Field(default=64, ge=1, le=256)
    worker_concurrency: int = Field(default=64, ge=1, le=512)
    task_lease_seconds: int = Field(default=120, ge=5)
    task_soft_time_limit: int = Field(default=300, ge=5,
                                      description="A run older than this loses its lease.")
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    worker_heartbeat_seconds: float = Field(default=5.0, gt=0)
    worker_sweeper: bool = Field(default=True, description="Workers take turns sweeping.")
    db_pool_size: int = Field(default=10, ge=1, le=200)

    # Models. No key and no base URL means the built-in offline model.
    openai_base_url: str = ""
    openai_api_key: str = ""
    openai_model: str = "gpt-4o-mini"
    model_timeout_seconds: float = Field(default=60.0, gt=0)
    model_max_retries: int = Field(default=3, ge=0, le=10)
    # Azure OpenAI (deployment URLs): set this and the base URL to https://<resource>.openai.azure.com
    openai_api_version: str = ""
    # How structured answers are asked for first; a rejected mode falls back to the next one.
    openai_json_mode: Literal["json_schema", "json_object", "text"] = "json_schema"
    # Offer specialists' tools as functions (endpoints with tool calling) instead of
    # running them up front and putting their results in the prompt.
    model_tool_calls: bool = False
    # Endpoints agents may use besides the global one: {base_url: name of the env var holding
    # its API key, or ""}. The global key is never sent anywhere but the global endpoint.
    model_endpoints: dict[str, str] = Field(default_factory=dict)
    offline_latency_seconds: float = Field(default=0.0, ge=0)
    # The model's context window in tokens (prompt + answer); 0 asks the server (llama.cpp
    # and vLLM report it), else 4096 (128,000 for OpenAI and Azure). Per model name or
    # endpoint URL, which win over it: {"llama3.1:8b": 8192, "http://gpu-box:8000/v1": 32768}.
    model_context_tokens: int = Field(default=0, ge=0, le=10_000_000)
    model_context_windows: dict[str, int] = Field(default_factory=dict)

    # Planning rules.
    max_plan_tasks: int = Field(default=12, ge=1, le=200)
    max_task_attempts: int = Field(default=3, ge=1, le=20)

    # Credits.
    signup_credit_grant: int = Field(default=1000, ge=0)
    credits_per_1k_tokens_offline: int = Field(default=1, ge=0)
    credits_per_tool_run: int = Field(default=1, ge=0)

    # Web.
    secret_key: str = "dev-insecure-change-me"
    host: str = "127.0.0.1"
    port: int = 8000
    session_days: int = Field(default=14, ge=1)
    secure_cookies: bool = False
    max_goal_title: int = 200
    max_goal_brief: int = 5000
    invite_days: int = Field(default=7, ge=1, le=90)

    # Files (attachments and knowledge). "local" keeps bytes under data_dir/files;
    # "s3" in a bucket of any S3-compatible service, credentials from the usual AWS_* env.
    storage: Literal["local", "s3"] = "local"
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = ""
    s3_prefix: str = ""
    max_file_bytes: int = Field(default=10_000_000, ge=1, description="Largest file accepted.")
    storage_quota_bytes: int = Field(default=500_000_000, ge=0,
                                     description="All of one account's files together.")

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, else SQLite in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'web4os.sqlite3').resolve()}"

    @property
    def offline_model(self) -> bool:
        """True when no remote model is configured and the offline model answers."""
        return not (self.openai_base_url or self.openai_api_key)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache to override)."""
    return Settings()
