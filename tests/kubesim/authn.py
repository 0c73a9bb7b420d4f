"""Who is asking: bearer tokens, the admin stand-in, and impersonation (``kubectl --as``).

* ``Authorization: Bearer <token>``: a token issued by the TokenRequest API
  (``kubectl create token SA``, ``serviceaccounts/{name}/token``) is that ServiceAccount, while
  the ServiceAccount exists; any other token is answered 401, as the apiserver does. Tokens
  are signed (HMAC-SHA256, the key kept in the state directory), not remembered, so like a
  real cluster's JWTs they stay valid across an emulator restart.
* No credentials: ``kubesim-admin`` in ``system:masters``. The generated kubeconfig carries
  no credentials, so it plays the part of kubeadm's admin certificate and every existing
  client (kubectl, helm, tests, the emulator's own controllers) stays an administrator.
* ``Impersonate-User`` / ``Impersonate-Group`` / ``Impersonate-Uid`` / ``Impersonate-Extra-*``:
  the requester must be allowed ``impersonate`` on ``users``, ``groups``, ``serviceaccounts``
  (for ``system:serviceaccount:`` names), ``uids`` and ``userextras/<key>``; the request then
  runs as that user with ``system:authenticated`` added, as the impersonation filter does.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ApiError
from .rbac import AUTHENTICATED, MASTERS, Attributes, Authorizer, User, service_account_username
from .store import Store

ADMIN = User("kubesim-admin", (MASTERS, AUTHENTICATED))
_SERVICE_ACCOUNTS = ("", "serviceaccounts")
_SA_PREFIX = "system:serviceaccount:"

CURRENT_USER: contextvars.ContextVar[User] = contextvars.ContextVar("kubesim_user", default=ADMIN)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def service_account_user(namespace: str, name: str, uid: str = "") -> User:
    groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED)
    return User(service_account_username(namespace, name), groups, uid)


@dataclass(frozen=True)
class IssuedToken:
    namespace: str
    service_account: str
    uid: str


class Authenticator:
    """Tokens issued by TokenRequest, valid while the ServiceAccount (same uid) exists."""

    def __init__(
        self, store: Store, authorizer: Authorizer, signing_key: bytes | None = None
    ) -> None:
        self.store = store
        self.authorizer = authorizer
        self._key = signing_key or secrets.token_bytes(32)

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, namespace: str, service_account: str) -> str:
        sa = self.store.get(_SERVICE_ACCOUNTS, namespace, service_account)
        if sa is None:
            raise ApiError(
                404,
                f'serviceaccounts "{service_account}" not found',
                "NotFound",
                {"name": service_account, "kind": "serviceaccounts"},
            )
        claims = [namespace, service_account, sa["metadata"]["uid"], secrets.token_hex(8)]
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"kubesim.{payload}.{self._sign(payload)}"

    def _verify(self, token: str) -> IssuedToken | None:
        prefix, _, rest = token.partition(".")
        payload, _, signature = rest.partition(".")
        if prefix != "kubesim" or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            namespace, service_account, uid, _ = claims
        except (ValueError, TypeError):
            return None
        return IssuedToken(str(namespace), str(service_account), str(uid))

    def _from_token(self, token: str) -> User:
        issued = self._verify(token)
        if issued is None:
            raise unauthorized()
        sa = self.store.get(_SERVICE_ACCOUNTS, issued.namespace, issued.service_account)
        if sa is None or sa["metadata"]["uid"] != issued.uid:
            raise unauthorized()
        return service_account_user(issued.namespace, issued.service_account, issued.uid)

    def authenticate(self, headers: Mapping[str, str]) -> User:
        """The user the request's credentials prove (before impersonation)."""
        authorization = headers.get("Authorization", "")
        if not authorization:
            return ADMIN
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized()
        return self._from_token(token.strip())

    def impersonate(self, requester: User, headers: Mapping[str, str], groups: list[str]) -> User:
        """Apply ``Impersonate-*`` headers (``groups``: every Impersonate-Group value)."""
        name = headers.get("Impersonate-User", "")
        extra = {
            key[len("Impersonate-Extra-") :].lower(): (value,)
            for key, value in headers.items()
            if key.lower().startswith("impersonate-extra-")
        }
        uid = headers.get("Impersonate-Uid", "")
        if not name:
            if groups or extra or uid:
                raise ApiError(
                    500,
                    "requested impersonation of groups, extra or uid without a user",
                    "InternalError",
                )
            return requester
        if name.startswith(_SA_PREFIX) and name.count(":") == 3:
            namespace, sa_name = name[len(_SA_PREFIX) :].split(":")
            self._may(
                requester,
                Attributes("impersonate", True, "", "serviceaccounts", "", namespace, sa_name),
            )
            if not groups:
                groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
        else:
            self._may(requester, Attributes("impersonate", True, "", "users", name=name))
        for group in groups:
            self._may(requester, Attributes("impersonate", True, "", "groups", name=group))
        if uid:
            self._may(
                requester,
                Attributes("impersonate", True, "authentication.k8s.io", "uids", name=uid),
            )
        for key, values in extra.items():
            for value in values:
                self._may(
                    requester,
                    Attributes(
                        "impersonate", True, "authentication.k8s.io", "userextras", key, name=value
                    ),
                )
        if name != "system:anonymous" and AUTHENTICATED not in groups:
            groups = [*groups, AUTHENTICATED]
        return User(name, tuple(groups), uid, extra)

    def _may(self, requester: User, attrs: Attributes) -> None:
        if not self.authorizer.allowed(requester, attrs):
            resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
            what = f'{resource} "{attrs.name}"'
            where = f' in the namespace "{attrs.namespace}"' if attrs.namespace else ""
            raise ApiError(
                403,
                f'{what} is forbidden: User "{requester.name}" cannot impersonate resource '
                f'"{resource}" in API group "{attrs.group}"{where}',
                "Forbidden",
                {"name": attrs.name, "group": attrs.group, "kind": attrs.resource},
            )
