"""docker-compose.yml keeps its production shape (no Docker engine needed to check it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def _services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def test_compose_runs_migrate_once_then_web_and_scalable_workers() -> None:
    s = _services()
    assert {"postgres", "redis", "migrate", "web", "worker"} <= set(s)
    assert s["migrate"]["command"] == ["web4os", "migrate"] and s["migrate"]["restart"] == "no"
    for name in ("web", "worker"):
        assert s[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert s[name]["environment"]["WEB4OS_DISPATCH"] == "celery"
        assert s[name]["environment"]["WEB4OS_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert s["worker"]["command"][:2] == ["web4os", "worker"]
    # --scale worker=N needs no fixed name and no host port on the worker.
    assert "container_name" not in s["worker"] and "ports" not in s["worker"]


def test_compose_has_health_checks_and_volumes() -> None:
    s = _services()
    assert "/healthz" in " ".join(s["web"]["healthcheck"]["test"])
    assert s["worker"]["healthcheck"]["test"][-2:] == ["health", "--worker"]
    for name in ("postgres", "redis"):
        assert "healthcheck" in s[name] and s[name]["volumes"]
    volumes = yaml.safe_load(COMPOSE.read_text())["volumes"]
    assert {"pgdata", "redisdata"} <= set(volumes)


def test_compose_trusts_forwarded_headers_from_its_containers_only() -> None:
    """Containers on the project's network may be proxies; its gateway, which published
    ports can come through, may not (else a client could forge its address)."""
    import ipaddress
    import re

    ipam = yaml.safe_load(COMPOSE.read_text())["networks"]["default"]["ipam"]["config"][0]
    env = _services()["web"]["environment"]["WEB4OS_TRUSTED_PROXIES"]
    m = re.fullmatch(r"\$\{WEB4OS_TRUSTED_PROXIES:-([^}]+)\}", env)
    assert m, env
    trusted = ipaddress.ip_network(m.group(1))
    assert trusted.subnet_of(ipaddress.ip_network(ipam["subnet"]))  # type: ignore[arg-type]
    assert trusted == ipaddress.ip_network(ipam["ip_range"])
    assert ipaddress.ip_address(ipam["gateway"]) not in trusted
