"""Kubernetes manifests: core kinds checked against the bundled Kubernetes schemas (kubernetes-validate), the
RabbitMQ Cluster Operator and KEDA resources against minimal schemas of their own, then cross-checked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from deploy.broker_access import DEFAULT_VHOST, SERVICES, password_variable, user_name
from deploy.env_example import SETTINGS, variable
from shared.messaging.topology import Topology

from .support import K8S, yaml_documents

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install -e '.[test]' installs it")

SCHEMAS = Path(__file__).parent / "crd_schemas"
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
ON_DEMAND = ("optimize-job.yaml",)
"""Manifests applied by hand when needed (``kubectl apply -f``), not part of the always-on suite the kustomization
lists: the optimisation workers' Job."""
CUSTOM = {"RabbitmqCluster": "rabbitmqcluster.json", "ScaledObject": "keda.json", "TriggerAuthentication": "keda.json"}


def resources() -> list[str]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]


def documents() -> list[tuple[str, dict[str, Any]]]:
    return [(name, doc) for name in resources() for doc in yaml_documents(K8S / name)]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in documents() if doc["kind"] == kind]


def deployment(service: str) -> dict[str, Any]:
    (found,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == f"tradebus-{service}"]
    return found


def test_kustomization_lists_every_manifest_and_only_existing_ones():
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", *ON_DEMAND}

    assert set(resources()) == manifests
    assert all((K8S / name).is_file() for name in ON_DEMAND)


def optimize_job() -> dict[str, Any]:
    (job,) = yaml_documents(K8S / "optimize-job.yaml")
    return job


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_on_demand_manifests_validate_strictly_against_the_kubernetes_schemas(version):
    for name in ON_DEMAND:
        for doc in yaml_documents(K8S / name):
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_optimize_job_runs_workers_on_the_study_and_storage_of_its_environment():
    job = optimize_job()
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = [e["name"] for e in container["env"]]
    by_name = {e["name"]: e for e in container["env"]}

    assert container["command"] + container["args"] == [
        "tradebus", "optimize", "--worker", "--study", "$(STUDY)", "--storage", "$(STORAGE_URL)"]
    assert by_name["STUDY"]["value"]
    assert by_name["STORAGE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "tradebus-optimize-storage",
                                                                   "key": "STORAGE_URL"}
    assert "value" not in by_name["STORAGE_URL"], "the storage URL holds a password: it comes from the Secret"
    assert set(env) == {"STUDY", "STORAGE_URL"}
    assert job["spec"]["parallelism"] > 1 and "completions" not in job["spec"]
    assert pod["restartPolicy"] in ("OnFailure", "Never")


def test_the_optimize_job_runs_the_project_image_as_the_services_do():
    pod = optimize_job()["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (service,) = deployment("strategy")["spec"]["template"]["spec"]["containers"]
    strategy_pod = deployment("strategy")["spec"]["template"]["spec"]

    assert container["image"] == service["image"]
    assert pod["securityContext"] == strategy_pod["securityContext"]
    assert container["securityContext"] == service["securityContext"]
    assert optimize_job()["metadata"]["labels"]["app.kubernetes.io/part-of"] == "tradebus"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_resources_validate_strictly_against_the_kubernetes_schemas(version):
    checked = 0
    for _, doc in documents():
        if doc["kind"] not in CUSTOM:
            kubernetes_validate.validate(doc, version, strict=True)
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize("kind", sorted(CUSTOM))
def test_operator_resources_validate_against_their_schemas(kind):
    schema = json.loads((SCHEMAS / CUSTOM[kind]).read_text())
    docs = of_kind(kind)

    assert docs
    for doc in docs:
        jsonschema.validate(doc, schema)


def test_the_custom_schemas_refuse_a_typo():
    schema = json.loads((SCHEMAS / "rabbitmqcluster.json").read_text())
    (cluster,) = of_kind("RabbitmqCluster")
    typo = json.loads(json.dumps(cluster))
    typo["spec"]["replica"] = typo["spec"].pop("replicas")

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(typo, schema)


def test_the_broker_is_a_three_node_cluster_that_imports_the_definitions_at_boot():
    (cluster,) = of_kind("RabbitmqCluster")
    pod = cluster["spec"]["override"]["statefulSet"]["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    config = cluster["spec"]["rabbitmq"]["additionalConfig"]
    (path,) = re.findall(r"^load_definitions = (\S+)$", config, re.M)
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    init_mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}

    assert cluster["spec"]["replicas"] == 3
    assert re.fullmatch(r"rabbitmq:\d+\.\d+(\.\d+)?-management", cluster["spec"]["image"])
    assert init["command"][:3] == ["sh", f"{init_mounts['tradebus-definitions-source']}/render-users.sh",
                                   f"{init_mounts['tradebus-definitions']}/01-users.json"]
    assert init["command"][3:] == ["cp", "/tradebus/02-definitions.json", "/definitions/02-definitions.json"]
    assert mounts["tradebus-definitions"] == path
    assert volumes["tradebus-definitions"]["emptyDir"]["medium"] == "Memory"
    assert volumes["tradebus-definitions-source"]["configMap"]["name"] == "tradebus-broker-definitions"
    assert init["envFrom"] == [{"secretRef": {"name": "tradebus-broker-passwords"}}]


def test_the_broker_override_s_init_container_and_volumes_are_valid_pod_spec():
    (cluster,) = of_kind("RabbitmqCluster")
    pod = cluster["spec"]["override"]["statefulSet"]["spec"]["template"]["spec"]
    probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "override"},
             "spec": {"initContainers": pod["initContainers"], "volumes": pod["volumes"],
                      "containers": [{"name": "rabbitmq", "image": "rabbitmq", **pod["containers"][0]}]}}

    kubernetes_validate.validate(probe, KUBERNETES_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("service", SERVICES)
def test_each_deployment_probes_health_and_bounds_its_resources(service):
    (container,) = deployment(service)["spec"]["template"]["spec"]["containers"]
    port = SETTINGS[service].model_fields["metrics_port"].default
    env = {e["name"]: e for e in container["env"]}

    assert container["ports"] == [{"name": "metrics", "containerPort": port}]
    assert env[variable(service, "metrics_port")]["value"] == str(port)
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "metrics"}
    assert set(container["resources"]["requests"]) == set(container["resources"]["limits"]) == {"cpu", "memory"}
    assert container["args"] == [f"services.{service}"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_deployment_logs_in_as_its_own_user_with_its_password_from_the_secret(service):
    (container,) = deployment(service)["spec"]["template"]["spec"]["containers"]
    env = [e["name"] for e in container["env"]]
    by_name = {e["name"]: e for e in container["env"]}
    secret = by_name["BROKER_PASSWORD"]["valueFrom"]["secretKeyRef"]

    assert secret == {"name": "tradebus-broker-passwords", "key": password_variable(service)}
    assert by_name["AMQP_URL"]["value"] == (f"amqp://{user_name(service)}:$(BROKER_PASSWORD)@tradebus-broker:5672/"
                                            f"{DEFAULT_VHOST}")
    assert env.index("BROKER_PASSWORD") < env.index("AMQP_URL"), "$(VAR) expands only variables defined before"


def test_the_stateful_services_keep_their_state_on_a_volume_with_a_single_replica():
    claims = {c["metadata"]["name"] for c in of_kind("PersistentVolumeClaim")}
    for service in ("execution", "portfolio"):
        spec = deployment(service)["spec"]
        (container,) = spec["template"]["spec"]["containers"]
        (state,) = [v for v in spec["template"]["spec"]["volumes"] if v["name"] == "state"]
        env = {e["name"]: e.get("value") for e in container["env"]}

        assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
        assert state["persistentVolumeClaim"]["claimName"] in claims
        assert {"name": "state", "mountPath": env[variable(service, "state_dir")]} in container["volumeMounts"]


def test_keda_scales_the_strategy_workers_on_the_market_partitions():
    (scaled,) = of_kind("ScaledObject")
    (auth,) = of_kind("TriggerAuthentication")
    (trigger,) = scaled["spec"]["triggers"]
    topology = Topology()
    pattern = re.compile(trigger["metadata"]["queueName"])
    queues = list(topology.durable_queue_names())

    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment("strategy")["metadata"]["name"]
    assert [q for q in queues if pattern.fullmatch(q)] == [topology.partition_queue(p).name
                                                        for p in range(topology.partitions)]
    assert trigger["metadata"]["useRegex"] == "true" and trigger["metadata"]["operation"] == "sum"
    assert trigger["metadata"]["vhostName"] == DEFAULT_VHOST
    assert scaled["spec"]["maxReplicaCount"] <= topology.partitions
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]


def test_settings_config_map_holds_only_settings_the_services_read():
    (settings,) = [c for c in of_kind("ConfigMap") if c["metadata"]["name"] == "tradebus-settings"]
    known = {variable(service, name) for service in SERVICES for name in SETTINGS[service].model_fields}

    assert set(settings["data"]) <= known
    assert not [key for key in settings["data"] if "PASSWORD" in key or "AMQP_URL" in key]
    for service in SERVICES:
        (container,) = deployment(service)["spec"]["template"]["spec"]["containers"]
        assert container["envFrom"] == [{"configMapRef": {"name": "tradebus-settings"}}]
