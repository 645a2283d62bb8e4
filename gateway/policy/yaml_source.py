"""YAML parsing that keeps the node tree, so any problem can be pointed at a line, and rejects duplicate keys.

PyYAML silently keeps the last of two identical keys; in a policy file that hides a whole task, so it is an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from gateway.policy.errors import PolicyError, Problem, render_path

MERGE_KEY = "<<"


@dataclass(frozen=True)
class YamlSource:
    data: Any
    root: yaml.Node | None

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """1-based line of the deepest node along `loc` (the parent's line when the key itself is missing)."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in loc:
            child = _child(node, part)
            if child is None:
                break
            key_node, node = child
            line = key_node.start_mark.line + 1
        return line


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """(node that names the child, child node); for mappings the key's node, since that is where people look."""
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                return key_node, value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item: yaml.Node = node.value[part]
        return item, item
    return None


def _duplicate_keys(node: yaml.Node, loc: tuple[str | int, ...], seen: set[int]) -> Iterator[Problem]:
    if id(node) in seen:  # anchors make the tree a graph; each node is checked once
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key != MERGE_KEY:
                if key in keys:
                    path = render_path((*loc, key))
                    yield Problem(path, "duplicate key (an earlier entry would be silently replaced)",
                                  key_node.start_mark.line + 1)
                keys.add(key)
            yield from _duplicate_keys(value_node, (*loc, key if key is not None else "?"), seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, index), seen)


def parse_yaml(text: str, source: str) -> YamlSource:
    """Parse one YAML document; syntax errors and duplicate keys become a PolicyError with line and column."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return YamlSource(None, None)
        problems = list(_duplicate_keys(root, (), set()))
        if problems:
            raise PolicyError(source, problems)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        message = ": ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        raise PolicyError.single(source, where, f"invalid YAML: {message}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError.single(source, "", f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return YamlSource(data, root)
