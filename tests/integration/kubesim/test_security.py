"""Authentication, RBAC, reviews, CEL validation rules and ValidatingAdmissionPolicy in kubesim,
driven by the real kubectl (``--as`` impersonation, ``auth can-i``, ``create token``) and the
official client (bearer tokens)."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from tests.kubesim.harness import KubeSim

from .conftest import CRD_GROUP, widget_crd

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def kubectl(sim: KubeSim, kube_binaries: dict[str, Path]) -> Kubectl:
    def run(*args: str, stdin: str | None = None, check: bool = True) -> Any:
        result = subprocess.run(
            [str(kube_binaries["kubectl"]), "--kubeconfig", str(sim.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {args} failed:\n{result.stdout}{result.stderr}")
        return result

    return run


def apply(kubectl: Kubectl, *docs: dict[str, Any], user: str = "", check: bool = True) -> Any:
    args = ["apply", "-f", "-", *(["--as", user] if user else [])]
    return kubectl(*args, stdin=yaml.safe_dump_all(docs), check=check)


def grant(ns: str, user: str, rules: list[dict[str, Any]], name: str = "") -> list[dict[str, Any]]:
    name = name or f"{user}-role"
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name, "namespace": ns},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
        },
    ]


# ---- identities and RBAC -------------------------------------------------------------------------


def test_forbidden_answers_in_the_apiservers_words(kubectl: Kubectl, ns: str) -> None:
    apply(kubectl, *grant(ns, "alice", [{"apiGroups": [""], "resources": ["configmaps"],
                                          "verbs": ["get", "list", "create"]}]))  # fmt: skip
    kubectl("create", "configmap", "mine", "-n", ns, "--as", "alice")
    refused = kubectl("create", "secret", "generic", "s", "-n", ns, "--as", "alice", check=False)
    assert refused.returncode != 0
    assert (
        f'secrets is forbidden: User "alice" cannot create resource "secrets" in API group "" '
        f'in the namespace "{ns}"'
    ) in refused.stderr
    cluster = kubectl("get", "nodes", "--as", "alice", check=False)
    assert 'cannot list resource "nodes" in API group "" at the cluster scope' in cluster.stderr
    path = kubectl("get", "--raw", "/version", "--as", "system:anonymous", check=False)
    assert 'forbidden: User "system:anonymous" cannot get path "/version"' in path.stderr
    assert (
        kubectl("auth", "can-i", "create", "configmaps", "-n", ns, "--as", "alice").stdout
        == "yes\n"
    )
    no = kubectl("auth", "can-i", "delete", "configmaps", "-n", ns, "--as", "alice", check=False)
    assert no.stdout == "no\n"


def test_resource_names_subresources_and_groups(kubectl: Kubectl, ns: str) -> None:
    apply(
        kubectl,
        *grant(
            ns,
            "carol",
            [
                {
                    "apiGroups": [""],
                    "resources": ["configmaps"],
                    "verbs": ["get"],
                    "resourceNames": ["allowed"],
                },
                {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
            ],
        ),
    )
    for name in ("allowed", "other"):
        kubectl("create", "configmap", name, "-n", ns)
    kubectl("get", "configmap", "allowed", "-n", ns, "--as", "carol")
    assert kubectl("get", "configmap", "other", "-n", ns, "--as", "carol", check=False).returncode
    assert kubectl("get", "configmaps", "-n", ns, "--as", "carol", check=False).returncode
    can = ["auth", "can-i", "-n", ns, "--as", "carol"]
    assert kubectl(*can, "get", "pods", "--subresource=log").stdout == "yes\n"
    assert kubectl(*can, "get", "pods", check=False).stdout == "no\n"
    # Group subjects: whoever is in the group gets the rights.
    apply(kubectl, *grant(ns, "x", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
                          name="group-role"))  # fmt: skip
    binding = yaml.safe_load(
        kubectl("get", "rolebinding", "group-role", "-n", ns, "-o", "yaml").stdout
    )
    binding["subjects"] = [
        {"kind": "Group", "name": "ml-team", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    apply(kubectl, binding)
    kubectl("get", "pods", "-n", ns, "--as", "dave", "--as-group", "ml-team")
    assert kubectl("get", "pods", "-n", ns, "--as", "dave", check=False).returncode


def test_cluster_role_aggregation(kubectl: Kubectl, ns: str) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": f"{ns}-widgets-edit",
            "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"},
        },
        "rules": [
            {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["create"]}
        ],
    }
    apply(kubectl, role)
    for aggregated in ("edit", "admin"):
        got = yaml.safe_load(kubectl("get", "clusterrole", aggregated, "-o", "yaml").stdout)
        assert role["rules"][0] in got["rules"], aggregated
    kubectl("create", "rolebinding", "erin-admin", "--clusterrole=admin", "--user=erin", "-n", ns)
    can = ["auth", "can-i", "create", "poddisruptionbudgets.policy", "-n", ns, "--as", "erin"]
    assert kubectl(*can).stdout == "yes\n"
    kubectl("delete", "clusterrole", role["metadata"]["name"])
    assert kubectl(*can, check=False).stdout == "no\n"


def test_service_account_tokens_and_impersonation_rights(
    sim: KubeSim, kubectl: Kubectl, ns: str
) -> None:
    kubectl("create", "serviceaccount", "robot", "-n", ns)
    apply(kubectl, *grant(ns, "x", [{"apiGroups": [""], "resources": ["configmaps"],
                                      "verbs": ["list"]}], name="robot"))  # fmt: skip
    binding = yaml.safe_load(kubectl("get", "rolebinding", "robot", "-n", ns, "-o", "yaml").stdout)
    binding["subjects"] = [{"kind": "ServiceAccount", "name": "robot", "namespace": ns}]
    apply(kubectl, binding)
    token = kubectl("create", "token", "robot", "-n", ns).stdout.strip()

    def as_token(value: str) -> client.CoreV1Api:
        configuration = client.Configuration()
        config.load_kube_config(str(sim.kubeconfig), client_configuration=configuration)
        configuration.api_key = {"authorization": f"Bearer {value}"}
        return client.CoreV1Api(client.ApiClient(configuration))

    robot = as_token(token)
    assert robot.list_namespaced_config_map(ns).items == []
    with pytest.raises(client.ApiException) as refused:
        robot.list_namespaced_secret(ns)
    assert refused.value.status == 403
    message = json.loads(refused.value.body)["message"]
    assert f'User "system:serviceaccount:{ns}:robot" cannot list' in message
    with pytest.raises(client.ApiException) as bogus:
        as_token("not-a-token").list_namespaced_config_map(ns)
    assert bogus.value.status == 401
    # Impersonation is a right of its own: the robot may not pretend to be the admin.
    robot.api_client.default_headers["Impersonate-User"] = "kubesim-admin"
    with pytest.raises(client.ApiException) as impersonating:
        robot.list_namespaced_config_map(ns)
    assert impersonating.value.status == 403
    assert "cannot impersonate resource" in json.loads(impersonating.value.body)["message"]
    # Deleting the ServiceAccount invalidates its tokens.
    kubectl("delete", "serviceaccount", "robot", "-n", ns)
    with pytest.raises(client.ApiException) as gone:
        as_token(token).list_namespaced_config_map(ns)
    assert gone.value.status == 401


def test_subject_access_review(api_client: client.ApiClient, kubectl: Kubectl, ns: str) -> None:
    apply(kubectl, *grant(ns, "frank", [{"apiGroups": ["batch"], "resources": ["jobs"],
                                          "verbs": ["create"]}]))  # fmt: skip
    authz = client.AuthorizationV1Api(api_client)

    def allowed(user: str, verb: str) -> bool:
        body = {
            "spec": {
                "user": user,
                "resourceAttributes": {
                    "namespace": ns, "verb": verb, "group": "batch", "resource": "jobs"
                },
            }
        }  # fmt: skip
        return bool(authz.create_subject_access_review(body).status.allowed)

    assert allowed("frank", "create")
    assert not allowed("frank", "delete")
    assert not allowed("gina", "create")


# ---- x-kubernetes-validations ----------------------------------------------------------------


def cel_crd(plural: str) -> dict[str, Any]:
    crd = widget_crd(plural=plural, kind=plural.capitalize()[:-1])
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["low"] = {"type": "number"}
    spec["properties"]["high"] = {"type": "number"}
    spec["properties"]["items"] = {
        "type": "array",
        "maxItems": 8,
        "items": {
            "type": "object",
            "properties": {"name": {"type": "string", "maxLength": 16},
                           "min": {"type": "number"}, "scale": {"type": "string", "maxLength": 8}},
            "x-kubernetes-validations": [
                {"rule": "!has(self.scale) || self.scale != 'log' || self.min > 0",
                 "messageExpression": "'must be > 0 for scale ' + self.scale",
                 "fieldPath": ".min"},
            ],
        },
        "x-kubernetes-validations": [
            {"rule": "self.all(a, self.exists_one(b, b.name == a.name))",
             "message": "names must be unique"},
        ],
    }  # fmt: skip
    spec["x-kubernetes-validations"] = [
        {"rule": "!has(self.low) || !has(self.high) || self.low < self.high",
         "message": "low must be below high", "fieldPath": ".low"},
        {"rule": "!has(oldSelf.items) || self.items == oldSelf.items",
         "message": "items cannot be changed: clone instead", "reason": "FieldValueForbidden",
         "fieldPath": ".items"},
    ]  # fmt: skip
    return crd


def widget(plural: str, ns: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{CRD_GROUP}/v1",
        "kind": plural.capitalize()[:-1],
        "metadata": {"name": "w", "namespace": ns},
        "spec": {"size": 1, **spec},
    }


def test_crd_validation_rules_refuse_at_apply_with_field_paths(kubectl: Kubectl, ns: str) -> None:
    plural = "celwidgets"
    apply(kubectl, cel_crd(plural))
    kubectl("wait", "--for=condition=Established", f"crd/{plural}.{CRD_GROUP}")
    bad = apply(kubectl, widget(plural, ns, low=2, high=1), check=False)
    assert 'spec.low: Invalid value: "object": low must be below high' in bad.stderr
    items = [{"name": "a", "min": 1}, {"name": "b", "min": 0, "scale": "log"}]
    bad = apply(kubectl, widget(plural, ns, items=items), check=False)
    assert 'spec.items[1].min: Invalid value: "object": must be > 0 for scale log' in bad.stderr
    twice = [{"name": "a"}, {"name": "a"}]
    bad = apply(kubectl, widget(plural, ns, items=twice), check=False)
    assert 'spec.items: Invalid value: "array": names must be unique' in bad.stderr
    good = widget(plural, ns, low=1, high=2, items=[{"name": "a", "min": 0.5, "scale": "log"}])
    apply(kubectl, good)
    edited = copy.deepcopy(good)
    edited["spec"]["items"][0]["min"] = 0.25
    bad = apply(kubectl, edited, check=False)
    assert "spec.items: Forbidden: items cannot be changed: clone instead" in bad.stderr
    edited = copy.deepcopy(good)
    edited["spec"]["high"] = 3  # other edits pass the transition rule
    apply(kubectl, edited)


def test_crds_with_broken_or_too_costly_rules_are_refused(kubectl: Kubectl) -> None:
    broken = cel_crd("brokenwidgets")
    spec = broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["x-kubernetes-validations"] = [{"rule": "self.low <"}]
    result = apply(kubectl, broken, check=False)
    assert "x-kubernetes-validations[0].rule" in result.stderr
    assert "compilation failed" in result.stderr
    costly = cel_crd("costlywidgets")
    items = costly["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"
    ]["items"]
    del items["maxItems"]  # an unbounded list: the n^2 uniqueness rule blows the budget
    result = apply(kubectl, costly, check=False)
    assert "estimated rule cost exceeds budget" in result.stderr


# ---- ValidatingAdmissionPolicy ---------------------------------------------------------------


def test_validating_admission_policy_with_authorizer_and_user_info(
    kubectl: Kubectl, ns: str
) -> None:
    name = f"{ns}-policy"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                   "operations": ["CREATE", "UPDATE"],
                                   "resources": ["configmaps"]}],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            },
            "variables": [{"name": "secretName", "expression": "object.data.secret"}],
            "validations": [
                {"expression": "authorizer.group('').resource('secrets').namespace("
                               "object.metadata.namespace).name(variables.secretName)"
                               ".check('get').allowed()",
                 "messageExpression": "request.userInfo.username + ' may not read Secret ' "
                                      "+ variables.secretName",
                 "reason": "Forbidden"},
            ],
        },
    }  # fmt: skip
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }
    kubectl("label", "namespace", ns, f"kubernetes.io/metadata.name={ns}", "--overwrite")
    apply(kubectl, policy, binding)
    apply(kubectl, *grant(ns, "hank", [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "get", "patch"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["open"]},
    ]))  # fmt: skip

    def configmap(secret: str) -> dict[str, Any]:
        meta = {"name": f"cm-{secret}", "namespace": ns}
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta,
            "data": {"secret": secret},
        }

    apply(kubectl, configmap("open"), user="hank")
    refused = apply(kubectl, configmap("closed"), user="hank", check=False)
    assert (
        f"ValidatingAdmissionPolicy '{name}' with binding '{name}' denied request: "
        "hank may not read Secret closed"
    ) in refused.stderr
    apply(kubectl, configmap("closed"))  # the admin may read it
    binding["spec"]["validationActions"] = ["Warn"]
    apply(kubectl, binding)
    warned = apply(kubectl, configmap("closed2"), user="hank")
    assert "hank may not read Secret closed2" in warned.stderr
