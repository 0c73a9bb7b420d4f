"""``x-kubernetes-validations``: CRD validation rules, checked when a CRD is written and
evaluated on every write of its custom resources, as ``apiextensions-apiserver`` does.

* ``self`` is the value at the rule's schema node, typed by the schema (``number`` = double).
* Transition rules (those naming ``oldSelf``) run only on update and only where the old value
  correlates: object properties by name, ``listType: map`` items by key, ``listType: set`` by
  value; never items of atomic lists.
* A failed rule gives ``<path><fieldPath>: Invalid value: "<type>": <message>`` (``reason``
  Forbidden/Required/Duplicate give those forms), the message from ``messageExpression``,
  else ``message``, else ``failed rule: <rule>``.
* Ratcheting, as in Kubernetes 1.30+: on update, rules without ``oldSelf`` are skipped where
  the value equals its correlated old value (a status write does not re-judge the spec).
* On CRD writes: rules and messageExpressions must compile, ``oldSelf`` rules must sit where
  correlation is possible, and the estimated cost must stay within the apiserver's budgets.
  The estimate is an approximation of cel-go's: comprehension macros cost their target's
  maximum size (``maxItems``, or what 3 MiB of request could hold) times their body, string
  functions a tenth of ``maxLength``; a rule's cost is multiplied by how many times its node
  can occur (the ``maxItems`` of every enclosing list).
"""

from __future__ import annotations

from typing import Any

from lark import Token, Tree

from . import cel
from .schema_validation import Cause

PER_RULE_LIMIT = 10_000_000  # StaticEstimatedCostLimit
PER_CRD_LIMIT = 100_000_000  # StaticEstimatedCRDCostLimit
MAX_REQUEST_BYTES = 3 * 1024 * 1024
_MACROS = {"all", "exists", "exists_one", "map", "filter"}
_STRING_FUNCTIONS = {
    *("matches", "contains", "startsWith", "endsWith", "find", "findAll", "split"),
    *("replace", "indexOf", "lastIndexOf", "lowerAscii", "upperAscii"),
}
_MISSING = object()


def _rules(schema: dict[str, Any]) -> list[dict[str, Any]]:
    rules = schema.get("x-kubernetes-validations") or []
    return [r for r in rules if isinstance(r, dict)]


def _is_transition(rule: dict[str, Any]) -> bool:
    return "oldSelf" in str(rule.get("rule", ""))


# ---- evaluation ----------------------------------------------------------------------------------


def validate(value: Any, old: Any, schema: dict[str, Any], path: str = "") -> list[Cause]:
    """Causes for every failed rule in ``value`` (``old``: the stored object on update, or
    ``_MISSING``/None on create)."""
    causes: list[Cause] = []
    _walk(value, old if old is not None else _MISSING, schema, path, causes)
    return causes


def _walk(value: Any, old: Any, schema: dict[str, Any], path: str, causes: list[Cause]) -> None:
    if value is None or not isinstance(schema, dict):
        return
    unchanged = old is not _MISSING and value == old
    for rule in _rules(schema):
        if _is_transition(rule) and old is _MISSING:
            continue
        if unchanged and not _is_transition(rule):
            continue  # ratcheting (CRDValidationRatcheting): an unchanged value is not re-judged
        _run(rule, value, old, schema, path, causes)
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is None:
                continue
            child_old = old.get(key, _MISSING) if isinstance(old, dict) else _MISSING
            child_path = f"{path}.{key}" if key in props else f"{path}[{key}]"
            _walk(child, child_old, sub, child_path.lstrip("."), causes)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _walk(
                item, _correlated_item(item, old, schema), schema["items"], f"{path}[{i}]", causes
            )


def _correlated_item(item: Any, old: Any, schema: dict[str, Any]) -> Any:
    if not isinstance(old, list):
        return _MISSING
    kind = schema.get("x-kubernetes-list-type")
    if kind == "set":
        return item if item in old else _MISSING
    if kind == "map" and isinstance(item, dict):
        keys = schema.get("x-kubernetes-list-map-keys") or []
        for candidate in old:
            if isinstance(candidate, dict) and all(candidate.get(k) == item.get(k) for k in keys):
                return candidate
    return _MISSING


def _run(
    rule: dict[str, Any],
    value: Any,
    old: Any,
    schema: dict[str, Any],
    path: str,
    causes: list[Cause],
) -> None:
    variables = {"self": cel.to_cel(value, schema)}
    if old is not _MISSING:
        variables["oldSelf"] = cel.to_cel(old, schema)
    expression = str(rule.get("rule", ""))
    field = path + str(rule.get("fieldPath", ""))
    field = field.lstrip(".")
    type_name = schema.get("type", "object")
    try:
        ok = cel.evaluate_bool(expression, variables)
    except cel.CelError as exc:
        causes.append(
            _cause(field, type_name, f"{exc} evaluating rule: {expression}", "FieldValueInvalid")
        )
        return
    if ok:
        return
    message = str(rule.get("message") or f"failed rule: {expression}")
    if rule.get("messageExpression"):
        try:
            rendered = cel.evaluate(str(rule["messageExpression"]), variables)
            if isinstance(rendered, str) and rendered.strip():
                message = str(rendered)
        except cel.CelError:
            pass  # the apiserver falls back to message (and logs the failure)
    causes.append(_cause(field, type_name, message, str(rule.get("reason") or "FieldValueInvalid")))


def _cause(field: str, type_name: str, message: str, reason: str) -> Cause:
    prefix = f"{field}: " if field else ""
    if reason == "FieldValueForbidden":
        text = f"{prefix}Forbidden: {message}"
    elif reason == "FieldValueRequired":
        text = f"{prefix}Required value: {message}"
    elif reason == "FieldValueDuplicate":
        text = f'{prefix}Duplicate value: "{type_name}"'
    else:
        reason = "FieldValueInvalid"
        text = f'{prefix}Invalid value: "{type_name}": {message}'
    return {"reason": reason, "field": field, "message": text}


# ---- CRD-time checks -----------------------------------------------------------------------------


def check_schema(schema: dict[str, Any], path: str) -> list[Cause]:
    """Compile errors, misplaced transition rules and cost-budget excess in one version's schema."""
    causes: list[Cause] = []
    total = [0.0]
    _check_node(schema, path, 1.0, True, causes, total)
    if total[0] > PER_CRD_LIMIT:
        causes.append(
            {
                "reason": "FieldValueForbidden",
                "field": path,
                "message": f"{path}: Forbidden: x-kubernetes-validations estimated rule cost total "
                f"for entire OpenAPIv3 schema exceeds budget by factor of "
                f"{total[0] / PER_CRD_LIMIT:.6f}x (try adding maxItems, maxProperties, and "
                "maxLength where arrays, maps, and strings are declared)",
            }
        )
    return causes


def _cardinality(schema: dict[str, Any]) -> float:
    if "maxItems" in schema:
        return float(schema["maxItems"])
    if "maxProperties" in schema:
        return float(schema["maxProperties"])
    return MAX_REQUEST_BYTES / 2.0  # the smallest element ("0,") takes two bytes


def _check_node(
    schema: dict[str, Any],
    path: str,
    times: float,
    correlatable: bool,
    causes: list[Cause],
    total: list[float],
) -> None:
    for i, rule in enumerate(_rules(schema)):
        where = f"{path}.x-kubernetes-validations[{i}]"
        for key in ("rule", "messageExpression"):
            if key in rule:
                error = cel.check_compiles(str(rule[key]))
                if error:
                    causes.append(_invalid(f"{where}.{key}", rule[key], error))
        if _is_transition(rule) and not correlatable:
            causes.append(
                _invalid(
                    f"{where}.rule",
                    rule.get("rule"),
                    "oldSelf cannot be used on the uncorrelatable portion of the schema "
                    "within openAPIV3Schema",
                )
            )
        if "rule" in rule and not cel.check_compiles(str(rule["rule"])):
            cost = estimate_cost(str(rule["rule"]), schema)
            if cost > PER_RULE_LIMIT:
                causes.append(
                    {
                        "reason": "FieldValueForbidden",
                        "field": f"{where}.rule",
                        "message": f"{where}.rule: Forbidden: estimated rule cost exceeds budget "
                        f"by factor of {cost / PER_RULE_LIMIT:.6f}x (try simplifying the rule, "
                        "or adding maxItems, maxProperties, and maxLength where arrays, maps, "
                        "and strings are declared)",
                    }
                )
            total[0] += cost * times
    for key, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, dict):
            _check_node(sub, f"{path}.properties[{key}]", times, correlatable, causes, total)
    items = schema.get("items")
    if isinstance(items, dict):
        keeps = schema.get("x-kubernetes-list-type") in ("map", "set")
        _check_node(
            items,
            f"{path}.items",
            times * _cardinality(schema),
            correlatable and keeps,
            causes,
            total,
        )
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        _check_node(
            extra,
            f"{path}.additionalProperties",
            times * _cardinality(schema),
            correlatable,
            causes,
            total,
        )


def _invalid(field: str, value: Any, why: str) -> Cause:
    return {
        "reason": "FieldValueInvalid",
        "field": field,
        "message": f'{field}: Invalid value: "{value}": {why}',
    }


# ---- cost estimate -------------------------------------------------------------------------------


def estimate_cost(expression: str, schema: dict[str, Any]) -> float:
    tree = cel._compile(expression)
    return _cost(tree, {"self": schema, "oldSelf": schema})


def _resolve(node: Any, env: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The schema a member chain (``self.a.b``, ``p.items``) refers to, when it can be told."""
    if isinstance(node, Token):
        return env.get(str(node)) if node.type == "IDENT" else None
    if not isinstance(node, Tree):
        return None
    rule = str(node.data)
    if rule == "ident" and node.children:
        return _resolve(node.children[0], env)
    if rule in ("member", "primary", "expr", "conditionalor", "conditionaland", "relation",
                "addition", "multiplication", "unary") and len(node.children) == 1:  # fmt: skip
        return _resolve(node.children[0], env)
    if rule == "member_dot" and len(node.children) == 2:
        parent = _resolve(node.children[0], env)
        if parent is None:
            return None
        props = parent.get("properties") or {}
        extra = parent.get("additionalProperties")
        found = props.get(str(node.children[1]), extra if isinstance(extra, dict) else None)
        return found if isinstance(found, dict) else None
    if rule == "member_index" and node.children:
        parent = _resolve(node.children[0], env)
        if parent is None:
            return None
        inner = parent.get("items") or parent.get("additionalProperties")
        return inner if isinstance(inner, dict) else None
    return None


def _cost(node: Any, env: dict[str, dict[str, Any]]) -> float:
    if not isinstance(node, Tree):
        return 0.0
    if str(node.data) == "member_dot_arg" and len(node.children) == 3:
        target, method, args = node.children
        name = str(method)
        target_schema = _resolve(target, env)
        arguments = args.children if isinstance(args, Tree) else []
        if name in _MACROS and len(arguments) >= 2 and target_schema is not None:
            var = _resolve_name(arguments[0])
            items = target_schema.get("items") or target_schema.get("additionalProperties")
            inner_env = dict(env)
            if var and isinstance(items, dict):
                inner_env[var] = items
            body = sum(_cost(a, inner_env) for a in arguments[1:])
            return _cost(target, env) + _cardinality(target_schema) * (1.0 + body)
        if name in _STRING_FUNCTIONS and target_schema is not None:
            length = target_schema.get("maxLength", MAX_REQUEST_BYTES)
            return (
                _cost(target, env)
                + 1.0
                + 0.1 * float(length)
                + sum(_cost(a, env) for a in arguments)
            )
    return 1.0 + sum(_cost(child, env) for child in node.children)


def _resolve_name(node: Any) -> str | None:
    while isinstance(node, Tree) and len(node.children) == 1:
        node = node.children[0]
    if isinstance(node, Token) and node.type == "IDENT":
        return str(node)
    return None
