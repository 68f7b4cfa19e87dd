"""docker-compose stack and Dockerfile. No Docker engine runs here, so this checks the file's
structure and that everything it refers to exists and agrees (names, ports, paths)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from router.config import load

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose"
# The Compose-spec service keys this stack may use; anything else is most likely a typo
# (docker compose rejects unknown keys, e.g. `replicas` outside `deploy`).
SERVICE_KEYS = {
    "build", "image", "command", "entrypoint", "deploy", "ports", "environment", "env_file",
    "volumes", "depends_on", "healthcheck", "restart", "labels", "networks", "ulimits",
}


def stack() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    return data


def test_services_and_replicas() -> None:
    services = stack()["services"]
    assert set(services) == {"laneway", "fleet", "redis", "prometheus", "grafana"}
    assert services["laneway"]["deploy"]["replicas"] == 2
    for name, svc in services.items():
        assert set(svc) <= SERVICE_KEYS, f"{name}: unknown keys {set(svc) - SERVICE_KEYS}"
        assert "image" in svc or "build" in svc, name
        for dep in svc.get("depends_on", ()):
            assert dep in services, f"{name} depends on unknown service {dep}"


def test_replicas_get_distinct_host_ports() -> None:
    # Two replicas cannot share one fixed host port: the laneway mapping must be a range.
    (mapping,) = stack()["services"]["laneway"]["ports"]
    m = re.fullmatch(r"(\d+)-(\d+):(\d+)", mapping)
    assert m, mapping
    assert int(m[2]) - int(m[1]) + 1 >= stack()["services"]["laneway"]["deploy"]["replicas"]


def test_mounted_files_and_build_context_exist() -> None:
    for name, svc in stack()["services"].items():
        for vol in svc.get("volumes", ()):
            source = vol.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE / source).exists(), f"{name}: {source}"
        if "build" in svc:
            context = COMPOSE / svc["build"]["context"]
            assert (context / svc["build"]["dockerfile"]).is_file(), name


def test_laneway_config_names_the_stack_services() -> None:
    services = stack()["services"]
    cfg = load(COMPOSE / "laneway.yaml")
    assert not cfg.warnings, cfg.warnings
    assert urlparse(cfg.raw.redis.url).hostname in services
    for m in cfg.models:
        assert urlparse(m.api_base).hostname in services, m.name
    mounts = [v.split(":")[1] for v in services["laneway"]["volumes"]]
    assert services["laneway"]["environment"]["LANEWAY_CONFIG"] in mounts


def test_prometheus_scrapes_every_replica_and_loads_the_alerts() -> None:
    services = stack()["services"]
    prom = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    (sd,) = prom["scrape_configs"][0]["dns_sd_configs"]
    assert sd["names"] == ["laneway"] and sd["type"] == "A"
    port = services["laneway"]["ports"][0].rsplit(":", 1)[1]
    assert str(sd["port"]) == port
    assert "--port" in services["laneway"]["command"]
    assert services["laneway"]["command"][services["laneway"]["command"].index("--port") + 1] \
        == port
    mounted = {v.split(":")[1] for v in services["prometheus"]["volumes"]}
    for rule_file in prom["rule_files"]:
        assert f"/etc/prometheus/{rule_file}" in mounted


def test_grafana_is_provisioned_from_the_repository() -> None:
    grafana = stack()["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    provider = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/laneway.yaml").read_text()
    )["providers"][0]
    assert mounts["../grafana/dashboards"] == provider["options"]["path"]
    assert mounts["../grafana/provisioning"] == "/etc/grafana/provisioning"
    datasource = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yaml").read_text()
    )["datasources"][0]
    assert urlparse(datasource["url"]).hostname in stack()["services"]


def test_dockerfile_copies_what_exists_and_runs_unprivileged() -> None:
    lines = (ROOT / "deploy" / "Dockerfile").read_text().splitlines()
    copies = [ln.split()[1:-1] for ln in lines if ln.startswith("COPY ") and "--from" not in ln]
    for sources in copies:
        for src in sources:
            assert (ROOT / src).exists(), src
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {p.rstrip("*") for p in found["packages"]["find"]["include"]}
    assert packages <= {src for c in copies for src in c}, "a package is missing from the image"
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    assert "EXPOSE 8080" in lines
