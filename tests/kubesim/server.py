"""The aiohttp application: request classification, routing and response rendering.

One catch-all handler turns each URL into a :class:`RequestInfo` (like the apiserver does) and
dispatches to discovery, OpenAPI, pod logs, watches or the verbs in :mod:`api`. A middleware
records every request in the request log and applies injected faults first.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from . import (
    access_reviews,
    authn,
    discovery,
    eviction,
    openapi,
    patching,
    podlogs,
    protobuf,
    rbac,
    request_info,
    tables,
    watch,
)
from .api import Api, DeleteOptions
from .errors import ApiError, bad_request
from .faults import CONTROL_PREFIX, Faults, apply_latency, control_routes, fault_response
from .resources import ResourceType
from .selectors import combine, field_selector, label_selector
from .store import Watcher

log = logging.getLogger(__name__)

JSON = "application/json"


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")), status=status, content_type=JSON
    )


def _error(exc: ApiError) -> web.Response:
    resp = _json(exc.body(), exc.code)
    for key, value in exc.headers.items():
        resp.headers[key] = value
    return resp


class Server:
    """Owns the :class:`Api`, the fault/request-log state and the aiohttp app."""

    def __init__(
        self,
        api: Api,
        state_dir: Path,
        faults: Faults | None = None,
        restart: Callable[[float], None] | None = None,
    ) -> None:
        self.api = api
        self.state_dir = state_dir
        self.faults = faults or Faults()
        self.server_address = "127.0.0.1:0"
        self.app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024**2)
        self.app.add_routes(control_routes(self.faults, self.api.store, restart))
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    # ---- middleware ------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            control: web.StreamResponse = await handler(request)
            return control
        info = request_info.parse(request.method, request.path, dict(request.query))
        request["info"] = info
        entry = self.faults.record(request, info)
        request["log_entry"] = entry
        user_agent = request.headers.get("User-Agent", "")
        latency, rule = self.faults.match(request.method, request.path, info, user_agent)
        await apply_latency(latency)
        if rule is not None and rule.status is not None:
            response: web.StreamResponse = fault_response(rule)
        else:
            try:
                user = self._authenticate(request, info)
                entry["user"] = user.name
                token = authn.CURRENT_USER.set(user)
                try:
                    with self.api.request_options(request.query.get("fieldValidation")) as warnings:
                        response = await handler(request)
                finally:
                    authn.CURRENT_USER.reset(token)
                for warning in warnings if not response.prepared else []:
                    response.headers.add("Warning", f'299 - "{warning}"')
            except ApiError as exc:
                response = _error(exc)
            except web.HTTPException:
                raise
            except Exception as exc:
                log.exception("internal error serving %s %s", request.method, request.path_qs)
                response = _error(ApiError(500, f"kubesim internal error: {exc!r}"))
        if entry["code"] is None:
            entry["code"] = response.status
        return response

    # ---- authentication and authorization ---------------------------------------------------
    def _authenticate(self, request: web.Request, info: request_info.RequestInfo) -> rbac.User:
        """Who is asking (after impersonation); 401/403 unless they may make this request."""
        api = self.api
        user = api.authenticator.authenticate(request.headers)
        groups = request.headers.getall("Impersonate-Group", [])
        user = api.authenticator.impersonate(user, request.headers, list(groups))
        api.authorizer.check(user, rbac_attributes(info, request.path))
        return user

    # ---- routing ---------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        info: request_info.RequestInfo = request["info"]
        if not info.is_resource:
            return await self._non_resource(request, info)
        rt = self.api.registry.get(info.group, info.version, info.resource)
        if rt is None:
            raise ApiError(404, "the server could not find the requested resource", "NotFound", {})
        if not rt.namespaced and info.namespace and info.resource != "namespaces":
            raise ApiError(404, "the server could not find the requested resource", "NotFound")
        if info.subresource:
            return await self._subresource(request, info, rt)
        if rt.group_resource in access_reviews.REVIEW_RESOURCES and info.verb == "create":
            answer = access_reviews.review(
                self.api.authorizer,
                authn.CURRENT_USER.get(),
                info.resource,
                info.namespace,
                await self._body(request),
            )
            return _json(answer, 201)
        if info.resource == "bindings" and info.verb == "create":
            body = await self._body(request)
            name = (body.get("metadata") or {}).get("name", "")
            self.api.bind(info.namespace, name, body)
            return _json(_success(), 201)
        handler = {
            "get": self._get,
            "list": self._list,
            "watch": self._watch,
            "create": self._create,
            "update": self._update,
            "patch": self._patch,
            "delete": self._delete,
            "deletecollection": self._delete_collection,
        }.get(info.verb)
        if handler is None or (info.verb not in rt.verbs and info.verb != "get"):
            raise ApiError(
                405,
                f'{info.verb} is not supported on resources of kind "{rt.qualified()}"',
                "MethodNotAllowed",
            )
        return await handler(request, info, rt)

    async def _non_resource(
        self, request: web.Request, info: request_info.RequestInfo
    ) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        registry = self.api.registry
        if path in ("/healthz", "/readyz", "/livez") or path.startswith(
            ("/healthz/", "/readyz/", "/livez/")
        ):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/version":
            return _json(discovery.version())
        if path == "/api":
            return _json(discovery.api_versions(self.server_address))
        if path == "/apis":
            return _json(discovery.api_group_list(registry))
        if path == "/openapi/v3":
            return _json(openapi.index(registry))
        if path.startswith("/openapi/v3/"):
            doc = openapi.document(registry, path[len("/openapi/v3/") :])
            if doc is not None:
                return _json(doc)
        if info.api_prefix == "api" and info.version:
            doc = discovery.resource_list(registry, "", info.version)
            if doc is not None:
                return _json(doc)
        if info.api_prefix == "apis" and info.group and not info.version:
            doc = discovery.api_group(registry, info.group)
            if doc is not None:
                return _json(doc)
        if info.api_prefix == "apis" and info.group and info.version:
            doc = discovery.resource_list(registry, info.group, info.version)
            if doc is not None:
                return _json(doc)
        raise ApiError(404, "the server could not find the requested resource", "NotFound")

    # ---- helpers ---------------------------------------------------------------------------
    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return {}
        ctype = request.content_type
        if ctype == protobuf.CONTENT_TYPE:
            return protobuf.decode(raw)
        try:
            if ctype == patching.APPLY_PATCH or ctype.endswith("yaml"):
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"error decoding request body: {exc}") from None

    def _render(self, request: web.Request, rt: ResourceType, obj: dict[str, Any]) -> Any:
        accept = request.headers.get("Accept", "")
        if tables.wants_table(accept):
            return tables.table(
                rt,
                [obj],
                obj["metadata"].get("resourceVersion", ""),
                request.query.get("includeObject", "Metadata"),
            )
        if "as=PartialObjectMetadata" in accept.replace(" ", ""):
            return {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        return obj

    def _ns(self, info: request_info.RequestInfo, rt: ResourceType) -> str:
        return info.namespace if rt.namespaced else ""

    # ---- verbs -----------------------------------------------------------------------------
    async def _get(
        self, request: web.Request, info: request_info.RequestInfo, rt: ResourceType
    ) -> web.StreamResponse:
        return _json(self._render(request, rt, self.api.get(rt, self._ns(info, rt), info.name)))

    async def _list(
        self, request: web.Request, info: request_info.RequestInfo, rt: ResourceType
    ) -> web.StreamResponse:
        q = request.query  # (listing in a missing namespace is an empty list, as in Kubernetes)
        limit = int(q["limit"]) if q.get("limit") else None
        items, rv, token = self.api.list(
            rt,
            info.namespace or None,
            q.get("labelSelector"),
            q.get("fieldSelector"),
            limit,
            q.get("continue"),
        )
        accept = request.headers.get("Accept", "")
        if tables.wants_table(accept):
            return _json(tables.table(rt, items, rv, q.get("includeObject", "Metadata"), token))
        meta: dict[str, Any] = {"resourceVersion": rv}
        if token:
            meta["continue"] = token
        if "as=PartialObjectMetadataList" in accept.replace(" ", ""):
            return _json(
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                    "items": [
                        {
                            "kind": "PartialObjectMetadata",
                            "apiVersion": "meta.k8s.io/v1",
                            "metadata": o["metadata"],
                        }
                        for o in items
                    ],
                }
            )
        return _json(
            {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": items}
        )

    async def _watch(
        self, request: web.Request, info: request_info.RequestInfo, rt: ResourceType
    ) -> web.StreamResponse:
        q = dict(request.query)
        field = q.get("fieldSelector")
        if info.name:
            term = f"metadata.name={info.name}"
            field = f"{field},{term}" if field else term
        predicate = combine(label_selector(q.get("labelSelector")), field_selector(field))
        namespace = info.namespace if rt.namespaced and info.namespace else None
        watcher = Watcher(
            rt.group_resource,
            namespace,
            predicate,
            tags={
                "group": rt.group,
                "resource": rt.plural,
                "namespace": namespace or "",
                "userAgent": request.headers.get("User-Agent", ""),
            },
        )
        as_table = tables.wants_table(request.headers.get("Accept", ""))
        include = q.get("includeObject", "Metadata")

        def render(obj: dict[str, Any], first: bool) -> dict[str, Any]:
            if as_table:
                return tables.table(
                    rt,
                    [obj],
                    obj["metadata"].get("resourceVersion", ""),
                    include,
                    with_columns=first,
                )
            return obj

        def snapshot() -> list[dict[str, Any]]:
            return self.api.list(rt, namespace, q.get("labelSelector"), field)[0]

        return await watch.serve(
            request, self.api.store, rt, watcher, q, snapshot, render, request.get("log_entry")
        )

    async def _create(
        self, request: web.Request, info: request_info.RequestInfo, rt: ResourceType
    ) -> web.StreamResponse:
        body = await self._body(request)
        dry = bool(request.query.get("dryRun"))
        obj = self.api.create(rt, info.namespace or None, body, dry)
        return _json(self._render(request, rt, obj), 201)

    async def _update(
        self, request: web.Request, info: request_info.RequestInfo, rt: ResourceType
    ) -> web.StreamResponse:
        body = await self._body(request)
        existed = self.api.store.get(rt.group_resource, self._ns(info, rt), info.name) is not None
        obj = self.api.update(
            rt, self._ns(info, rt), info.name, body, None, bool(request.query.get("dryRun"))
        )
        return _json(self._render(request, rt, obj), 200 if existed else 201)

    async def _patch(
        self,
        request: web.Request,
        info: request_info.RequestInfo,
        rt: ResourceType,
        subresource: str | None = None,
    ) -> web.StreamResponse:
        body = await self._body(request)
        force = request.query.get("force", "").lower() in ("1", "true")
        obj, created = self.api.patch(
            rt,
            self._ns(info, rt),
            info.name,
            request.content_type,
            body,
            subresource,
            bool(request.query.get("dryRun")),
            force,
        )
        return _json(self._render(request, rt, obj), 201 if created else 200)

    async def _delete(
        self, request: web.Request, info: request_info.RequestInfo, rt: ResourceType
    ) -> web.StreamResponse:
        body = await self._body(request) if request.can_read_body else {}
        options = DeleteOptions.parse(body if isinstance(body, dict) else {}, dict(request.query))
        obj = self.api.delete(rt, self._ns(info, rt), info.name, options)
        still_there = self.api.store.get(rt.group_resource, self._ns(info, rt), info.name)
        if still_there is not None or rt.group_resource == ("", "pods"):
            return _json(self._render(request, rt, still_there or obj))
        return _json(_success(obj, rt))

    async def _delete_collection(
        self, request: web.Request, info: request_info.RequestInfo, rt: ResourceType
    ) -> web.StreamResponse:
        body = await self._body(request) if request.can_read_body else {}
        options = DeleteOptions.parse(body if isinstance(body, dict) else {}, dict(request.query))
        q = request.query
        deleted = self.api.delete_collection(
            rt, info.namespace or None, q.get("labelSelector"), q.get("fieldSelector"), options
        )
        return _json(
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self.api.store.rv)},
                "items": deleted,
            }
        )

    # ---- subresources ------------------------------------------------------------------------
    async def _subresource(
        self, request: web.Request, info: request_info.RequestInfo, rt: ResourceType
    ) -> web.StreamResponse:
        sub, verb = info.subresource, info.verb
        ns = self._ns(info, rt)
        if sub == "log" and rt.group_resource == ("", "pods") and verb == "get":
            return await podlogs.serve(request, self.api.store, self.state_dir, ns, info.name)
        if sub == "token" and rt.group_resource == ("", "serviceaccounts") and verb == "create":
            body = await self._body(request)
            return _json(
                access_reviews.token_request(self.api.authenticator, ns, info.name, body), 201
            )
        if sub == "binding" and rt.group_resource == ("", "pods") and verb == "create":
            self.api.bind(ns, info.name, await self._body(request))
            return _json(_success(), 201)
        if sub == "eviction" and rt.group_resource == ("", "pods") and verb == "create":
            return _json(eviction.evict(self.api, ns, info.name, await self._body(request)), 201)
        if (sub == "status" and rt.status_subresource) or (
            sub == "finalize" and rt.group_resource == ("", "namespaces")
        ):
            mode = "status" if sub == "status" else None
            if verb == "get":
                return _json(self.api.get(rt, ns, info.name))
            if verb == "update":
                body = await self._body(request)
                if sub == "finalize":
                    current = self.api.get(rt, ns, info.name)
                    body = dict(current, spec=(body or {}).get("spec") or {})
                obj = self.api.update(rt, ns, info.name, body, mode)
                return _json(obj)
            if verb == "patch":
                return await self._patch(request, info, rt, mode)
        raise ApiError(404, "the server could not find the requested resource", "NotFound")


def rbac_attributes(info: request_info.RequestInfo, path: str) -> rbac.Attributes:
    if not info.is_resource:
        return rbac.Attributes(info.verb, False, path=path.rstrip("/") or "/")
    return rbac.Attributes(
        info.verb,
        True,
        info.group,
        info.resource,
        info.subresource,
        info.namespace,
        info.name,
    )


def _success(obj: dict[str, Any] | None = None, rt: ResourceType | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
    }
    if obj is not None and rt is not None:
        body["details"] = {
            "name": obj["metadata"]["name"],
            "group": rt.group,
            "kind": rt.plural,
            "uid": obj["metadata"].get("uid", ""),
        }
    return body
