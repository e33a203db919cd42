"""Settings: one object, read from the environment (``WEB4OS_*``) and ``.env``.

Zero configuration is a supported setup: SQLite in a local data directory, the
in-process worker and the offline model. Each of those is swapped by one setting.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

OFFLINE_LABEL = "Offline model (built in; no external AI is called)"
DEV_SECRET_KEY = "dev-insecure-change-me"


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
    # Jobs one ``web4os worker`` process runs at once: greenlets on the gevent pool (the
    # default), so it also bounds that process's model calls in flight; threads on
    # ``--pool threads``.
    worker_concurrency: int = Field(default=256, ge=1, le=4096)
    task_lease_seconds: int = Field(default=120, ge=5)
    task_soft_time_limit: int = Field(default=300, ge=5,
                                      description="A run older than this loses its lease.")
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    # Cards one account may have running at once, unless its admin page says otherwise.
    account_max_running: int = Field(default=32, ge=1, le=1000)
    # Celery: jobs released to the broker at once, all accounts together (about the
    # workers' concurrency in all); the rest wait in their accounts' lanes, in turn.
    dispatch_in_flight: int = Field(default=512, ge=1, le=100_000)
    # Embedded runner: model calls waiting at once (threads that wait on a model do not
    # count against ``embedded_workers``): bounds memory, not throughput.
    model_calls_in_flight: int = Field(default=512, ge=1, le=4096)
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
    # Models that read images, by model name or endpoint URL as above (default none): a
    # goal's image attachments reach them as image parts; other models get the names only.
    model_images: list[str] = Field(default_factory=list)

    # Planning rules.
    max_plan_tasks: int = Field(default=12, ge=1, le=200)
    max_task_attempts: int = Field(default=3, ge=1, le=20)

    # Credits.
    signup_credit_grant: int = Field(default=1000, ge=0)
    # With verification on, a self-serve account's starting credits wait for its owner to
    # open the link mailed at signup (needs the SMTP settings below).
    signup_require_email_verification: bool = False
    email_verification_hours: int = Field(default=48, ge=1, le=24 * 30)
    signups_per_address_per_hour: int = Field(default=3, ge=1)
    credits_per_1k_tokens_offline: int = Field(default=1, ge=0)
    credits_per_tool_run: int = Field(default=1, ge=0)
    # Prices of single tools, by "server.tool" or tool name: {"crm.create_contact": 5}.
    tool_run_credits: dict[str, int] = Field(default_factory=dict)

    # Outbound connections made for accounts (web fetch, MCP servers) go to public addresses
    # only (netguard.py). Comma-separated host names, addresses or networks that may be private.
    net_allowed_hosts: str = ""
    # The built-in web fetch tool; false turns it off for every account.
    web_fetch_enabled: bool = True
    web_fetch_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    web_fetch_max_bytes: int = Field(default=2_000_000, ge=1024, le=50_000_000)
    web_fetch_max_chars: int = Field(default=20_000, ge=100, le=1_000_000)
    web_fetch_max_redirects: int = Field(default=5, ge=0, le=20)

    # MCP servers. Stdio servers start processes, so only the server admin names them:
    # {"name": {"command": "…", "args": […], "env": {…}}}; accounts add streamable-HTTP ones.
    mcp_stdio_servers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    mcp_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    mcp_max_result_chars: int = Field(default=8000, ge=100, le=1_000_000)
    # Tool calls one card may make through the structured action step.
    mcp_max_steps: int = Field(default=3, ge=0, le=20)
    # Key for the MCP servers' credentials at rest (any string, or a Fernet key); empty
    # means one derived from WEB4OS_SECRET_KEY.
    credentials_key: str = ""

    # Webhooks: each attempt waits this long at most (connecting takes at most 3 s of it);
    # this many threads per process send them, apart from the card workers.
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    webhook_senders: int = Field(default=4, ge=1, le=64)

    # Web.
    secret_key: str = DEV_SECRET_KEY
    host: str = "127.0.0.1"
    port: int = 8000
    session_days: int = Field(default=14, ge=1)
    secure_cookies: bool = False
    max_goal_title: int = 200
    max_goal_brief: int = 5000
    invite_days: int = Field(default=7, ge=1, le=90)
    # Days between an owner's request to delete the account and the deletion itself.
    account_deletion_grace_days: int = Field(default=14, ge=0, le=365)
    # Where people open web4os, for links in emails (e.g. https://ops.example.com); empty
    # uses the address of the request that sends the email.
    public_url: str = Field(default="", pattern=r"^(https?://[^\s/]+(/[^\s]*)?)?$")
    # Proxies whose X-Forwarded-For / -Proto headers are believed (uvicorn's
    # forwarded_allow_ips: addresses or networks, comma-separated, or "*"). Empty: the peer
    # address is the client, whatever headers it sends.
    trusted_proxies: str = Field(default="", pattern=r"^[0-9A-Fa-f.:/,* ]*$")

    # Outgoing email (verification links now, notifications later).
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    # "starttls" upgrades a plain connection (port 587), "ssl" is TLS from the start
    # (port 465), "none" sends in clear (a relay on the same host or network only).
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)

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

    @model_validator(mode="after")
    def _verification_needs_mail(self) -> Settings:
        if not self.signup_require_email_verification:
            return self
        if not (self.smtp_host and self.smtp_from):
            raise ValueError("WEB4OS_SIGNUP_REQUIRE_EMAIL_VERIFICATION needs WEB4OS_SMTP_HOST "
                             "and WEB4OS_SMTP_FROM, so the verification email can be sent.")
        if self.secret_key == DEV_SECRET_KEY:
            raise ValueError("WEB4OS_SIGNUP_REQUIRE_EMAIL_VERIFICATION needs a WEB4OS_SECRET_KEY "
                             "of your own: links signed with the default one can be forged.")
        return self

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
