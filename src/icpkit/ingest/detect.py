"""Recognizing an export with no configuration: what it holds, which CRM wrote it, which
column is which field, and how sure we are.

Detection explains itself (a :class:`Layout` lists every choice with its confidence)
and refuses to guess when two columns compete for one field at the same rank.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from icpkit.config import MappingRule
from icpkit.ingest.fields import (
    ENTITY_MARKERS,
    FIELDS,
    REQUIRED,
    SYSTEM_MARKERS,
    FieldSpec,
    header_key,
)
from icpkit.ingest.problems import IngestError, Problem

IGNORE = "ignore"
_RANK_PENALTY = 0.05
_PARTIAL_SCORE = 0.6

# Sample of a column's values -> share of them the field's normalizer reads.
ValueCheck = Callable[[FieldSpec, Sequence[str]], float]


@dataclass(frozen=True)
class ColumnChoice:
    """One source column chosen for a canonical field, and why."""

    field: str
    column: str
    confidence: float
    how: str  # "manual", "exact", "partial"
    parse_rate: float | None = None
    alternatives: tuple[str, ...] = ()


@dataclass
class Layout:
    """What a file holds and how its columns map to canonical fields."""

    entity: str
    system: str
    system_confidence: float
    choices: dict[str, ColumnChoice]
    unmapped: list[str]
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        """The weakest mapped field's confidence: detection is as sure as its least sure part."""
        return min((c.confidence for c in self.choices.values()), default=0.0)

    def column_of(self, name: str) -> str | None:
        """Source column mapped to the canonical field ``name``, if any."""
        choice = self.choices.get(name)
        return choice.column if choice else None


def _words(text: str) -> tuple[str, ...]:
    return tuple(w for w in re.split(r"[^0-9a-z]+", text.casefold()) if w)


def _rank_of(spec: FieldSpec, column: str) -> int | None:
    key = header_key(column)
    for rank, names in enumerate(spec.synonyms):
        if any(header_key(n) == key for n in names):
            return rank
    return None


def _partial(spec: FieldSpec, column: str) -> bool:
    """The column's words contain every word of a synonym ('Deal Amount (USD)' ~ 'Amount')."""
    words = _words(column)
    for names in spec.synonyms:
        for name in names:
            syn = _words(name)
            if len(syn) >= 1 and len(syn) < len(words) and _contains(words, syn):
                return True
    return False


def _contains(words: tuple[str, ...], part: tuple[str, ...]) -> bool:
    n = len(part)
    return any(words[i : i + n] == part for i in range(len(words) - n + 1))


def _rule_for(file_name: str, rules: Sequence[MappingRule]) -> MappingRule | None:
    return next((r for r in rules if fnmatch.fnmatch(file_name, r.files)), None)


def detect_entity(header: Sequence[str], forced: str | None = None) -> str:
    """Deals, companies or signals, from which canonical fields the header names exactly."""
    if forced:
        return forced
    found: dict[str, set[str]] = {}
    for entity, specs in FIELDS.items():
        found[entity] = {s.name for s in specs for col in header if _rank_of(s, col) is not None}
    if {"signal_type", "observed_at"} <= found["signals"]:
        return "signals"
    if found["deals"] & {"stage", "status", "won"}:
        return "deals"
    people = {"first_name", "last_name", "full_name", "contact_email", "job_title"}
    if len(found["contacts"] & people) >= 2:
        return "contacts"
    scores = {e: len(found[e] & ENTITY_MARKERS[e]) for e in FIELDS}
    return max(scores, key=lambda e: (scores[e], e == "companies"))


def detect_system(header: Sequence[str]) -> tuple[str, float]:
    """Which CRM wrote the header, with the share of that CRM's marker columns seen."""
    keys = {header_key(h) for h in header}
    best, best_hits = "generic", 0
    for system, markers in SYSTEM_MARKERS.items():
        hits = len(keys & markers)
        if hits > best_hits:
            best, best_hits = system, hits
    if best_hits < 2:
        return "generic", 1.0
    return best, round(min(1.0, best_hits / 4), 2)


def detect_layout(
    file_name: str,
    header: Sequence[str],
    samples: dict[str, list[str]],
    rules: Sequence[MappingRule] = (),
    check: ValueCheck | None = None,
) -> Layout:
    """Map ``header`` to canonical fields; raise :class:`IngestError` on an unsettled conflict.

    ``samples`` holds a few non-blank values per column; ``check`` scores how many of
    them a field's normalizer reads, so a column named right but holding the wrong
    thing shows a low confidence instead of passing silently.
    """
    rule = _rule_for(file_name, rules)
    entity = detect_entity(header, rule.entity if rule else None)
    system, system_conf = detect_system(header)
    specs = {s.name: s for s in FIELDS[entity]}
    choices: dict[str, ColumnChoice] = {}
    ignored: list[str] = []
    taken: set[str] = set()

    if rule:
        for column, target in rule.columns.items():
            if column not in header:
                raise IngestError(
                    Problem(
                        file_name,
                        f"icp.yaml maps column {column!r}, which is not in the file "
                        f"(columns: {', '.join(header)})",
                        "file",
                    )
                )
            if target == IGNORE:
                ignored.append(column)
            elif target not in specs:
                raise IngestError(
                    Problem(
                        file_name,
                        f"icp.yaml maps column {column!r} to {target!r}, which is not a "
                        f"{entity} field (allowed: {', '.join(specs)}, or 'ignore')",
                        "file",
                    )
                )
            else:
                choices[target] = ColumnChoice(target, column, 1.0, "manual")
            taken.add(column)

    notes: list[str] = []
    exact_columns = {c for c in header for s in specs.values() if _rank_of(s, c) is not None}
    # Candidates per field: (score, column, how).
    for name, spec in specs.items():
        if name in choices:
            continue
        ranked: list[tuple[float, str, str]] = []
        for column in header:
            if column in taken:
                continue
            rank = _rank_of(spec, column)
            if rank is not None:
                ranked.append((1.0 - _RANK_PENALTY * rank, column, "exact"))
        if not ranked:
            # A weak guess: only columns no field names exactly, and only a single candidate.
            partial = [
                (_PARTIAL_SCORE, c, "partial")
                for c in header
                if c not in taken and c not in exact_columns and _partial(spec, c)
            ]
            if len(partial) > 1:
                notes.append(
                    f"{name}: columns {', '.join(repr(p[1]) for p in partial)} all partly "
                    "match; none was mapped (map one in icp.yaml if it matters)"
                )
                continue
            ranked = partial
        if not ranked:
            continue
        ranked.sort(key=lambda t: -t[0])
        top = [t for t in ranked if t[0] == ranked[0][0]]
        if len(top) > 1:
            cols = " and ".join(repr(t[1]) for t in top)
            raise IngestError(
                Problem(
                    file_name,
                    f"columns {cols} both look like {name!r}; say which one in icp.yaml, "
                    f"e.g. ingest.mapping: [{{files: {file_name!r}, columns: "
                    f"{{{top[0][1]!r}: {name}, {top[1][1]!r}: ignore}}}}]",
                    "file",
                )
            )
        score, column, how = ranked[0]
        alternatives = tuple(t[1] for t in ranked[1:])
        choices[name] = ColumnChoice(name, column, score, how, alternatives=alternatives)

    # A column claimed by several fields goes to the one it matches best.
    by_column: dict[str, list[ColumnChoice]] = {}
    for choice in choices.values():
        by_column.setdefault(choice.column, []).append(choice)
    for claims in by_column.values():
        if len(claims) > 1:
            claims.sort(key=lambda c: (-c.confidence, list(specs).index(c.field)))
            for loser in claims[1:]:
                del choices[loser.field]

    if check is not None:
        for name, choice in list(choices.items()):
            values = samples.get(choice.column, [])
            if not values or choice.how == "manual":
                continue
            rate = check(specs[name], values)
            choices[name] = ColumnChoice(
                name,
                choice.column,
                round(choice.confidence * (0.5 + 0.5 * rate), 2),
                choice.how,
                parse_rate=round(rate, 2),
                alternatives=choice.alternatives,
            )

    mapped = {c.column for c in choices.values()}
    unmapped = [c for c in header if c not in mapped and c not in ignored]
    layout = Layout(entity, system, system_conf, choices, unmapped, ignored, notes)

    for group in REQUIRED[entity]:
        if not group & choices.keys():
            wanted = " or ".join(f"{g} (e.g. {specs[g].synonyms[0][0]!r})" for g in sorted(group))
            raise IngestError(
                Problem(
                    file_name,
                    f"missing a required column for {entity}: {wanted}; columns found: "
                    f"{', '.join(header)}. Map one in icp.yaml under ingest.mapping",
                    "file",
                )
            )
    return layout
