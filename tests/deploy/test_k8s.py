"""Kubernetes manifests: valid against the API schemas (offline, strict: unknown fields are
errors) and consistent with each other and with laneway's config loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from router.config import parse

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
# The oldest Kubernetes still widely run, and the newest the package knows.
VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]


def manifests() -> list[dict[str, Any]]:
    files = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    return [d for f in files for d in yaml.safe_load_all((K8S / f).read_text()) if d]


def by_kind(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}"
    return found[0]


def test_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize("version", VERSIONS)
def test_manifests_validate_against_the_schemas(version: str) -> None:
    docs = manifests()
    assert {d["kind"] for d in docs} >= {
        "Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler", "PodDisruptionBudget",
    }
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_a_misspelt_field() -> None:
    # Guards the guard: strict mode must catch what kubectl would silently drop.
    doc = by_kind("Deployment", "laneway")
    container = doc["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, VERSIONS[0], strict=True)


def test_deployment_has_probes_resources_and_config() -> None:
    dep = by_kind("Deployment", "laneway")
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert c["resources"]["limits"]["memory"]
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    env = {e["name"]: e["value"] for e in c["env"]}
    assert Path(env["LANEWAY_CONFIG"]).parent.as_posix() in mounts
    assert "/tmp" in mounts  # the root filesystem is read-only
    assert pod["terminationGracePeriodSeconds"] > 30  # > server.shutdown_grace_s default
    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics"


def test_selectors_match_the_pods() -> None:
    pods = by_kind("Deployment", "laneway")["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        doc = by_kind(kind, "laneway")
        sel = doc["spec"]["selector"]
        sel = sel.get("matchLabels", sel)
        assert sel.items() <= pods.items(), kind
    hpa = by_kind("HorizontalPodAutoscaler", "laneway")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "laneway"
    assert hpa["spec"]["minReplicas"] >= 2  # with minAvailable 1, a drain never empties it
    redis = by_kind("Service", "laneway-redis")
    redis_pods = by_kind("Deployment", "laneway-redis")["spec"]["template"]["metadata"]
    assert redis["spec"]["selector"].items() <= redis_pods["labels"].items()


def test_configmap_config_is_accepted_by_laneway() -> None:
    cm = by_kind("ConfigMap", "laneway-config")
    cfg = parse(yaml.safe_load(cm["data"]["laneway.yaml"]), "configmap")
    assert cfg.raw.redis.url == "redis://laneway-redis:6379/0"  # the Service above
    assert {lane for m in cfg.models for lane in m.lanes} == {"completion", "qa", "agentic"}
