"""Kubernetes ``Status`` error objects.

Every failure the emulator answers is a ``meta/v1 Status`` body, because the official clients
(kubernetes-python, client-go in kubectl, kopf) parse ``reason``/``code``/``details`` to decide
whether to retry, recreate or give up.
"""

from __future__ import annotations

from typing import Any

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def status_body(
    code: int, message: str, reason: str | None = None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A failure ``Status`` as the apiserver writes it."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason if reason is not None else REASONS.get(code, ""),
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    """Raised anywhere in request handling; the server turns it into a Status response."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason if reason is not None else REASONS.get(code, "")
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return status_body(self.code, self.message, self.reason, self.details)


def _qualified(kind_plural: str, group: str) -> str:
    return f"{kind_plural}.{group}" if group else kind_plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        f'{_qualified(plural, group)} "{name}" not found',
        "NotFound",
        {"name": name, "group": group, "kind": plural},
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        f'{_qualified(plural, group)} "{name}" already exists',
        "AlreadyExists",
        {"name": name, "group": group, "kind": plural},
    )


def conflict(plural: str, group: str, name: str, why: str) -> ApiError:
    message = f'Operation cannot be fulfilled on {_qualified(plural, group)} "{name}": {why}'
    return ApiError(409, message, "Conflict", {"name": name, "group": group, "kind": plural})


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, "BadRequest")


def invalid(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 Invalid with ``details.causes`` - the shape ``kubectl`` prints field by field.

    ``causes`` items carry ``reason`` (FieldValueInvalid, FieldValueRequired, ...), ``field`` and
    the per-field ``message`` (already prefixed with the field path, as Kubernetes does).
    """
    qualified = _qualified(kind, group)
    messages = [c["message"] for c in causes]
    # Status.message keeps "field: detail"; each cause carries the field separately.
    causes = [
        dict(c, message=c["message"][len(c["field"]) + 2 :])
        if c.get("field") and c["message"].startswith(c["field"] + ": ")
        else c
        for c in causes
    ]
    summary = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    return ApiError(
        422,
        f'{qualified} "{name}" is invalid: {summary}',
        "Invalid",
        {"name": name, "group": group, "kind": kind, "causes": causes},
    )
