"""The review APIs: access reviews (``kubectl auth can-i``), rules reviews (``can-i --list``),
``kubectl auth whoami`` and TokenRequest (``kubectl create token``).

Reviews are never stored: the apiserver answers a create with the object and its status.
"""

from __future__ import annotations

from typing import Any

from .authn import Authenticator
from .errors import bad_request
from .objects import now_rfc3339
from .rbac import Attributes, Authorizer, User

AUTHORIZATION = "authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"
REVIEW_RESOURCES = {
    (AUTHORIZATION, "selfsubjectaccessreviews"),
    (AUTHORIZATION, "subjectaccessreviews"),
    (AUTHORIZATION, "localsubjectaccessreviews"),
    (AUTHORIZATION, "selfsubjectrulesreviews"),
    (AUTHENTICATION, "selfsubjectreviews"),
}
TOKEN_LIFETIME_SECONDS = 3600


def _attributes(spec: dict[str, Any], namespace: str = "") -> Attributes:
    resource = spec.get("resourceAttributes")
    if resource is not None:
        return Attributes(
            resource.get("verb", ""),
            True,
            resource.get("group", ""),
            resource.get("resource", ""),
            resource.get("subresource", ""),
            namespace or resource.get("namespace", ""),
            resource.get("name", ""),
        )
    other = spec.get("nonResourceAttributes")
    if other is not None:
        return Attributes(other.get("verb", ""), False, path=other.get("path", ""))
    raise bad_request("spec: Invalid value: exactly one of nonResourceAttributes or "
                      "resourceAttributes must be specified")  # fmt: skip


def _answer(body: dict[str, Any], kind: str, group: str, status: dict[str, Any]) -> dict[str, Any]:
    metadata = dict(body.get("metadata") or {})
    metadata.setdefault("creationTimestamp", None)
    return {
        "kind": kind,
        "apiVersion": f"{group}/v1",
        "metadata": metadata,
        "spec": body.get("spec") or {},
        "status": status,
    }


def review(
    authorizer: Authorizer, user: User, resource: str, namespace: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Answer a create of one of :data:`REVIEW_RESOURCES` made by ``user``."""
    spec = body.get("spec") or {}
    if resource == "selfsubjectreviews":
        return _answer(body, "SelfSubjectReview", AUTHENTICATION, {"userInfo": user.as_user_info()})
    if resource == "selfsubjectrulesreviews":
        return _answer(body, "SelfSubjectRulesReview", AUTHORIZATION, rules(authorizer, user, spec))
    if resource == "selfsubjectaccessreviews":
        subject, kind = user, "SelfSubjectAccessReview"
    else:
        subject = User(
            spec.get("user", ""),
            tuple(spec.get("groups") or ()),
            spec.get("uid", ""),
            {k: tuple(v) for k, v in (spec.get("extra") or {}).items()},
        )
        kind = (
            "LocalSubjectAccessReview"
            if resource == "localsubjectaccessreviews"
            else "SubjectAccessReview"
        )
    allowed = authorizer.allowed(subject, _attributes(spec, namespace))
    status: dict[str, Any] = {"allowed": allowed}
    if allowed:
        status["reason"] = "allowed by kubesim RBAC"
    return _answer(body, kind, AUTHORIZATION, status)


def rules(authorizer: Authorizer, user: User, spec: dict[str, Any]) -> dict[str, Any]:
    """``SelfSubjectRulesReview`` status: the user's rules in ``spec.namespace``."""
    resource_rules, non_resource_rules = [], []
    if any(g == "system:masters" for g in user.groups):
        resource_rules.append({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
        non_resource_rules.append({"verbs": ["*"], "nonResourceURLs": ["*"]})
    for rule in authorizer.rules_for(user, spec.get("namespace", "")):
        if rule.get("nonResourceURLs"):
            non_resource_rules.append(
                {"verbs": rule["verbs"], "nonResourceURLs": rule["nonResourceURLs"]}
            )
        else:
            resource_rules.append(
                {
                    k: rule[k]
                    for k in ("verbs", "apiGroups", "resources", "resourceNames")
                    if k in rule
                }
            )
    return {
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": False,
    }


def token_request(
    authenticator: Authenticator, namespace: str, service_account: str, body: dict[str, Any]
) -> dict[str, Any]:
    """``POST serviceaccounts/{name}/token``: a bearer token for the ServiceAccount (kubesim's
    tokens do not expire; the reported expiry is what a client would plan around)."""
    spec = dict((body or {}).get("spec") or {})
    seconds = int(spec.get("expirationSeconds") or TOKEN_LIFETIME_SECONDS)
    spec["expirationSeconds"] = seconds
    spec.setdefault("audiences", ["https://kubernetes.default.svc"])
    token = authenticator.issue(namespace, service_account)
    return {
        "kind": "TokenRequest",
        "apiVersion": f"{AUTHENTICATION}/v1",
        "metadata": {
            "name": service_account,
            "namespace": namespace,
            "creationTimestamp": now_rfc3339(),
        },
        "spec": spec,
        "status": {"token": token, "expirationTimestamp": now_rfc3339(seconds)},
    }
