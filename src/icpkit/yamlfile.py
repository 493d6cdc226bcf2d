"""Strict YAML reading: one document, no repeated keys, a line for every key, no YAML 1.1 surprises.

PyYAML reads ``NO`` (Norway) as ``False`` and ``2024-01-01`` as a date, and lets a repeated
key silently win. Here the node tree is checked and retyped against a JSON Schema before it
is built, so a field that holds text gets the text that was written, and every key path
keeps the line it came from for error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from icpkit.errors import IcpkitError

Loc = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_RETYPED = {f"{_TAG}bool", f"{_TAG}int", f"{_TAG}float", f"{_TAG}timestamp"}
_KEY_RETYPED = _RETYPED | {f"{_TAG}null"}


class YamlProblem(IcpkitError):
    """The text is not one well-formed YAML document; the message names line and column."""


@dataclass
class Document:
    """Plain data read from YAML, with the (line, column) of every key path, 1-based."""

    data: Any
    marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def where(self, loc: Loc) -> tuple[int, int] | None:
        """The line and column of ``loc``, or of its nearest enclosing key that has one."""
        for end in range(len(loc), 0, -1):
            mark = self.marks.get(tuple(loc[:end]))
            if mark is not None:
                return mark
        return None


def key_path(loc: Loc) -> str:
    """A key path as people write it: ``scoring.routing.fit_low``, ``fit[0].values``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 50:
        schema = defs.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
        seen += 1
    return schema


def _is_text(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "string":
        return True
    choices: list[Any] = schema.get("enum") or ([schema["const"]] if "const" in schema else [])
    return bool(choices) and all(isinstance(c, str) for c in choices)


def _options(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-null alternatives of a schema, references resolved."""
    schema = _resolve(schema, defs)
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if not alternatives:
        return [schema]
    options = [_resolve(s, defs) for s in alternatives]
    return [s for s in options if s.get("type") != "null"]


def object_keys(schema: dict[str, Any], loc: Loc) -> list[str]:
    """The keys a JSON Schema allows in the mapping at ``loc`` (empty when it is not one)."""
    defs = schema.get("$defs", {})
    current: dict[str, Any] = schema
    for part in loc:
        following: dict[str, Any] = {}
        for option in _options(current, defs):
            if isinstance(part, str) and option.get("type") == "object":
                extra = option.get("additionalProperties")
                following = option.get("properties", {}).get(
                    part, extra if isinstance(extra, dict) else {}
                )
            elif isinstance(part, int) and option.get("type") == "array":
                prefix = option.get("prefixItems", [])
                following = prefix[part] if part < len(prefix) else option.get("items", {})
            if following:
                break
        current = following
    for option in _options(current, defs):
        if option.get("type") == "object":
            return list(option.get("properties", {}))
    return []


def _retype(node: yaml.Node, schema: dict[str, Any], defs: dict[str, Any], seen: set[int]) -> None:
    """Retag scalars the schema wants as text, so 'NO' and '2024-01-01' stay as written."""
    if id(node) in seen:
        return  # an alias: retyped where its anchor was
    seen.add(id(node))
    options = _options(schema, defs)
    if isinstance(node, yaml.ScalarNode):
        # A bare value where a list of text is expected stands for a list of one.
        texts = [_is_text(o) or _is_text(_resolve(o.get("items", {}), defs)) for o in options]
        if node.tag in _RETYPED and options and all(texts):
            node.tag = f"{_TAG}str"
        return
    if isinstance(node, yaml.MappingNode):
        objects = [o for o in options if o.get("type") == "object"]
        target = objects[0] if len(objects) == 1 else {}
        properties = target.get("properties", {})
        other = target.get("additionalProperties")
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag in _KEY_RETYPED:
                key.tag = f"{_TAG}str"  # keys are always text
            sub = properties.get(key.value, other if isinstance(other, dict) else {})
            _retype(value, sub, defs, seen)
    elif isinstance(node, yaml.SequenceNode):
        arrays = [o for o in options if o.get("type") == "array"]
        target = arrays[0] if len(arrays) == 1 else {}
        prefix = target.get("prefixItems", [])
        items = target.get("items", {})
        for i, child in enumerate(node.value):
            _retype(child, prefix[i] if i < len(prefix) else items, defs, seen)


def _walk(
    node: yaml.Node,
    loc: Loc,
    marks: dict[Loc, tuple[int, int]],
    dups: list[str],
    visited: set[int],
) -> None:
    """Record the mark of every key and item; note keys repeated in one mapping."""
    if id(node) in visited:
        return  # an alias, walked once where its anchor is (no exponential walk)
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == f"{_TAG}merge":
                continue
            name = key.value
            line = key.start_mark.line + 1
            if name in seen:
                where = f"in {key_path(loc)}" if loc else "at the top level"
                dups.append(
                    f"line {line}, column {key.start_mark.column + 1}: duplicate key {name!r}"
                    f" {where}, first given on line {seen[name]}; keep one of them"
                )
                continue
            seen[name] = line
            marks[(*loc, name)] = _mark(key)
            _walk(value, (*loc, name), marks, dups, visited)
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            marks[(*loc, i)] = _mark(child)
            _walk(child, (*loc, i), marks, dups, visited)


MAX_VALUES = 1_000_000


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many values the document holds once every alias is written out (memoized)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = 1  # a cycle counts once rather than forever
    size = 1
    if isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(v, memo) + 1 for _, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(v, memo) for v in node.value)
    memo[id(node)] = size
    return size


def _yaml_message(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = str(getattr(exc, "problem", None) or exc)
    if isinstance(exc, yaml.composer.ComposerError) and exc.context:
        problem = f"{exc.context} {problem}"  # 'expected a single document ... but found ...'
    if "'\\t'" in problem or "\\t" in problem:
        problem += " (a tab: YAML is indented with spaces only)"
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    return f"{where}not valid YAML: {problem}"


_TAGGED_AS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "timestamp": "a date",
}


def _mistagged(root: yaml.Node) -> str:
    """Where a value tagged ``!!int``, ``!!float``, ``!!bool`` or ``!!timestamp`` is not one:
    PyYAML fails on ``!!int ''`` or ``!!bool maybe`` with an IndexError or KeyError, no words."""
    constructor = yaml.constructor.SafeConstructor()
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode) and node.tag in _RETYPED:
            try:
                constructor.construct_object(node)
            except Exception:
                line, column = _mark(node)
                tag = node.tag.rsplit(":", 1)[-1]
                return (
                    f"line {line}, column {column}: not valid YAML: {node.value!r} is not "
                    f"{_TAGGED_AS[tag]} as its tag !!{tag} says"
                )
        elif isinstance(node, yaml.MappingNode):
            stack.extend(child for pair in reversed(node.value) for child in reversed(pair))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
    return "not valid YAML: a value is not of the type its tag names"


def _reader_message(exc: yaml.reader.ReaderError, text: str) -> str:
    """A character YAML does not allow (NUL, most control characters), by line and column;
    PyYAML's own words name a position in characters and a "<unicode string>"."""
    at = exc.position if isinstance(exc.character, int) else 0
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    what = f"the character U+{exc.character:04X}" if isinstance(exc.character, int) else "a byte"
    return (
        f"line {line}, column {column}: not valid YAML: {what} is not allowed in a YAML "
        "file; remove it"
    )


# libyaml's parser, where PyYAML was built with it, reads a settings file in a seventh of the
# time. PyYAML's own parser stays the reference: it reads again whatever libyaml refuses, so
# every message is as before, and it alone reads a text holding a character where the two
# were seen to differ (libyaml allows a tab in a plain value, '?' keys in a flow mapping and a
# comment after '|', and counts columns differently past a BOM or outside the BMP).
_FAST_LOADER: type[Any] | None = getattr(yaml, "CSafeLoader", None)
_PYYAML_ONLY = re.compile("[\t\ufeff?|>\U00010000-\U0010ffff]")


def parse_yaml(text: str, schema: dict[str, Any] | None = None) -> Document:
    """Read one YAML document strictly; raises YamlProblem naming line and column.

    With ``schema`` (a JSON Schema with ``$defs``), scalars where it expects text are kept
    as the text that was written (YAML 1.1 booleans, numbers and dates included).
    """
    if _FAST_LOADER is not None and not _PYYAML_ONLY.search(text):
        try:
            return _parse(text, schema, _FAST_LOADER)
        except YamlProblem:
            pass
    return _parse(text, schema, yaml.SafeLoader)


def _parse(text: str, schema: dict[str, Any] | None, loader_class: type[Any]) -> Document:
    loader = None
    try:
        loader = loader_class(text)  # reads the whole text: a NUL in it is a problem here
        node = loader.get_single_node()
        if node is None:
            return Document(None)
        if _expanded_size(node, {}) > MAX_VALUES:
            raise YamlProblem(
                f"not valid YAML here: its anchors and aliases expand to more than "
                f"{MAX_VALUES:,} values; write the values out"
            )
        marks: dict[Loc, tuple[int, int]] = {}
        dups: list[str] = []
        _walk(node, (), marks, dups, set())
        if dups:
            raise YamlProblem("\n".join(dups))
        if schema is not None:
            _retype(node, schema, schema.get("$defs", {}), set())
        try:
            data = loader.construct_document(node)
        except (IndexError, KeyError, AttributeError):
            raise YamlProblem(_mistagged(node)) from None
        return Document(data, marks)
    except yaml.reader.ReaderError as exc:
        raise YamlProblem(_reader_message(exc, text)) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(_yaml_message(exc)) from None
    except RecursionError:
        raise YamlProblem("not valid YAML: nested too deeply to read") from None
    except (ValueError, TypeError, OverflowError) as exc:
        # A value PyYAML resolves but cannot build, e.g. the date 2024-13-45.
        raise YamlProblem(f"not valid YAML: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
