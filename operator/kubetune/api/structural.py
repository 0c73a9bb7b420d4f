"""JSON Schema (as pydantic writes it) to a Kubernetes *structural* openAPIV3Schema.

Generic: nothing here knows the TuningJob. ``kubetune.api.crd`` feeds it the TuningJob models and
the hints (``SchemaHints``) a structural schema needs beyond what JSON Schema says.

* ``$ref``/``$defs`` are inlined; ``anyOf: [X, null]`` becomes X with ``nullable: true``.
* Draft 2020 numeric ``exclusiveMinimum: 0`` becomes OpenAPI v3.0 ``minimum: 0`` plus
  ``exclusiveMinimum: true`` (likewise for maximum).
* ``additionalProperties: false`` is not allowed in structural schemas: the API server *prunes*
  unknown fields instead of rejecting them, so it is dropped. The API server then stores the
  object without the typo, unless the client asks for strict field validation (recent
  ``kubectl apply`` does by default, and fails); ``kubetune validate`` rejects it too.
* ``additionalProperties: true`` (``dict[str, Any]``) becomes
  ``x-kubernetes-preserve-unknown-fields: true``.
* ``default`` is kept where it equals the model's default and is harmless when the API server
  fills it in (it does so server-side, so objects read back carry it).

Every node must have a description (it is what ``kubectl explain`` shows) and a type; anything
without a structural form raises ``CRDGenerationError`` naming the field's path. Paths read like
``spec.parameters[].values[]`` (``[]`` an item of a list, ``{}`` a value of a map).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]


class CRDGenerationError(ValueError):
    """The models use a construct this generator cannot turn into a structural schema."""


@dataclass(frozen=True)
class SchemaHints:
    """What a structural schema needs that JSON Schema does not say, by field path."""

    descriptions: Mapping[str, str] = field(default_factory=dict)
    """Descriptions of nodes whose model has none."""
    list_map_keys: Mapping[str, str] = field(default_factory=dict)
    """Lists whose items are identified by a key (``x-kubernetes-list-type: map``)."""
    list_sets: frozenset[str] = frozenset()
    """Lists of unique scalars (``x-kubernetes-list-type: set``)."""
    item_overrides: Mapping[str, Schema] = field(default_factory=dict)
    """Schemas used as they are, for nodes JSON Schema types in a way no structural form has."""
    no_server_default: frozenset[str] = frozenset()
    """Fields whose model default must not become a server-side default."""

    @property
    def paths(self) -> set[str]:
        """Every path a hint names (a renamed field must not silently lose its hint)."""
        return {
            *self.list_map_keys,
            *self.list_sets,
            *self.item_overrides,
            *self.no_server_default,
        }


# Keywords of pydantic's JSON Schema that carry no meaning for the CRD.
_IGNORED = frozenset({"title"})
# Keywords copied as they are, in this order (after description and type).
_COPIED = (
    "format",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
)
_EXCLUSIVE = {"minimum": "exclusiveMinimum", "maximum": "exclusiveMaximum"}
_HANDLED = frozenset(
    {
        *_COPIED,
        *_EXCLUSIVE.values(),
        "description",
        "type",
        "items",
        "properties",
        "required",
        "additionalProperties",
        "default",
        "const",
    }
)


class _Converter:
    def __init__(self, defs: Mapping[str, Schema], hints: SchemaHints) -> None:
        self.defs = defs
        self.hints = hints
        self.paths: set[str] = set()

    def resolve(self, node: Schema) -> Schema:
        """Inline a ``$ref``; keywords next to it (the field's description) win."""
        while "$ref" in node:
            ref = node["$ref"]
            prefix = "#/$defs/"
            if not ref.startswith(prefix):
                raise CRDGenerationError(f"unsupported $ref {ref!r}")
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**self.defs[ref.removeprefix(prefix)], **siblings}
        return node

    def convert(self, node: Schema, path: str) -> Schema:
        self.paths.add(path)
        node = self.resolve(node)
        if "anyOf" in node:
            return self._union(node, path)
        unknown = set(node) - _HANDLED - _IGNORED
        if unknown:
            raise CRDGenerationError(f"{path}: no structural form for {sorted(unknown)}")
        description = node.get("description") or self.hints.descriptions.get(path)
        if not description:
            raise CRDGenerationError(f"{path}: no description (add one to the model field)")
        kind = node.get("type")
        if kind is None:
            raise CRDGenerationError(f"{path}: untyped node (add an override)")
        result: Schema = {"description": description.strip(), "type": kind}
        if "const" in node:
            result["enum"] = [node["const"]]
        for key in _COPIED:
            if key in node:
                result[key] = node[key]
            exclusive = _EXCLUSIVE.get(key)
            if exclusive in node:
                # JSON Schema 2020-12 number -> OpenAPI v3.0 boolean next to minimum/maximum.
                if key in node:
                    raise CRDGenerationError(f"{path}: both {key} and {exclusive}")
                result[key] = node[exclusive]
                result[exclusive] = True
        if kind == "array":
            result["items"] = self._items(node["items"], f"{path}[]")
            if path in self.hints.list_map_keys:
                result["x-kubernetes-list-type"] = "map"
                result["x-kubernetes-list-map-keys"] = [self.hints.list_map_keys[path]]
            elif path in self.hints.list_sets:
                result["x-kubernetes-list-type"] = "set"
        if kind == "object":
            self._object(node, path, result)
        default = node.get("default")
        if default is not None and path not in self.hints.no_server_default:
            if isinstance(default, dict | list):
                raise CRDGenerationError(f"{path}: only scalar defaults are supported")
            result["default"] = default
        return result

    def _union(self, node: Schema, path: str) -> Schema:
        options = [option for option in node["anyOf"] if option.get("type") != "null"]
        if len(options) != 1:
            raise CRDGenerationError(f"{path}: a union of types has no structural form")
        outer = {k: v for k, v in node.items() if k != "anyOf"}
        result = self.convert({**self.resolve(options[0]), **outer}, path)
        if len(options) < len(node["anyOf"]):
            result["nullable"] = True
        return result

    def _items(self, node: Schema, path: str) -> Schema:
        if path in self.hints.item_overrides:
            self.paths.add(path)
            return copy.deepcopy(dict(self.hints.item_overrides[path]))
        node = self.resolve(node)
        if "description" not in node and path not in self.hints.descriptions:
            # Items of a list of scalars: the list's own description says what they are.
            item = self.convert({**node, "description": "An item of the list."}, path)
            del item["description"]
            return item
        return self.convert(node, path)

    def _object(self, node: Schema, path: str, result: Schema) -> None:
        properties = node.get("properties")
        extra = node.get("additionalProperties")
        if properties:
            result["properties"] = {
                name: self.convert(child, f"{path}.{name}") for name, child in properties.items()
            }
            if node.get("required"):
                result["required"] = list(node["required"])
        if isinstance(extra, dict):
            if properties:
                raise CRDGenerationError(f"{path}: properties and additionalProperties together")
            value = self.convert({"description": "A value.", **extra}, f"{path}{{}}")
            del value["description"]
            result["additionalProperties"] = value
        elif extra is True or (not properties and extra is None):
            result["x-kubernetes-preserve-unknown-fields"] = True
        # additionalProperties: false -> nothing: unknown fields are pruned by the API server.


def model_schema(
    model: Any, path: str, hints: SchemaHints | None = None
) -> tuple[Schema, set[str]]:
    """The structural schema of the pydantic ``model`` at ``path``, and every path it contains."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    converter = _Converter(raw.pop("$defs", {}), hints or SchemaHints())
    return converter.convert(raw, path), converter.paths


def strip_defaults(schema: Schema) -> None:
    """Remove every ``default`` from ``schema`` and the objects below it."""
    schema.pop("default", None)
    for child in schema.get("properties", {}).values():
        strip_defaults(child)
