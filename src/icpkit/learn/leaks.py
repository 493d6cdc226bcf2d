"""Attributes too good to be true: a field that separates won from lost almost perfectly was
most likely filled in after the deal closed ("customer since", "onboarding manager"), and
would leak the outcome into the ICP and the backtest."""

from __future__ import annotations

from dataclasses import dataclass

from icpkit.analysis.frame import Cut, Frame
from icpkit.attributes import MISSING
from icpkit.attributes.extra import IDENTIFIER_UNIQUE_SHARE


@dataclass(frozen=True)
class Leak:
    """An attribute whose values alone rank won above lost deals with this ROC AUC."""

    attribute: str
    auc: float
    n_closed: int

    def message(self) -> str:
        return (
            f"{self.attribute} separates won from lost deals almost perfectly "
            f"(AUC {self.auc:.2f} on {self.n_closed:,} closed deals): it is most likely filled "
            "in after a deal closes. Add it to analysis.exclude_attributes in icp.yaml"
        )


def value_auc(counts: list[tuple[int, int]]) -> float:
    """ROC AUC of scoring each deal by its value's win rate; ``counts`` is (won, lost) per
    value. Deals of one value tie, and ties count half."""
    won = sum(w for w, _ in counts)
    lost = sum(lo for _, lo in counts)
    if not won or not lost:
        return float("nan")
    ranked = sorted(counts, key=lambda c: c[0] / (c[0] + c[1]) if c[0] + c[1] else 0.0)
    below = 0
    pairs = 0.0
    for w, lo in ranked:
        pairs += w * (below + 0.5 * lo)
        below += lo
    return pairs / (won * lost)


def one_account_share(cuts: list[Cut]) -> float:
    """Share of the known values' closed deals that lie in values held by a single account.
    Such a value's win rate is that account's own record, so it separates won from lost by
    construction (an identifier), not because it was filled in after close."""
    known = [c for c in cuts if c.value != MISSING]
    total = sum(c.n_closed for c in known)
    if not total:
        return 0.0
    return sum(c.n_closed for c in known if len(c.accounts) == 1) / total


def suspected_leaks(frame: Frame, threshold: float) -> list[Leak]:
    """Fit attributes whose single-attribute AUC reaches ``threshold``, worst first; an
    attribute whose values mostly belong to one account each is an identifier, not a leak."""
    leaks = []
    for attribute in frame.attributes:
        if attribute.family != "fit":
            continue
        if one_account_share(frame.cuts.get(attribute.name, [])) > IDENTIFIER_UNIQUE_SHARE:
            continue
        counts = [(c.n_won, c.n_closed - c.n_won) for c in frame.cuts.get(attribute.name, [])]
        auc = value_auc(counts)
        if auc >= threshold:
            leaks.append(Leak(attribute.name, auc, sum(w + lo for w, lo in counts)))
    return sorted(leaks, key=lambda leak: -leak.auc)
