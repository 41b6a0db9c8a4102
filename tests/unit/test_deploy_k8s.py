"""deploy/k8s: every manifest is valid Kubernetes, and agrees with the code it deploys.

Schemas: the JSON schemas kubernetes-validate ships (strict: an unknown or misspelt field fails),
for the Kubernetes versions in ``K8S_VERSIONS``; nothing is downloaded and no cluster is needed.
Then what a schema cannot see: references to ConfigMaps and Secrets, commands against the real
CLI parser, probe ports, the one image name, selectors, settings against the real readers.
The kustomization is rendered here (resources and images, all it uses); when ``kubectl`` or
``kustomize`` is installed, the real renderer must agree.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from services.cli.main import build_parser
from services.cli.stack import SERVICES
from shared.config import Settings
from shared.definitions import DEFAULT_FILE, load_definitions
from tests.compose_file import read_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "k8s"
GUIDE = ROOT / "docs" / "deploy.md"
K8S_VERSIONS = ("1.30", "1.37")  # an old release managed clusters still run; the newest shipped
# Created by hand, not by the manifests: the one place the test accepts an undefined reference.
# docs/deploy.md must create its required keys (`kubectl create secret`) and name the optional ones.
EXTERNAL_SECRETS = frozenset({"audiencesync-secrets"})
# Read by a library rather than by our settings: google-auth's Application Default Credentials.
LIBRARY_VARIABLES = frozenset({"GOOGLE_APPLICATION_CREDENTIALS"})
PATH_VARIABLES = frozenset({"AUDIENCESYNC_CONFIG", "GOOGLE_APPLICATION_CREDENTIALS"})
SECRET_EXAMPLES = {
    "database-url": "postgresql://audiencesync@postgres:5432/audiencesync",
    "alert-webhook-url": "https://hooks.slack.com/services/T0/B0/x",
}
CONFIGURED_ACCOUNTS = {
    "META_ACCOUNTS": ("META_ACCESS_TOKEN", "act_1"),
    "GOOGLE_CUSTOMERS": ("GOOGLE_APPLICATION_CREDENTIALS", "123-456-7890"),
}
KUSTOMIZE_FIELDS = frozenset({"apiVersion", "kind", "resources", "images"})  # what render() does


def kustomization() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    return data


def manifests() -> list[dict[str, Any]]:
    """Every document of every resource the kustomization lists, as written."""
    docs = []
    for name in kustomization()["resources"]:
        docs += [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]
    return docs


def pod_templates(docs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod template) for every Deployment, Job and CronJob."""
    for doc in docs:
        spec = doc.get("spec", {})
        if doc["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        if "template" in spec:
            yield doc, spec["template"]


def containers(docs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(workload, pod spec, container) for every container and init container."""
    for doc, template in pod_templates(docs):
        pod = template["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            yield doc, pod, container


def render() -> list[dict[str, Any]]:
    """What ``kustomize build deploy/k8s`` gives for the fields this kustomization uses."""
    found = kustomization()
    assert set(found) <= KUSTOMIZE_FIELDS, f"render() does not apply {set(found) - KUSTOMIZE_FIELDS}"
    docs = manifests()
    for image in found.get("images", []):
        for _, _, container in containers(docs):
            if re.split(r"[:@]", container["image"])[0] == image["name"]:
                container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    return docs


def named(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def parsed(container: dict[str, Any]) -> Any:
    """The container's arguments parsed by the real ``audiencesync`` parser."""
    assert container.get("command") in (None, ["audiencesync"]), "the image's entrypoint is audiencesync"
    try:
        return build_parser().parse_args(container["args"])
    except SystemExit:
        pytest.fail(f"{container['name']}: audiencesync {' '.join(container['args'])} does not parse")


def environment(container: dict[str, Any], docs: list[dict[str, Any]]) -> dict[str, Any]:
    """Variable -> literal value, or the ``valueFrom`` reference, as the container sees them."""
    maps = named(docs, "ConfigMap")
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        env.update(maps[source["configMapRef"]["name"]]["data"])
    for var in container.get("env", []):
        env[var["name"]] = var.get("value", var.get("valueFrom"))
    return env


def mounted_files(pod: dict[str, Any], container: dict[str, Any], docs: list[dict[str, Any]]) -> set[str]:
    """Paths of the files ConfigMap and Secret volumes put in this container."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    maps = named(docs, "ConfigMap")
    files = set()
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        source = volume.get("configMap") or volume.get("secret")
        if source is None:
            continue
        items = source.get("items") or [{"key": k, "path": k} for k in maps[source["name"]]["data"]]
        files |= {f"{mount['mountPath']}/{item['path']}" for item in items}
    return files


def test_the_kustomization_lists_every_manifest() -> None:
    written = sorted(p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(kustomization()["resources"]) == written


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_document_validates_against_the_kubernetes_schemas(version: str) -> None:
    errors = []
    for doc in render():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(map(str, exc.absolute_path))
            errors.append(f"{doc['kind']}/{doc['metadata']['name']} {where}: {exc.message[:200]}")
    assert not errors, "\n".join(errors)


@pytest.mark.skipif(not (shutil.which("kustomize") or shutil.which("kubectl")), reason="no kustomize here")
def test_the_real_kustomize_renders_what_the_test_validates() -> None:
    tool = ["kustomize", "build"] if shutil.which("kustomize") else ["kubectl", "kustomize"]
    out = subprocess.run([*tool, str(DEPLOY)], capture_output=True, text=True, check=True, timeout=60).stdout
    canonical = sorted(json.dumps(d, sort_keys=True) for d in yaml.safe_load_all(out) if d)
    assert canonical == sorted(json.dumps(d, sort_keys=True) for d in render())


def test_every_container_runs_the_one_image_kustomize_sets() -> None:
    (image,) = kustomization()["images"]
    assert {c["image"] for _, _, c in containers(manifests())} == {image["name"]}
    wanted = f"{image['newName']}:{image['newTag']}"
    assert {c["image"] for _, _, c in containers(render())} == {wanted}


def test_every_service_has_a_deployment_and_the_setup_steps_have_jobs() -> None:
    docs = manifests()
    served = sorted(parsed(c).service for d, _, c in containers(docs) if d["kind"] == "Deployment")
    assert served == sorted(SERVICES), "one Deployment per service"
    jobs = {tuple(c["args"][:2]) for d, _, c in containers(docs) if d["kind"] == "Job"}
    assert {("db", "upgrade"), ("topics", "ensure")} <= jobs
    refreshing = [c["name"] for _, _, c in containers(docs) if parsed(c).command == "refresh"]
    assert not refreshing, "the scheduler Deployment refreshes nightly: a refresh CronJob would double it"
    scheduler = named(docs, "Deployment")["audiencesync-scheduler"]["spec"]
    assert (scheduler["replicas"], scheduler["strategy"]["type"]) == (1, "Recreate")


def test_the_api_listens_on_every_interface_at_a_declared_port() -> None:
    for _, _, container in containers(manifests()):
        args = parsed(container)
        if getattr(args, "service", None) != "api":
            continue
        env = environment(container, manifests())
        host = args.host or env.get("API_HOST")
        assert host == "0.0.0.0", "127.0.0.1 is unreachable from the kubelet"  # noqa: S104 - as wanted
        port = args.port or int(env.get("API_PORT", Settings().api_port))
        assert port in {p["containerPort"] for p in container["ports"]}


def test_every_probe_asks_a_tokenless_route_on_a_declared_port() -> None:
    from flask import Flask

    from services.api.auth import PUBLIC_ENDPOINTS
    from services.api.views import ops

    app = Flask("probes")
    app.register_blueprint(ops.blp)
    routes = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules()}
    probes = 0
    for _, _, container in containers(manifests()):
        declared = {p["containerPort"] for p in container.get("ports", [])}
        declared |= {p["name"] for p in container.get("ports", []) if "name" in p}
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = container.get(kind)
            if probe is None:
                continue
            probes += 1
            action = probe.get("httpGet") or probe.get("tcpSocket") or probe.get("grpc")
            assert action["port"] in declared, f"{container['name']} {kind}: port {action['port']}"
            if "httpGet" in probe:
                assert routes.get(probe["httpGet"]["path"]) in PUBLIC_ENDPOINTS, f"{kind} path"
    assert probes


def test_selectors_match_their_own_pods_and_no_others() -> None:
    docs = manifests()
    pods = {d["metadata"]["name"]: t.get("metadata", {}).get("labels", {}) for d, t in pod_templates(docs)}
    for doc in docs:
        spec = doc.get("spec", {})
        selector = spec.get("selector")
        if selector is None:
            continue
        wanted = selector.get("matchLabels", selector)  # a Service's selector is the labels themselves
        matched = [name for name, labels in pods.items() if wanted.items() <= labels.items()]
        assert matched == [doc["metadata"]["name"]], (
            f"{doc['kind']}/{doc['metadata']['name']} selects {matched}"
        )
    services = named(docs, "Service").values()
    api = next(c for d, _, c in containers(docs) if d["metadata"]["name"] == "audiencesync-api")
    names = {p.get("name") for p in api["ports"]} | {p["containerPort"] for p in api["ports"]}
    assert all(p["targetPort"] in names for s in services for p in s["spec"]["ports"])


def references(docs: list[dict[str, Any]]) -> Iterator[tuple[str, str, str | None, bool]]:
    """(kind, name, key or None, optional) for every ConfigMap and Secret a workload uses."""
    for _, pod, container in containers(docs):
        for source in container.get("envFrom", []):
            for kind, ref in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if ref in source:
                    yield kind, source[ref]["name"], None, bool(source[ref].get("optional"))
        for var in container.get("env", []):
            for kind, ref in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                if ref in var.get("valueFrom", {}):
                    key = var["valueFrom"][ref]
                    yield kind, key["name"], key["key"], bool(key.get("optional"))
        for volume in pod.get("volumes", []):
            for kind, field, name in (("ConfigMap", "configMap", "name"), ("Secret", "secret", "secretName")):
                if field in volume:
                    source = volume[field]
                    for item in source.get("items") or [{"key": None}]:
                        yield kind, source[name], item["key"], bool(source.get("optional"))


def test_every_configmap_and_secret_used_is_defined_or_documented() -> None:
    docs = manifests()
    guide = GUIDE.read_text()
    commands = re.findall(r"kubectl create secret generic (\S+)((?:[^\n]*\\\n)*[^\n]*)", guide)
    created = {name: set(re.findall(r"--from-(?:literal|file)=([\w.-]+)", rest)) for name, rest in commands}
    for kind, name, key, optional in references(docs):
        defined = named(docs, kind).get(name)
        if defined is not None:
            assert key is None or key in defined.get("data", {}), f"{kind}/{name} has no key {key}"
            continue
        assert kind == "Secret" and name in EXTERNAL_SECRETS, f"{kind}/{name} is neither defined nor external"
        assert name in created, f"docs/deploy.md has no `kubectl create secret generic {name}`"
        if key is not None and not optional:
            assert key in created[name], f"`kubectl create secret generic {name}` does not create {key}"
        assert key is None or f"`{key}`" in guide, f"docs/deploy.md does not name the key {key}"


def test_file_settings_name_files_a_volume_mounts() -> None:
    docs = manifests()
    for _, pod, container in containers(docs):
        files = mounted_files(pod, container, docs)
        for name, value in environment(container, docs).items():
            if isinstance(value, str) and (name.endswith("_FILE") or name in PATH_VARIABLES):
                assert value in files, f"{container['name']}: {name}={value} is not a mounted file"


def test_the_definitions_configmap_is_the_packaged_default() -> None:
    data = named(manifests(), "ConfigMap")["audiencesync-definitions"]["data"]
    assert data["audiences.yaml"] == DEFAULT_FILE.read_text()


def test_every_variable_set_is_read_and_accepted_by_the_settings_readers(tmp_path: Path) -> None:
    docs = manifests()
    definitions = named(docs, "ConfigMap")["audiencesync-definitions"]["data"]["audiences.yaml"]
    (tmp_path / "audiences.yaml").write_text(definitions)
    for _, _, container in containers(docs):
        env = {}
        for name, value in environment(container, docs).items():
            if name.endswith("_FILE"):  # the mounted file, holding a placeholder secret
                secret = tmp_path / name
                secret.write_text("placeholder-secret")
                env[name] = str(secret)
            elif isinstance(value, dict):  # a Secret's value, as docs/deploy.md describes it
                env[name] = SECRET_EXAMPLES.get(value["secretKeyRef"]["key"], "placeholder-secret")
            else:
                env[name] = value
        env["AUDIENCESYNC_CONFIG"] = str(tmp_path / "audiences.yaml")
        # Accounts as an operator fills them in where the container has their credentials (with
        # no account, a syncer reads no token).
        env |= {k: v for k, (needs, v) in CONFIGURED_ACCOUNTS.items() if needs in env}
        asked = read_settings(env)  # every reader, raising on a value the process would refuse
        load_definitions(Settings.from_env(env).config_file)
        unread = set(env) - asked - LIBRARY_VARIABLES
        assert not unread, f"{container['name']}: nothing reads {sorted(unread)}"


def quantity(raw: str) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    unit = next((u for u in units if raw.endswith(u)), "")
    return float(raw.removesuffix(unit)) * units.get(unit, 1)


def test_every_container_requests_resources_within_its_limits() -> None:
    for _, _, container in containers(manifests()):
        resources = container["resources"]
        requests, limits = resources["requests"], resources["limits"]
        assert {"cpu", "memory"} <= set(requests) and "memory" in limits, container["name"]
        assert quantity(requests["memory"]) <= quantity(limits["memory"]), container["name"]


def test_pods_run_as_the_image_user_with_nothing_to_escalate() -> None:
    uid = int(re.search(r"--uid (\d+)", (ROOT / "Dockerfile").read_text()).group(1))  # type: ignore[union-attr]
    docs = manifests()
    for doc, pod, container in containers(docs):
        context = pod["securityContext"]
        assert context["runAsNonRoot"] and context["runAsUser"] == uid, doc["metadata"]["name"]
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}  # Pod Security "restricted"
        assert pod["automountServiceAccountToken"] is False
        own = container["securityContext"]
        assert own["allowPrivilegeEscalation"] is False and own["capabilities"]["drop"] == ["ALL"]
        assert own["readOnlyRootFilesystem"] is True
        writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
        var_dir = environment(container, docs)["AUDIENCESYNC_VAR_DIR"]
        assert {var_dir, "/tmp"} <= writable, f"{container['name']}: read-only root, nowhere to write"


def test_no_consumer_group_has_more_replicas_than_partitions() -> None:
    docs = manifests()
    (ensure,) = [parsed(c) for _, _, c in containers(docs) if parsed(c).command == "topics"]
    data = named(docs, "ConfigMap")["audiencesync-config"]["data"]
    partitions = ensure.partitions or int(data["KAFKA_PARTITIONS"])
    for doc, _, container in containers(docs):
        if doc["kind"] == "Deployment" and parsed(container).service not in {"api", "scheduler"}:
            assert doc["spec"]["replicas"] <= partitions, f"{doc['metadata']['name']}: idle replicas"
