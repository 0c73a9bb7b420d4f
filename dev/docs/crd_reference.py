"""docs/reference/tuningjob.md: every field of the TuningJob, from the CRD's own descriptions.

Reads the committed CRD (``crds/``), the single source of truth the operator's models generate,
so the reference says exactly what ``kubectl explain`` says on a cluster. One section per object
(``spec.limits``, ``spec.parameters[]``, ...), one table row per field.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dev.docs.markdown import cell, code, slug, table

Schema = dict[str, Any]

SOURCE = Path("crds/tuningjobs.kubetune.io.yaml")


@dataclass(frozen=True)
class Section:
    """An object of the schema and where it sits (``spec.limits``, ``spec.parameters[]``)."""

    path: str
    schema: Schema

    @property
    def heading(self) -> str:
        return f"`{self.path}`"


def load_crd(root: Path) -> Schema:
    crd: Schema = yaml.safe_load((root / SOURCE).read_text(encoding="utf-8"))
    return crd


def _object_of(schema: Schema) -> Schema | None:
    """The object schema a field leads to (itself, or its array's items), if it has fields."""
    if schema.get("type") == "array":
        schema = schema.get("items", {})
    return schema if schema.get("properties") else None


def _child_path(path: str, name: str, schema: Schema) -> str:
    return f"{path}.{name}" + ("[]" if schema.get("type") == "array" else "")


def sections(schema: Schema, path: str) -> Iterator[Section]:
    """Depth first, in the schema's own order: an object, then the objects below it."""
    yield Section(path, schema)
    for name, child in schema.get("properties", {}).items():
        nested = _object_of(child)
        if nested is not None:
            yield from sections(nested, _child_path(path, name, child))


def _type(schema: Schema, link: str | None) -> str:
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items", {})
        inner = _type(items, link) if items else "any"
        return f"array of {inner}"
    if link is not None:
        return f"[object]({link})"
    if kind == "object" and "additionalProperties" in schema:
        return f"map of {schema['additionalProperties'].get('type', 'any')}"
    if kind is None and schema.get("x-kubernetes-preserve-unknown-fields"):
        return "any"
    return str(kind)


def _constraints(schema: Schema) -> list[str]:
    rules: list[str] = []
    if "enum" in schema:
        rules.append("one of " + ", ".join(code(str(value)) for value in schema["enum"]))
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None:
        rules.append(("> " if schema.get("exclusiveMinimum") else ">= ") + _number(low))
    if high is not None:
        rules.append(("< " if schema.get("exclusiveMaximum") else "<= ") + _number(high))
    for key, words in (
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("minItems", "at least {} item(s)"),
        ("maxItems", "at most {} items"),
    ):
        if key in schema:
            rules.append(words.format(schema[key]))
    if "pattern" in schema:
        rules.append("matches " + code(schema["pattern"]))
    if schema.get("x-kubernetes-list-map-keys"):
        keys = ", ".join(schema["x-kubernetes-list-map-keys"])
        rules.append(f"unique by {keys}")
    if schema.get("x-kubernetes-preserve-unknown-fields") and schema.get("properties"):
        rules.append("other fields passed on unchanged")
    return rules


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _default(schema: Schema, required: bool) -> str:
    if required:
        return "required"
    if "default" in schema:
        value = schema["default"]
        shown = str(value).lower() if isinstance(value, bool) else _number_or_text(value)
        return code(shown)
    return ""


def _number_or_text(value: Any) -> str:
    if isinstance(value, int | float):
        return _number(value)
    return str(value)


def _rows(section: Section) -> Iterator[list[str]]:
    required = set(section.schema.get("required", []))
    for name, field in section.schema.get("properties", {}).items():
        nested = _object_of(field)
        link = "#" + slug(f"`{_child_path(section.path, name, field)}`") if nested else None
        description = " ".join(field.get("description", "").split())
        if not description and field.get("type") == "array":
            description = " ".join(field.get("items", {}).get("description", "").split())
        rules = _constraints(field) + _constraints(field.get("items", {}))
        if rules:  # what the API server itself enforces, apart from the prose
            description += " Schema: " + "; ".join(rules) + "."
        yield [
            code(name),
            _type(field, link),
            _default(field, name in required),
            cell(description.strip()),
        ]


def _render_section(section: Section) -> list[str]:
    lines = [f"## {section.heading}", ""]
    description = " ".join(section.schema.get("description", "").split())
    if description:
        lines += [description, ""]
    lines += table(["field", "type", "default", "description"], _rows(section))
    return [*lines, ""]


def render(root: Path) -> str:
    crd = load_crd(root)
    (version,) = crd["spec"]["versions"]
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    schema = version["schema"]["openAPIV3Schema"]["properties"]
    lines = [
        f"<!-- Generated by `python -m dev.docs` from {SOURCE}; do not edit. -->",
        "",
        f"# {kind} `{group}/{version['name']}` reference",
        "",
        f"Every field of a {kind}, from the descriptions in the CRD "
        f"([`{SOURCE.name}`](../../{SOURCE})), the same text `kubectl explain "
        f"{crd['spec']['names']['singular']}.spec` prints on a cluster. The schema checks "
        "types, enums and bounds when the object is applied; rules across fields are checked by "
        "the operator and `kubetune validate` (an `InvalidSpec` condition naming the field). "
        "A guide with a complete example: [the TuningJob](../tuningjob.md).",
        "",
    ]
    all_sections = [*sections(schema["spec"], "spec"), *sections(schema["status"], "status")]
    lines += ["Sections:", ""]
    lines += [f"* [{s.heading}](#{slug(s.heading)})" for s in all_sections]
    lines.append("")
    for section in all_sections:
        lines += _render_section(section)
    return "\n".join(lines).rstrip("\n") + "\n"
