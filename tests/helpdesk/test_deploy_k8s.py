"""The Kubernetes example (deploy/k8s/) stays valid: it parses, its objects refer to
each other correctly, each Deployment runs what the Procfile runs (same program, same
application, options the program accepts), and its probes hit URLs that answer."""

from __future__ import annotations

import importlib
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml
from django.urls import resolve

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
#: Deployment component → Procfile process.
PROCFILE_NAMES = {"web": "web", "stream": "stream", "worker": "worker", "scheduler": "beat"}


def _objects() -> list[dict]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append(doc)
    return found


def _by_kind(kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in _objects() if o["kind"] == kind}


def _deployments() -> dict[str, dict]:
    """By component label (web, stream, worker, scheduler)."""
    return {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for d in _by_kind("Deployment").values()
    }


def _procfile() -> dict[str, list[str]]:
    """Each process's command, without the leading variable assignments and .venv/bin/."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        words = shlex.split(command)
        while re.match(r"^[A-Z_]+=", words[0]):
            words.pop(0)
        words = [w.removeprefix(".venv/bin/") for w in words]
        commands[name.strip()] = words
    return commands


def _program_and_app(words: list[str]) -> list[str]:
    """What must agree: the program and what it runs (``celery -A helpdesk worker``,
    ``gunicorn helpdesk.wsgi:application``); addresses, ports and sizes may differ."""
    if words[0] == "celery":
        return words[:4]
    return words[:2]


@cache
def _help(program: str, subcommand: str = "") -> str:
    args = [sys.executable, "-m", program, *(["-A", "helpdesk", subcommand] if subcommand else []), "--help"]  # fmt: skip
    return subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout


def _options(words: list[str]) -> list[str]:
    return [w.split("=", 1)[0] for w in words if w.startswith("--")]


def test_every_manifest_parses_into_named_objects():
    objects = _objects()
    assert {o["kind"] for o in objects} >= {
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "Ingress",
    }
    for o in objects:
        assert o["apiVersion"] and o["metadata"]["name"], o


def test_deployments_run_what_the_procfile_runs():
    procfile = _procfile()
    deployments = _deployments()
    assert set(deployments) == set(PROCFILE_NAMES)
    for component, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        command = container["command"]
        expected = procfile[PROCFILE_NAMES[component]]
        assert _program_and_app(command) == _program_and_app(expected), component
        program = command[0]
        assert (Path(sys.executable).parent / program).exists(), f"{program} is not installed"
        if program == "celery":
            help_text = _help("celery", command[3])
        else:
            module, _, attribute = command[1].partition(":")
            assert hasattr(importlib.import_module(module), attribute), command[1]
            help_text = _help(program)
        for option in _options(command):
            assert option in help_text, f"{component}: {program} has no option {option}"


def test_schedulers_and_every_component_survive_one_pod_lost():
    deployments = _deployments()
    assert deployments["scheduler"]["spec"]["replicas"] >= 2  # one leads, one stands by
    budgets = _by_kind("PodDisruptionBudget").values()
    covered = set()
    for deployment in deployments.values():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        for budget in budgets:
            if budget["spec"]["selector"]["matchLabels"].items() <= labels.items():
                covered.add(labels["app.kubernetes.io/component"])
                assert budget["spec"]["minAvailable"] >= 1
                assert deployment["spec"]["replicas"] > budget["spec"]["minAvailable"]
    assert covered == set(deployments)


def test_services_ingress_and_config_fit_together():
    deployments = _deployments()
    services = _by_kind("Service")
    for service in services.values():
        selector = service["spec"]["selector"]
        targets = [
            d
            for d in deployments.values()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(targets) == 1, service["metadata"]["name"]
        ports = {
            p["name"]
            for c in targets[0]["spec"]["template"]["spec"]["containers"]
            for p in c["ports"]
        }
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    (ingress,) = _by_kind("Ingress").values()
    routes = {
        p["path"]: p["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert routes == {"/live/": "tierdesk-stream", "/": "tierdesk-web"}
    config = _by_kind("ConfigMap")["tierdesk-config"]["data"]
    live_url = config["TIERDESK_LIVE_URL"]
    assert live_url.startswith("/live/")
    assert resolve(live_url).url_name == "live-stream"
    for deployment in deployments.values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            refs = [e.get("configMapRef", {}).get("name") for e in container["envFrom"]]
            assert "tierdesk-config" in refs


@pytest.mark.django_db
def test_http_probes_hit_health_urls_that_answer(client, settings):
    config = _by_kind("ConfigMap")["tierdesk-config"]["data"]
    settings.ALLOWED_HOSTS = config["DJANGO_ALLOWED_HOSTS"].split(",")
    probed = 0
    for component, deployment in _deployments().items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            ports = {p["name"] for p in container.get("ports", [])}
            for kind in ("readinessProbe", "livenessProbe"):
                probe = container.get(kind, {}).get("httpGet")
                if not probe:
                    continue
                assert probe["port"] in ports, (component, kind)
                host = {h["name"]: h["value"] for h in probe.get("httpHeaders", [])}["Host"]
                response = client.get(probe["path"], headers={"host": host})
                assert response.status_code == 200, (component, kind, response.content[:200])
                assert probe["path"] == "/healthz?scope=node", "probes must not depend on timers"
                probed += 1
    assert probed >= 4  # web and stream: readiness and liveness
