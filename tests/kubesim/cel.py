"""CEL as the apiserver runs it: cel-python (``celpy``) plus the Kubernetes CEL libraries.

Why cel-python: it is pure Python and maintained (the CEL engine of Cloud Custodian), its
functions are plain Python callables that may take any Python object, which the
``authorizer`` builder chain needs, and it parses to a tree we can walk. The other candidate,
``common-expression-language`` (bindings to a Rust interpreter), imports a CLI stack (typer)
at import time and has no such hook for host objects.

Libraries added to celpy's standard ones, as Kubernetes enables them
(https://kubernetes.io/docs/reference/using-api/cel/): the strings extension (``format``,
``lowerAscii``, ``upperAscii``, ``trim``, ``split``, ``join``, ``replace``, ``indexOf``,
``lastIndexOf``, ``substring``, ``charAt``), lists (``isSorted``, ``sum``, ``min``, ``max``,
``indexOf``, ``lastIndexOf``), regex (``find``, ``findAll``), URLs (``url``, ``isURL``,
``getScheme``, ``getHost``, ``getHostname``, ``getPort``, ``getEscapedPath``, ``getQuery``)
and the authorizer (``authorizer.group(g).resource(r).namespace(n).name(x).check(verb)
.allowed()``, ``.subresource``, ``.path``, ``.reason``, ``.serviceAccount``,
``authorizer.requestResource``), with cel-go's cross-type numeric comparisons (``1 < 1.5``).
Not here: quantities, IP/CIDR, semver, optional types.
"""

from __future__ import annotations

import functools
import math
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import celpy
from celpy import celtypes
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

from .rbac import Attributes, Authorizer, User

Number = (celtypes.IntType, celtypes.UintType, celtypes.DoubleType)


class CelError(Exception):
    """A rule that does not compile, or an evaluation that failed."""


_ENV = celpy.Environment()


@functools.lru_cache(maxsize=1024)
def _compile(expression: str) -> Any:
    try:
        return _ENV.compile(expression)
    except CELParseError as exc:
        raise CelError(f"compilation failed: {str(exc).splitlines()[0]}") from None


def check_compiles(expression: str) -> str | None:
    """The compile error, or None."""
    try:
        _compile(expression)
    except CelError as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=1024)
def _program(expression: str) -> Any:
    return _ENV.program(_compile(expression), functions=FUNCTIONS)


def evaluate(expression: str, variables: dict[str, Any]) -> Any:
    """Evaluate ``expression`` with ``variables`` (already CEL values); CelError on failure."""
    program = _program(expression)
    try:
        result = program.evaluate(variables)
    except CELEvalError as exc:
        raise CelError(_describe(exc)) from None
    except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError) as exc:
        raise CelError(f"{type(exc).__name__}: {exc}") from None
    if isinstance(result, CELEvalError):
        raise CelError(_describe(result))
    return result


def evaluate_bool(expression: str, variables: dict[str, Any]) -> bool:
    """A rule's verdict; a non-boolean result is an error (the apiserver's type check)."""
    result = evaluate(expression, variables)
    if not isinstance(result, celtypes.BoolType | bool):
        raise CelError(f"expected a boolean, got {type(result).__name__}")
    return bool(result)


def _describe(exc: CELEvalError) -> str:
    args = exc.args
    if args and isinstance(args[0], str):
        first = args[0]
        if first.startswith("undeclared reference to"):
            return first.split(" (in activation")[0]
        return first
    return repr(exc)


# ---- values ------------------------------------------------------------------------------------


def to_cel(value: Any, schema: dict[str, Any] | None = None) -> Any:
    """A JSON value as CEL sees it under ``schema``: ``number`` fields are doubles even when
    written as integers, ``integer`` fields ints, as the apiserver's structural-schema types."""
    schema = schema or {}
    kind = schema.get("type")
    if value is None:
        return None
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if kind == "number" or isinstance(value, float):
            return celtypes.DoubleType(float(value))
        return celtypes.IntType(value)
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, list):
        items = schema.get("items") or {}
        return celtypes.ListType([to_cel(v, items) for v in value])
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        extra = extra if isinstance(extra, dict) else {}
        return celtypes.MapType(
            {celtypes.StringType(k): to_cel(v, props.get(k, extra)) for k, v in value.items()}
        )
    raise CelError(f"unsupported value {value!r}")


def to_python(value: Any) -> Any:
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, celtypes.IntType | celtypes.UintType):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, celtypes.StringType):
        return str(value)
    if isinstance(value, celtypes.ListType):
        return [to_python(v) for v in value]
    if isinstance(value, celtypes.MapType):
        return {str(k): to_python(v) for k, v in value.items()}
    return value


# ---- cross-type numeric comparison (cel-go's CrossTypeNumericComparisons) -----------------------


def _numeric(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
    def compare(a: Any, b: Any) -> Any:
        if isinstance(a, CELEvalError):
            return a
        if isinstance(b, CELEvalError):
            return b
        if isinstance(a, Number) and isinstance(b, Number) and type(a) is not type(b):
            return celtypes.BoolType(op(float(a), float(b)))
        try:
            return celtypes.BoolType(op(a, b))
        except TypeError as exc:
            return CELEvalError(f"no such overload: {type(a).__name__} {type(b).__name__}", exc)

    return compare


def _equal(a: Any, b: Any) -> Any:
    """CEL's heterogeneous equality: numbers by value, null only equals null, other mixed
    types are unequal; lists and maps element by element."""
    if isinstance(a, CELEvalError):
        return a
    if isinstance(b, CELEvalError):
        return b
    if isinstance(a, Number) and isinstance(b, Number):
        return celtypes.BoolType(float(a) == float(b))
    if a is None or b is None:
        return celtypes.BoolType(a is None and b is None)
    if isinstance(a, str) and isinstance(b, str):  # celpy's + may hand back a plain str
        return celtypes.BoolType(str(a) == str(b))
    if isinstance(a, celtypes.ListType) and isinstance(b, celtypes.ListType):
        return celtypes.BoolType(
            len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, celtypes.MapType) and isinstance(b, celtypes.MapType):
        return celtypes.BoolType(a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a))
    if type(a) is not type(b):
        return celtypes.BoolType(False)
    return celtypes.BoolType(a == b)


# ---- strings -------------------------------------------------------------------------------------

_VERB = re.compile(r"%(\.\d+)?([sdfeboxX%])")


def _format(template: Any, args: Any) -> Any:
    values = list(args)

    def render(match: re.Match[str]) -> str:
        precision, verb = match.group(1), match.group(2)
        if verb == "%":
            return "%"
        if not values:
            raise CelError("format: not enough arguments")
        value = values.pop(0)
        if verb == "s":
            return _display(value)
        if verb == "d":
            return str(int(value))
        if verb == "f":
            return f"{float(value):.{int(precision[1:]) if precision else 6}f}"
        if verb == "e":
            return f"{float(value):.{int(precision[1:]) if precision else 6}e}"
        return format(int(value), {"b": "b", "o": "o", "x": "x", "X": "X"}[verb])

    return celtypes.StringType(_VERB.sub(render, str(template)))


def _display(value: Any) -> str:
    if isinstance(value, celtypes.BoolType):
        return "true" if value else "false"
    if isinstance(value, celtypes.DoubleType):
        number = float(value)
        return str(int(number)) if number.is_integer() and math.isfinite(number) else repr(number)
    if isinstance(value, celtypes.ListType):
        return "[" + ", ".join(_display(v) for v in value) + "]"
    if value is None:
        return "null"
    return str(value)


def _index_of(container: Any, item: Any, start: Any = 0) -> Any:
    if isinstance(container, celtypes.StringType):
        return celtypes.IntType(str(container).find(str(item), int(start)))
    for i, value in enumerate(container):
        if _equal(value, item):
            return celtypes.IntType(i)
    return celtypes.IntType(-1)


def _last_index_of(container: Any, item: Any) -> Any:
    if isinstance(container, celtypes.StringType):
        return celtypes.IntType(str(container).rfind(str(item)))
    found = -1
    for i, value in enumerate(container):
        if _equal(value, item):
            found = i
    return celtypes.IntType(found)


def _split(text: Any, sep: Any, limit: Any = -1) -> Any:
    parts = str(text).split(str(sep), int(limit) - 1 if int(limit) > 0 else -1)
    return celtypes.ListType([celtypes.StringType(p) for p in parts])


def _substring(text: Any, start: Any, end: Any = None) -> Any:
    s = str(text)
    return celtypes.StringType(s[int(start) : len(s) if end is None else int(end)])


# ---- lists ---------------------------------------------------------------------------------------


def _sum(items: Any) -> Any:
    values = list(items)
    if any(isinstance(v, celtypes.DoubleType) for v in values):
        return celtypes.DoubleType(sum(float(v) for v in values))
    return celtypes.IntType(sum(int(v) for v in values))


def _min_max(pick: Callable[..., Any]) -> Callable[[Any], Any]:
    def choose(items: Any) -> Any:
        values = list(items)
        if not values:
            raise CelError("min/max of an empty list")
        return pick(values, key=float if isinstance(values[0], Number) else str)

    return choose


# ---- URLs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Url:
    parsed: urllib.parse.SplitResult


def _url(text: Any) -> Url:
    parsed = urllib.parse.urlsplit(str(text))
    if not parsed.scheme or (not parsed.netloc and not parsed.path.startswith("/")):
        raise CelError(f"URL parse error during conversion from string: {text}")
    return Url(parsed)


def _is_url(text: Any) -> Any:
    try:
        _url(text)
    except (CelError, ValueError):
        return celtypes.BoolType(False)
    return celtypes.BoolType(True)


def _host(u: Url) -> Any:
    return celtypes.StringType(u.parsed.netloc.rpartition("@")[2])


def _hostname(u: Url) -> Any:
    return celtypes.StringType(u.parsed.hostname or "")


def _port(u: Url) -> Any:
    return celtypes.StringType(str(u.parsed.port) if u.parsed.port else "")


# ---- the authorizer library -------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizerValue:
    """``authorizer`` and its builders: each call returns a copy with one more attribute."""

    authorizer: Authorizer
    user: User
    attrs: Attributes = field(default_factory=lambda: Attributes("", True))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def _group(a: AuthorizerValue, group: Any) -> AuthorizerValue:
    return replace(a, attrs=replace(a.attrs, group=str(group), resource_request=True))


def _resource(a: AuthorizerValue, resource: Any) -> AuthorizerValue:
    return replace(a, attrs=replace(a.attrs, resource=str(resource)))


def _subresource(a: AuthorizerValue, sub: Any) -> AuthorizerValue:
    return replace(a, attrs=replace(a.attrs, subresource=str(sub)))


def _namespace(a: AuthorizerValue, ns: Any) -> AuthorizerValue:
    return replace(a, attrs=replace(a.attrs, namespace=str(ns)))


def _name(a: AuthorizerValue, name: Any) -> AuthorizerValue:
    return replace(a, attrs=replace(a.attrs, name=str(name)))


def _path(a: AuthorizerValue, path: Any) -> AuthorizerValue:
    return replace(a, attrs=replace(a.attrs, resource_request=False, path=str(path)))


def _service_account(a: AuthorizerValue, namespace: Any, name: Any) -> AuthorizerValue:
    from .authn import service_account_user

    return replace(a, user=service_account_user(str(namespace), str(name)))


def _check(a: AuthorizerValue, verb: Any) -> Decision:
    attrs = replace(a.attrs, verb=str(verb))
    allowed = a.authorizer.allowed(a.user, attrs)
    return Decision(allowed, "" if allowed else "denied by RBAC")


def _allowed(d: Decision) -> Any:
    return celtypes.BoolType(d.allowed)


def _reason(d: Decision) -> Any:
    return celtypes.StringType(d.reason)


def _errored(d: Decision) -> Any:
    return celtypes.BoolType(False)


def _error(d: Decision) -> Any:
    return celtypes.StringType("")


def _regex_find(text: Any, pattern: Any) -> Any:
    match = re.search(str(pattern), str(text))
    return celtypes.StringType(match.group(0) if match else "")


def _regex_find_all(text: Any, pattern: Any, limit: Any = -1) -> Any:
    found = [celtypes.StringType(m.group(0)) for m in re.finditer(str(pattern), str(text))]
    return celtypes.ListType(found if int(limit) < 0 else found[: int(limit)])


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "_<_": _numeric(lambda a, b: a < b),
    "_<=_": _numeric(lambda a, b: a <= b),
    "_>_": _numeric(lambda a, b: a > b),
    "_>=_": _numeric(lambda a, b: a >= b),
    "_==_": _equal,
    "_!=_": lambda a, b: celtypes.BoolType(not _equal(a, b)),
    "format": _format,
    "lowerAscii": lambda s: celtypes.StringType(str(s).lower()),
    "upperAscii": lambda s: celtypes.StringType(str(s).upper()),
    "trim": lambda s: celtypes.StringType(str(s).strip()),
    "split": _split,
    "join": lambda items, sep="": celtypes.StringType(str(sep).join(str(i) for i in items)),
    "replace": lambda s, old, new, n=-1: celtypes.StringType(
        str(s).replace(str(old), str(new), int(n))
    ),
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "substring": _substring,
    "charAt": lambda s, i: celtypes.StringType(str(s)[int(i) : int(i) + 1]),
    "isSorted": lambda items: celtypes.BoolType(list(items) == sorted(items)),
    "sum": _sum,
    "min": _min_max(min),
    "max": _min_max(max),
    "find": _regex_find,
    "findAll": _regex_find_all,
    "url": _url,
    "isURL": _is_url,
    "getScheme": lambda u: celtypes.StringType(u.parsed.scheme),
    "getHost": _host,
    "getHostname": _hostname,
    "getPort": _port,
    "getEscapedPath": lambda u: celtypes.StringType(u.parsed.path),
    "getQuery": lambda u: celtypes.MapType(
        {
            celtypes.StringType(k): celtypes.ListType([celtypes.StringType(x) for x in v])
            for k, v in urllib.parse.parse_qs(u.parsed.query).items()
        }
    ),
    "group": _group,
    "resource": _resource,
    "subresource": _subresource,
    "namespace": _namespace,
    "name": _name,
    "path": _path,
    "serviceAccount": _service_account,
    "check": _check,
    "allowed": _allowed,
    "reason": _reason,
    "errored": _errored,
    "error": _error,
}
