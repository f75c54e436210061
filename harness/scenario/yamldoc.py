"""Reading a YAML document as data: PyYAML's safe loader, with the refusals a file from
the internet needs before anything is built from it.

A key given twice, a document that aliases make huge (or endless), a mapping key
YAML reads as something else than text, and text holding control characters are
each refused with where they are; harness/scenario/load.py turns that into one line
naming the file and the field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from harness.scenario.limits import MAX_YAML_NODES


def field_key(key: object, before: str) -> str:
    """`.eth0`, or `['net.ipv4.ip_forward']` for a key that holds a dot or a slash."""
    if isinstance(key, str) and re.fullmatch(r"[\w-]+", key):
        return f".{key}" if before else key
    return f"[{str(key)!r}]"


class DuplicateKey(Exception):
    """A mapping gives one key twice."""

    def __init__(self, key: object, first: int, second: int) -> None:
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


# libyaml's parser when PyYAML has it: the pure-Python one made up most of
# collection time (1.4 s for the catalogue, once per xdist worker).
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class TooLarge(Exception):
    """The document, its aliases expanded, is larger than a scenario may be (or endless)."""


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """How many nodes the document has with every alias expanded, counted on the node
    graph without expanding it (each node once); more than `limit` stops the count.
    A node that holds itself (`&a [*a]`) is TooLarge: expanded, it has no end."""
    size: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        if children_done:
            open_nodes.discard(key)
            size[key] = min(1 + sum(size[id(child)] for child in children), limit + 1)
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise TooLarge(
                f"line {node.start_mark.line + 1}: a YAML alias refers to a node that holds "
                "it, which has no end when expanded"
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack += [(child, False) for child in reversed(children)]
    return size[id(root)]


class UniqueKeyLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """The safe loader, refusing a key given twice in one mapping: YAML keeps the last one
    without a word, so a second `eth0:` or `routes:` would silently replace the first.

    It also refuses a document that aliases make larger than limits.MAX_YAML_NODES,
    before building anything from it, and keeps a key's text as written where YAML
    reads it as another type (`10:`, `yes:`), for the message that refuses it.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.written: dict[tuple[type, object], str] = {}

    def construct_document(self, node: yaml.Node) -> Any:
        nodes = _expanded_size(node, MAX_YAML_NODES)
        if nodes > MAX_YAML_NODES:
            raise TooLarge(
                f"more than {MAX_YAML_NODES} YAML nodes once its aliases are expanded: "
                "not a scenario (the catalogue's largest has about 400)"
            )
        return super().construct_document(node)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int | str:
        """An integer; one too long for Python to read (over 4300 digits) stays text, which
        the field's own check then refuses with the field's name."""
        try:
            number: int = super().construct_yaml_int(node)
        except ValueError:
            return str(node.value)
        return number

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults` then overriding a key is what merging is for
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if not isinstance(key, str):
                    self.written.setdefault((type(key), key), str(key_node.value))
                if key in seen:
                    raise DuplicateKey(key, seen[key], line)
                seen[key] = line
            except TypeError:
                continue  # an unhashable key: the constructor refuses it with its own words
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", UniqueKeyLoader.construct_yaml_int)

# Characters that would act on a terminal or rewrite a line when a claim, a title or
# a name is printed: C0 controls but tab and newline, DEL, C1 controls, and Unicode's
# line separators and bidirectional overrides.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_YAML_TYPES = {bool: "a boolean", int: "a number", float: "a number", type(None): "null"}


def text_problem(doc: Any, written: dict[tuple[type, object], str]) -> tuple[str, str] | None:
    """(field, problem) of the first text holding a control character, or the first
    mapping key YAML reads as something else than text; None when there is none.

    Walks the document in file order, each list or mapping once (aliases share them).
    """
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, str):
            bad = _CONTROL.search(node)
            if bad:
                return where, (
                    f"holds the control character {bad[0]!r} at position {bad.start()}: "
                    "text is printed to terminals and reports as it is"
                )
            continue
        if not isinstance(node, (dict, list)) or id(node) in seen:
            continue
        seen.add(id(node))
        items: list[tuple[str, Any]] = []
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    text = written.get((type(key), key), str(key))
                    kind = _YAML_TYPES.get(type(key), f"a {type(key).__name__}")
                    return where + field_key(text, where), (
                        f"the key {text} is read by YAML as {kind} ({key!r}), and a name is "
                        f"text: write it in quotes, '{text}'"
                    )
                items += [
                    (where + field_key(key, where), key),
                    (where + field_key(key, where), value),
                ]
        else:
            for n, item in enumerate(node):
                named = f"({item['id']})" if isinstance(item, dict) and "id" in item else ""
                items.append((f"{where}[{n}]{named}", item))
        stack += reversed(items)
    return None


def node_at(text: str, where: Sequence[str | int]) -> tuple[yaml.Node, int, bool] | None:
    """The node of the YAML document `text` at `where` (mapping keys and list positions),
    the line it is written on (a mapping entry's: its key's), and whether it is that
    node itself (True) or the deepest one of the way there that the document has
    (False: a field left to its default); None when `text` is no YAML.  Composed, not
    constructed: only the node graph, each node once."""
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in where:
        child: tuple[yaml.Node, yaml.Node] | None = None
        if isinstance(node, yaml.MappingNode):
            child = next(
                (
                    (key, value)
                    for key, value in node.value
                    if isinstance(key, yaml.ScalarNode) and key.value == str(part)
                ),
                None,
            )
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = (node.value[part], node.value[part])
        if child is None:
            return node, line, False
        line, node = child[0].start_mark.line + 1, child[1]
    return node, line, True
