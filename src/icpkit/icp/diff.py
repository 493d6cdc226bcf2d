"""What changed between two ICP versions: added, removed and changed rules, as data and text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from icpkit.icp.describe import describe_rule, show_evidence, show_field
from icpkit.icp.model import ICP, LISTS, Rule

# Fields whose change alters what a rule matches or how it counts. The rationale is left out:
# derived text follows the numbers, which are compared through the evidence.
RULE_FIELDS = (
    "attribute",
    "signal",
    "values",
    "detail_in",
    "min",
    "max",
    "window_days",
    "direction",
    "kind",
    "points",
    "locked",
    "source",
    "reason",
    "weight",
    "half_life_days",
    "dimension",
)
EVIDENCE_FIELDS = ("lift", "win_rate", "q_value", "n_closed")
_UNORDERED = {"values", "detail_in"}


@dataclass(frozen=True)
class Change:
    """One field that moved: its name and the old and new values."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ItemChange:
    """A rule kept under the same id whose settings or evidence moved."""

    id: str
    fields: tuple[Change, ...]
    evidence: tuple[Change, ...]


@dataclass(frozen=True)
class ListDiff:
    """The changes in one list of the ICP (boundary, fit, intent or exclusions)."""

    name: str
    added_items: tuple[Rule, ...] = ()
    removed_items: tuple[Rule, ...] = ()
    changed: tuple[ItemChange, ...] = ()

    @property
    def added(self) -> tuple[str, ...]:
        """Ids of the rules new in this list."""
        return tuple(item.id for item in self.added_items)

    @property
    def removed(self) -> tuple[str, ...]:
        """Ids of the rules gone from this list."""
        return tuple(item.id for item in self.removed_items)

    @property
    def is_empty(self) -> bool:
        """True when nothing in this list changed."""
        return not (self.added_items or self.removed_items or self.changed)


@dataclass(frozen=True)
class ICPDiff:
    """The changes from one ICP to the next; version, date and fingerprint are context only."""

    old_version: int
    new_version: int
    derived_at: datetime
    old_fingerprint: str
    new_fingerprint: str
    boundary: ListDiff
    fit: ListDiff
    intent: ListDiff
    exclusions: ListDiff
    # Buyer-persona roles ('VP in Sales') gained and lost.
    persona_added: tuple[str, ...] = ()
    persona_removed: tuple[str, ...] = ()

    @property
    def lists(self) -> tuple[ListDiff, ...]:
        """The per-list diffs in file order."""
        return (self.boundary, self.fit, self.intent, self.exclusions)

    @property
    def data_changed(self) -> bool:
        """True when the new ICP was derived from different data."""
        return self.old_fingerprint != self.new_fingerprint

    @property
    def is_empty(self) -> bool:
        """True when no rule was added, removed or changed (new data alone is not a change)."""
        persona = self.persona_added or self.persona_removed
        return all(part.is_empty for part in self.lists) and not persona


def _comparable(name: str, value: Any) -> Any:
    if name == "weight" and value is not None:
        return round(value, 2)  # a refit on a few more deals is not a change
    return sorted(value) if name in _UNORDERED and value is not None else value


def _item_change(old: Rule, new: Rule) -> ItemChange | None:
    fields = tuple(
        Change(name, getattr(old, name, None), getattr(new, name, None))
        for name in RULE_FIELDS
        if _comparable(name, getattr(old, name, None))
        != _comparable(name, getattr(new, name, None))
    )
    # Evidence counts as moved only when it moves at the precision people read, so a
    # re-derivation on a few more deals does not flood the changelog with 2.05x -> 2.06x.
    evidence = []
    for name in EVIDENCE_FIELDS:
        before = getattr(old.evidence, name, None) if old.evidence else None
        after = getattr(new.evidence, name, None) if new.evidence else None
        if show_evidence(name, before) != show_evidence(name, after):
            evidence.append(Change(name, before, after))
    if not fields and not evidence:
        return None
    return ItemChange(new.id, fields, tuple(evidence))


def _diff_list(name: str, old: list[Rule], new: list[Rule]) -> ListDiff:
    old_by_id = {item.id: item for item in old}
    new_ids = {item.id for item in new}
    changed = []
    for item in new:
        if item.id in old_by_id:
            change = _item_change(old_by_id[item.id], item)
            if change is not None:
                changed.append(change)
    return ListDiff(
        name=name,
        added_items=tuple(item for item in new if item.id not in old_by_id),
        removed_items=tuple(item for item in old if item.id not in new_ids),
        changed=tuple(changed),
    )


def diff_icps(old: ICP, new: ICP) -> ICPDiff:
    """The rule changes from ``old`` to ``new``, list by list, matched by id."""
    parts = {name: _diff_list(name, getattr(old, name), getattr(new, name)) for name in LISTS}
    before, after = _persona_roles(old), _persona_roles(new)
    return ICPDiff(
        old_version=old.version,
        new_version=new.version,
        derived_at=new.derived_at,
        old_fingerprint=old.data_fingerprint,
        new_fingerprint=new.data_fingerprint,
        boundary=parts["boundary"],
        fit=parts["fit"],
        intent=parts["intent"],
        exclusions=parts["exclusions"],
        persona_added=tuple(r for r in after if r not in before),
        persona_removed=tuple(r for r in before if r not in after),
    )


def _persona_roles(icp: ICP) -> tuple[str, ...]:
    if icp.persona is None:
        return ()
    return tuple(f"{r.seniority} in {r.department}" for r in icp.persona.roles)


def describe_change(change: ItemChange) -> str:
    """What moved in one rule, e.g. 'max 200 -> 500; lift 1.8x -> 1.6x'."""
    parts = [
        f"{c.field} {show_field(c.field, c.old)} -> {show_field(c.field, c.new)}"
        for c in change.fields
    ]
    parts += [
        f"{c.field} {show_evidence(c.field, c.old)} -> {show_evidence(c.field, c.new)}"
        for c in change.evidence
    ]
    return "; ".join(parts)


def format_diff(diff: ICPDiff) -> list[str]:
    """One line per change: '+ fit id: what (evidence)', '~ fit id: what moved', '- fit id'."""
    lines: list[str] = []
    for part in diff.lists:
        lines += [f"+ {part.name} {item.id}: {describe_rule(item)}" for item in part.added_items]
        lines += [f"~ {part.name} {c.id}: {describe_change(c)}" for c in part.changed]
        lines += [f"- {part.name} {item_id}" for item_id in part.removed]
    lines += [f"+ persona {role}" for role in diff.persona_added]
    lines += [f"- persona {role}" for role in diff.persona_removed]
    return lines
