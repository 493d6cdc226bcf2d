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
from functools import cache, lru_cache

from icpkit.config import MappingRule
from icpkit.ingest.fields import (
    FIELDS,
    REQUIRED,
    SYSTEM_EXACT,
    SYSTEM_MARKERS,
    FieldSpec,
    formats,
    header_key,
    status_outcome,
)
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank
from icpkit.ingest.normalize.booleans import parse_bool
from icpkit.ingest.problems import IngestError, Problem
from icpkit.ingest.propose import (
    KnownAccounts,
    Proposal,
    mapping_line,
    propose_identity,
    propose_link,
    propose_outcome,
    stage_reading,
)

IGNORE = "ignore"
_RANK_PENALTY = 0.05
_PARTIAL_SCORE = 0.6
# Below this entity confidence a file is not merged without --force or a mapping.
SURE = 0.75
# Names that say little about what a file holds ('Name' of a product, 'Status' of a company).
_GENERIC = frozenset(
    {"name", "title", "status", "stage", "outcome", "result", "customer", "client"}
)
_COMPANY_ATTRIBUTES = (
    "employees",
    "revenue",
    "industry",
    "country",
    "city",
    "founded_year",
    "technologies",
    "total_funding",
    "funding_stage",
    "lifecycle_stage",
    "churned",
    "churn_date",
    "nps",
    "product_usage",
)
# Fields that tie a record to its account, per entity.
LINK_FIELDS = {
    "deals": ("company_source_id", "company_name", "company_domain", "company_email"),
    "contacts": ("company_source_id", "company_name", "company_domain", "contact_email"),
    "signals": ("company_domain", "company_name", "company_email"),
}

# Sample of a column's values -> share of them the field's normalizer reads.
ValueCheck = Callable[[FieldSpec, Sequence[str]], float]

SAMPLE_SIZE = 200
"""Non-blank values per column that detection weighs, from the first records."""
SAMPLE_ROWS = SAMPLE_SIZE * 5
"""Records read for the samples: a sparse column still shows some values."""


def column_samples(
    header: Sequence[str], rows: Sequence[Sequence[str | None]]
) -> dict[str, list[str]]:
    """Each named column's first :data:`SAMPLE_SIZE` non-blank values among ``rows`` (a
    file's rows may hold more cells than its header names)."""
    columns = list(zip(*rows, strict=True))
    return {
        name: [v for v in (columns[i] if i < len(columns) else ()) if v and v.strip()][:SAMPLE_SIZE]
        for i, name in enumerate(header)
    }


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
    entity_confidence: float = 1.0
    entity_reason: str = ""
    # Set when the file is not merged: what it looked like, why unsure, and the fix.
    skip_reason: str | None = None
    # Said loudly in the dry run and the ingest (a deals file linking to no account).
    warnings: list[str] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        """The weakest mapped field's confidence: detection is as sure as its least sure part."""
        return min((c.confidence for c in self.choices.values()), default=0.0)

    def column_of(self, name: str) -> str | None:
        """Source column mapped to the canonical field ``name``, if any."""
        choice = self.choices.get(name)
        return choice.column if choice else None


@lru_cache(maxsize=1 << 16)
def _words(text: str) -> tuple[str, ...]:
    return tuple(w for w in _NOT_WORD.split(text.casefold()) if w)


_NOT_WORD = re.compile(r"[^0-9a-z]+")


@cache
def _ranks(spec: FieldSpec) -> dict[str, int]:
    """Each synonym's key and its (best) rank for ``spec``, computed once per field."""
    ranks: dict[str, int] = {}
    for rank, names in enumerate(spec.synonyms):
        for name in names:
            ranks.setdefault(header_key(name), rank)
    return ranks


@cache
def _synonyms_by_first_word(spec: FieldSpec) -> dict[str, list[tuple[str, ...]]]:
    """Each synonym of ``spec`` as its words, filed under its first word; once per field."""
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for names in spec.synonyms:
        for name in names:
            if syn := _words(name):
                by_first.setdefault(syn[0], []).append(syn)
    return by_first


def _partial(spec: FieldSpec, column: str) -> bool:
    """The column's words contain every word of a synonym ('Deal Amount (USD)' ~ 'Amount')."""
    words = _words(column)
    by_first = _synonyms_by_first_word(spec)
    return any(
        len(syn) < len(words) and words[i : i + len(syn)] == syn
        for i, word in enumerate(words)
        for syn in by_first.get(word, ())
    )


def _rule_for(file_name: str, rules: Sequence[MappingRule]) -> MappingRule | None:
    return next((r for r in rules if fnmatch.fnmatch(file_name, r.files)), None)


@dataclass(frozen=True)
class EntityGuess:
    """What a file holds, how sure detection is, and in words why."""

    entity: str
    confidence: float
    reason: str

    @property
    def unsure(self) -> bool:
        """Too unsure to merge into the workspace without ``--force`` or a mapping."""
        return self.confidence < SURE


def _exact(entity: str, header: Sequence[str]) -> dict[str, tuple[str, int]]:
    """Fields of ``entity`` the header names exactly: field -> (column, best rank)."""
    found: dict[str, tuple[str, int]] = {}
    keys = [(column, header_key(column)) for column in header]
    for spec in FIELDS[entity]:
        ranks = _ranks(spec)
        for column, key in keys:
            rank = ranks.get(key)
            if rank is not None and (spec.name not in found or rank < found[spec.name][1]):
                found[spec.name] = (column, rank)
    return found


def _reads_as_outcome(field: str, values: list[str] | None) -> bool:
    """The column's values look like deal outcomes (None: no sample, so no evidence against)."""
    if values is None:
        return True
    distinct = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if not distinct:
        return False
    if field == "status":
        read = sum(1 for v in distinct if status_outcome(v) is not None)
        return read / len(distinct) >= 0.5
    if field == "won":
        return _share_read(distinct, parse_bool) >= 0.8
    share, won, lost = stage_reading(distinct)
    return share >= 0.5 or (won and lost)


def _share_read(values: list[str], read: Callable[[str], object]) -> float:
    hits = 0
    for value in values:
        try:
            hits += read(value) is not None
        except Unreadable:
            continue
    return hits / len(values)


def _listed(found: dict[str, tuple[str, int]], names: Sequence[str]) -> str:
    return ", ".join(f"{n} {found[n][0]!r}" for n in names if n in found)


def weigh_entity(header: Sequence[str], samples: dict[str, list[str]]) -> EntityGuess:
    """Deals, companies, signals or contacts, from all the header's names and their values.

    No single column decides: a deals file shows an outcome (stage, status or won) whose
    values read as outcomes *and* other deal fields (amount, dates, deal name, owner, or a
    company link with no company attributes); a company list shows a name or website with
    company attributes. A ``status`` of operating / acquired / closed is no deal outcome.
    """
    keys = {header_key(h) for h in header}
    for layout in formats().not_records:
        if layout.matches(keys):
            return EntityGuess("companies", 0.0, f"it looks like {layout.what}")
    deals = _exact("deals", header)
    companies = _exact("companies", header)
    signals = _exact("signals", header)
    contacts = _exact("contacts", header)
    if {"signal_type", "observed_at"} <= signals.keys():
        return EntityGuess(
            "signals", 0.95, f"signal fields: {_listed(signals, ['signal_type', 'observed_at'])}"
        )
    people = ["first_name", "last_name", "full_name", "contact_email", "job_title"]
    if len(contacts.keys() & set(people)) >= 2:
        return EntityGuess("contacts", 0.9, f"people fields: {_listed(contacts, people)}")

    have_samples = bool(samples)
    outcomes: list[str] = [
        f
        for f in ("stage", "status", "won")
        if f in deals and _reads_as_outcome(f, samples.get(deals[f][0]) if have_samples else None)
    ]
    not_outcomes = [f for f in ("stage", "status", "won") if f in deals and f not in outcomes]
    specific = [f for f in outcomes if deals[f][1] == 0 and header_key(deals[f][0]) not in _GENERIC]
    outcome_weight = 2 if specific else (1 if outcomes else 0)
    support: list[str] = [f for f in ("amount", "closed_at") if f in deals]
    score = float(len(support))
    if "created_at" in deals:
        score += 0.5
        support.append("created_at")
    if "name" in deals and deals["name"][1] == 0:
        score += 0.5
        support.append("name")
    extras = [f for f in ("closed", "deal_type", "pipeline", "owner", "lost_reason") if f in deals]
    if extras:
        score += 0.5
        support += extras
    links: list[str] = [
        f
        for f in ("company_source_id", "company_name", "company_domain", "company_email")
        if f in deals
    ]
    identity = [f for f in ("company_name", "company_domain", "company_email") if f in companies]
    specific_identity = [f for f in identity if header_key(companies[f][0]) not in _GENERIC]
    attributes = [f for f in _COMPANY_ATTRIBUTES if f in companies]

    if outcome_weight:
        seen = _listed(deals, outcomes + support + links)
        if score >= 1 or (links and not attributes):
            return EntityGuess(
                "deals", 0.95 if specific and score >= 1 else 0.85, f"deal fields: {seen}"
            )
        absent = [
            label
            for f, label in (
                ("amount", "amount"),
                ("closed_at", "close date"),
                ("created_at", "create date"),
            )
            if f not in deals
        ] + ([] if links else ["company link"])
        why = (
            f"{_listed(deals, outcomes)} reads as a deal outcome, but it has no "
            f"{', no '.join(absent)}"
        )
        if support:
            why += f" (only {_listed(deals, support)})"
        if attributes:
            shown = _listed(companies, attributes)
            why += f", and its other columns look like company attributes ({shown})"
        return EntityGuess("deals", 0.5, why)
    if score >= 1.5 and score > len(attributes) / 2:
        return EntityGuess("deals", 0.8, f"deal fields: {_listed(deals, support + links)}")
    if specific_identity:
        return EntityGuess(
            "companies", 0.9, f"company fields: {_listed(companies, identity + attributes)}"
        )
    why_not = (
        f"; {_listed(deals, not_outcomes)} does not hold deal outcomes" if not_outcomes else ""
    )
    if identity and attributes:
        return EntityGuess(
            "companies",
            0.8,
            f"company fields: {_listed(companies, identity + attributes)}{why_not}",
        )
    if identity:
        return EntityGuess(
            "companies",
            0.5,
            f"only a generic {companies[identity[0]][0]!r} column could name a company, and no "
            f"other column looks like a company attribute{why_not}",
        )
    return EntityGuess(
        "companies",
        0.0,
        "none of its columns names a company, a deal, a signal or a contact" + why_not,
    )


def detect_entity(header: Sequence[str], forced: str | None = None) -> str:
    """Deals, companies, signals or contacts, from the header's names alone."""
    return forced or weigh_entity(header, {}).entity


def detect_system(header: Sequence[str]) -> tuple[str, float]:
    """Which CRM wrote the header, with how many of the names only it writes were seen.

    Two such names are needed, and a tie between CRMs names none ("generic").
    """
    names = [h.strip() for h in header]
    hits = sorted(
        (
            (
                sum(
                    1
                    for h in names
                    if header_key(h) in markers or h in SYSTEM_EXACT.get(system, ())
                ),
                system,
            )
            for system, markers in SYSTEM_MARKERS.items()
        ),
        reverse=True,
    )
    (best_hits, best), (second_hits, _) = hits[0], hits[1]
    if best_hits < 2 or best_hits == second_hits:
        return "generic", 1.0
    return best, round(min(1.0, best_hits / 4), 2)


# A header written more than once, its copies told apart on reading: 'Amount', 'Amount (2)'.
_COPY = re.compile(r"^(?P<base>.+) \((?P<n>[0-9]+)\)$")


def _copy_reads(
    spec: FieldSpec, values: Sequence[str], check: ValueCheck | None
) -> tuple[float, int]:
    """A copy's share of sampled values the field reads (-1 when blank) and how many it has."""
    filled = [v for v in values if not is_blank(v)]
    if not filled:
        return -1.0, 0
    return (check(spec, filled) if check is not None else 0.0), len(filled)


def _pick_copies(
    choices: dict[str, ColumnChoice],
    header: Sequence[str],
    samples: dict[str, list[str]],
    specs: dict[str, FieldSpec],
    check: ValueCheck | None,
    notes: list[str],
) -> None:
    """Map the copy of a repeated header whose values the field's normalizer reads best, never
    a blank one over a filled one (ties keep the first), and name the copies in a note."""
    names = set(header)
    groups: dict[str, list[str]] = {}
    for column in header:
        if (match := _COPY.match(column)) and match["base"] in names:
            groups.setdefault(match["base"], [match["base"]]).append(column)
    mapped = {c.column for c in choices.values()}
    for name, choice in list(choices.items()):
        group = groups.get(choice.column)
        if not group or choice.how == "manual":
            continue
        copies = [c for c in group if c == choice.column or c not in mapped]

        scores = {c: _copy_reads(specs[name], samples.get(c, []), check) for c in copies}
        rates = {c: scores[c][0] for c in copies}
        # The best read share, then the most filled; max keeps the first of equals.
        best = max(copies, key=lambda c: scores[c])
        if best != choice.column:
            choices[name] = ColumnChoice(
                name, best, choice.confidence, choice.how, alternatives=choice.alternatives
            )
            mapped = (mapped - {choice.column}) | {best}
        others = [
            f"{c!r} ({'blank' if rates[c] < 0 else f'{max(rates[c], 0.0):.0%} of values read'})"
            for c in copies
            if c != best
        ]
        if others:
            kept = "is kept as an extra column" if len(others) == 1 else "are kept as extra columns"
            notes.append(
                f"{name}: the header {choice.column!r} appears {len(group)} times; mapped "
                f"{best!r}, whose values read best; {', '.join(others)} {kept}"
            )


def detect_layout(
    file_name: str,
    header: Sequence[str],
    samples: dict[str, list[str]],
    rules: Sequence[MappingRule] = (),
    check: ValueCheck | None = None,
    *,
    force: bool = False,
    known: Callable[[], KnownAccounts] | None = None,
) -> Layout:
    """Map ``header`` to canonical fields; raise :class:`IngestError` on an unsettled conflict.

    ``samples`` holds a few non-blank values per column; ``check`` scores how many of
    them a field's normalizer reads, so a column named right but holding the wrong
    thing shows a low confidence instead of passing silently.

    A file whose entity detection is unsure of gets ``skip_reason`` (unless ``force`` or an
    ``ingest.mapping`` rule for it), and no required-field check: it is not loaded. A
    missing required field or account link comes with proposals: ``known`` returns what
    the workspace knows of accounts, to compare the unmapped columns' values with.
    """
    rule = _rule_for(file_name, rules)
    if rule and rule.entity:
        guess = EntityGuess(rule.entity, 1.0, f"ingest.mapping says {rule.entity}")
    else:
        guess = weigh_entity(header, samples)
    entity = guess.entity
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
                        f"(columns: {_columns_listed(header)})",
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
    named = set().union(*(_ranks(s) for s in specs.values()))
    exact_columns = {c for c in header if header_key(c) in named}
    # Candidates per field: (score, column, how).
    for name, spec in specs.items():
        if name in choices:
            continue
        ranked: list[tuple[float, str, str]] = []
        ranks = _ranks(spec)
        for column in header:
            if column in taken:
                continue
            rank = ranks.get(header_key(column))
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
    _pick_copies(choices, header, samples, specs, check, notes)

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
    layout.entity_confidence, layout.entity_reason = guess.confidence, guess.reason
    if guess.unsure and rule is None and not force:
        layout.skip_reason = _skip_reason(file_name, guess)
        return layout

    def proposals_for(group: frozenset[str]) -> list[Proposal]:
        if group & {"stage", "status", "won"}:
            return propose_outcome(file_name, unmapped, samples)
        if entity in LINK_FIELDS and group & set(LINK_FIELDS[entity]):
            return propose_link(file_name, entity, unmapped, samples, known() if known else None)
        if entity == "companies":
            return propose_identity(file_name, unmapped, samples)
        return []

    for group in REQUIRED[entity]:
        if not group & choices.keys():
            wanted = " or ".join(f"{g} (e.g. {specs[g].synonyms[0][0]!r})" for g in sorted(group))
            proposals = proposals_for(group)
            advice = (
                " Most likely " + "; or ".join(p.message() for p in proposals)
                if proposals
                else " Map one in icp.yaml under ingest.mapping"
            )
            raise IngestError(
                Problem(
                    file_name,
                    f"missing a required column for {entity}: {wanted}; columns found: "
                    f"{_columns_listed(header)}.{advice}",
                    "file",
                )
            )
    if entity in LINK_FIELDS and not set(LINK_FIELDS[entity]) & choices.keys():
        layout.proposals = propose_link(
            file_name, entity, unmapped, samples, known() if known else None
        )
        advice = (
            " Most likely " + "; or ".join(p.message() for p in layout.proposals)
            if layout.proposals
            else " Map the column that names the company in icp.yaml, e.g. "
            + mapping_line(file_name, {"<column>": "company_name"})
        )
        layout.warnings.append(
            f"no column links these {entity} to an account (no company id, name, domain or "
            f"email is mapped): they load without one, and the analysis cannot use them.{advice}"
        )
    return layout


def _columns_listed(header: Sequence[str], shown: int = 40) -> str:
    """A file's column names for a message: all of them, or the first 40 of a wide file."""
    if len(header) <= shown:
        return ", ".join(header)
    return f"{', '.join(header[:shown])}, ... ({len(header):,} columns in all)"


def _skip_reason(file_name: str, guess: EntityGuess) -> str:
    """Why an unsure file is not loaded, and the two ways to load it anyway."""
    if guess.confidence == 0.0:
        return (
            f"not loaded: {guess.reason}. If it does hold CRM records, say what it holds in "
            f"icp.yaml, e.g. {mapping_line(file_name, {'<column>': '<field>'}, '<entity>')}"
        )
    return (
        f"not loaded: it may hold {guess.entity} (confidence {guess.confidence:.2f}), but "
        f"{guess.reason}. To load it as {guess.entity}: icp ingest --force {file_name}, or "
        f"in icp.yaml ingest.mapping: [{{files: {file_name!r}, entity: {guess.entity}}}]"
    )
