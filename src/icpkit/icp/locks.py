"""Human decisions that outlive re-derivation: locked and hand-made rules win over the data."""

from __future__ import annotations

from typing import Any

from icpkit.icp.describe import describe_evidence, format_q
from icpkit.icp.model import ICP, LISTS, Criterion, Rule


def _kept(item: Rule) -> bool:
    return item.locked or item.source == "human"


def _status(item: Rule) -> str:
    return "locked" if item.locked else "set by hand"


def _evidence_text(item: Rule) -> str:
    text = describe_evidence(item.evidence)
    if item.evidence is not None and item.evidence.q_value is not None:
        text += f", q={format_q(item.evidence.q_value)}"
    return text.removeprefix(", ")


def _disagreement(
    name: str, kept: Rule, derived: tuple[str, Rule] | None, alpha: Any
) -> str | None:
    head = f"{name} {kept.id} is {_status(kept)} (reason: {kept.reason!r}) but the data"
    if derived is None:
        if kept.source == "human":
            # A rule a person added never came from the data: say so without alarm.
            return (
                f"{name} {kept.id} is {_status(kept)} (reason: {kept.reason!r}); the data "
                "do not show it on their own (not found in the new derivation)"
            )
        return f"{head} no longer support it: not found in the new derivation"
    derived_name, item = derived
    evidence = _evidence_text(item)
    suffix = f" ({evidence})" if evidence else ""
    if derived_name != name:
        return f"{head} now put it in {derived_name}{suffix}"
    if (
        isinstance(kept, Criterion)
        and isinstance(item, Criterion)
        and kept.direction != item.direction
    ):
        return f"{head} now point the other way: {item.direction}{suffix}"
    q = item.evidence.q_value if item.evidence is not None else None
    if name != "boundary" and q is not None and isinstance(alpha, int | float) and q >= alpha:
        # Boundary conditions describe the market rather than discriminate, so only the
        # other lists are expected to be significant.
        return f"{head} no longer support it: not significant (q={format_q(q)})"
    return None


def apply_human_decisions(derived: ICP, previous: ICP | None) -> tuple[ICP, list[str]]:
    """``derived`` with the locked and human rules of ``previous`` kept, and where data disagree.

    A kept rule replaces the derived rule with the same id (in whatever list the data put
    it) or is added when the data no longer produce it; the messages say where the new
    derivation disagrees, so a person can revisit the decision.
    """
    if previous is None:
        return derived, []
    kept = {item.id: (name, item) for name, item in previous.rules() if _kept(item)}
    derived_by_id = {item.id: (name, item) for name, item in derived.rules()}
    alpha = derived.method.get("alpha")
    messages: list[str] = []
    lists: dict[str, list[Rule]] = {name: [] for name in LISTS}
    for name, item in derived.rules():
        if item.id not in kept:
            lists[name].append(item)
    for name in LISTS:
        for item in getattr(previous, name):
            if not _kept(item):
                continue
            found = derived_by_id.get(item.id)
            message = _disagreement(name, item, found, alpha)
            if message:
                messages.append(message)
            replaced = found is not None and found[0] == name
            position = _position(lists[name], derived, name, item.id) if replaced else None
            copy = item.model_copy(deep=True)
            if position is None:
                lists[name].append(copy)
            else:
                lists[name].insert(position, copy)
    merged = derived.model_copy(update=lists)
    return merged, messages


def _position(items: list[Rule], derived: ICP, name: str, item_id: str) -> int:
    """Where the derived rule ``item_id`` stood among the rules already placed in ``items``."""
    order = [item.id for item in getattr(derived, name)]
    rank = order.index(item_id)
    return sum(1 for item in items if item.id in order and order.index(item.id) < rank)
