"""Bounds on a manifest's shape, checked before anything walks it recursively.

A manifest is untrusted input. Without these, a 900-deep mapping ends in a ``RecursionError``
deep inside YAML or pydantic (a traceback from ``kubetune validate``, a stuck TuningJob in the
operator), and a few lines of YAML aliases ("billion laughs") expand into millions of nodes
for whoever walks the result. Both checks are iterative and linear in the input: YAML is
checked on the parser's flat event stream and on the composed node graph (each shared node
counted once per reference, memoized), a decoded manifest with an explicit stack.

The limits are far beyond any real TuningJob (a Pod spec nests about 15 levels; 50 parameters
of 1,000 categorical values are 50,000 nodes) and are documented in ``docs/limits.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from kubetune.api.errors import FieldError, SpecError

MAX_NESTING_DEPTH = 64  # mappings and sequences inside each other
MAX_YAML_NODES = 200_000  # scalars, mappings and sequences, aliases expanded
MAX_MANIFEST_BYTES = 3 * 1024 * 1024  # the Kubernetes API server's request body limit
# The spec is stored in the study journal as one entry (the spec in effect, for a restarted
# operator) and copied into every trial Job: it must fit a journal chunk and a Job with room
# to spare. A 1 MB argument used to wedge a study with one trial running.
MAX_SPEC_BYTES = 256 * 1024

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def nesting_error(manifest: object) -> FieldError | None:
    """The first place where ``manifest`` nests deeper than ``MAX_NESTING_DEPTH``, if any."""
    stack: list[tuple[object, str, int]] = [(manifest, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, Mapping):
            children: Iterator[tuple[str, object]] = (
                (f"{path}.{key}" if path else str(key), child) for key, child in value.items()
            )
        elif isinstance(value, list | tuple):
            children = ((f"{path}[{index}]", child) for index, child in enumerate(value))
        else:
            continue
        if depth >= MAX_NESTING_DEPTH:
            return FieldError(path, f"nested more than {MAX_NESTING_DEPTH} levels deep")
        stack.extend((child, child_path, depth + 1) for child_path, child in children)
    return None


def size_error(manifest: Mapping[str, Any]) -> FieldError | None:
    """Whether the spec, as JSON, is larger than ``MAX_SPEC_BYTES``."""
    size = len(json.dumps(manifest.get("spec"), default=str, ensure_ascii=False).encode())
    if size <= MAX_SPEC_BYTES:
        return None
    return FieldError("spec", f"is {size:,} bytes as JSON; at most {MAX_SPEC_BYTES:,} allowed")


def load_bounded_yaml(text: str, source: str) -> list[Any]:
    """Every non-empty document of ``text``, refusing input past the limits with a SpecError."""
    if len(text) > MAX_MANIFEST_BYTES:  # characters: at least as many bytes
        raise _problem(f"larger than {MAX_MANIFEST_BYTES // (1024 * 1024)} MiB", source)
    _check_events(text, source)
    loader = _SafeLoader(text)
    try:
        documents = []
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            _check_expansion(node, source)
            documents.append(loader.construct_document(node))
        return [document for document in documents if document is not None]
    finally:
        loader.dispose()


def _check_events(text: str, source: str) -> None:
    """Depth on the parser's events: composing a deeper document would itself recurse."""
    depth = 0
    for event in yaml.parse(text, Loader=_SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else "?"
                message = f"nested more than {MAX_NESTING_DEPTH} levels deep (line {line})"
                raise _problem(message, source)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_expansion(root: yaml.Node, source: str) -> None:
    """How many nodes the document has once every alias is expanded, memoized per node."""
    expanded: dict[int, int] = {}
    open_nodes: set[int] = set()  # entered, children not counted yet
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in expanded:
            continue
        if not children_done and id(node) in open_nodes:
            raise _problem("a YAML alias refers to a node that contains it", source)
        children = _children(node)
        if children_done or not children:
            open_nodes.discard(id(node))
            expanded[id(node)] = 1 + sum(expanded[id(child)] for child in children)
            if expanded[id(node)] > MAX_YAML_NODES:
                raise _problem(
                    f"more than {MAX_YAML_NODES:,} values once YAML aliases are expanded", source
                )
            continue
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in expanded)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _problem(message: str, source: str) -> SpecError:
    return SpecError([FieldError("", f"not accepted: {message}")], source)
