"""The operators' compose file (deploy/compose.yaml) says only what the server understands."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from flora_mcp.cli import build_parser
from flora_mcp.settings import Settings, env_name

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose.yaml"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def _replicas() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return {name: s for name, s in services.items() if s.get("image") == "flora-mcp"}


def test_two_stateless_replicas_share_one_database_behind_a_balancer() -> None:
    replicas = _replicas()
    assert len(replicas) == 2
    balancer = _compose()["configs"]["balancer"]["content"]
    for name in replicas:
        assert re.search(rf"server {name}:8000;", balancer), name
    assert "sticky" not in balancer and "ip_hash" not in balancer  # stateless: no sticky routing
    urls = {r["environment"]["FLORA_DATABASE_URL"] for r in replicas.values()}
    assert len(urls) == 1 and next(iter(urls)).startswith("postgresql://") and "@db:5432/" in next(iter(urls))


def test_every_variable_and_flag_is_a_setting() -> None:
    known = {env_name(name) for name in Settings.model_fields}
    for replica in _replicas().values():
        assert set(replica["environment"]) <= known, set(replica["environment"]) - known
        args = build_parser().parse_args(replica["command"])
        assert args.stateless is True and args.transport == "http" and args.host == "0.0.0.0"
        assert replica["environment"]["FLORA_AUTH_TOKEN"]  # a non-loopback bind needs authentication
