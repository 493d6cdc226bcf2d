"""Classify deal stages (HubSpot, Salesforce, Pipedrive, custom pipelines) as won, lost or open."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank

Outcome = Literal["won", "lost", "open"]

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def stage_key(raw: str) -> str:
    """Normalize a stage name so spellings agree: ``"CLOSED-WON"`` → ``"closedwon"``."""
    return _NON_ALNUM.sub("", raw.casefold())


_DEFAULTS: dict[str, Outcome] = {
    # HubSpot default sales pipeline (labels and internal ids normalize to the same keys).
    "appointmentscheduled": "open",
    "qualifiedtobuy": "open",
    "presentationscheduled": "open",
    "decisionmakerboughtin": "open",
    "contractsent": "open",
    "closedwon": "won",
    "closedlost": "lost",
    # Salesforce default opportunity stages.
    "prospecting": "open",
    "qualification": "open",
    "needsanalysis": "open",
    "valueproposition": "open",
    "iddecisionmakers": "open",
    "perceptionanalysis": "open",
    "proposalpricequote": "open",
    "negotiationreview": "open",
    # Pipedrive deal statuses.
    "won": "won",
    "lost": "lost",
    "open": "open",
    # Dynamics 365 status reasons (statuscode) of opportunities.
    "inprogress": "open",
    "onhold": "open",
    "outsold": "lost",
}

DEFAULT_STAGE_OUTCOMES: Mapping[str, Outcome] = MappingProxyType(_DEFAULTS)
"""Outcome of each CRM's default stages, keyed by :func:`stage_key`."""

_WON_WORDS = frozenset({"won", "win", "signed", "booked", "closedwon"})
_LOST_WORDS = frozenset(
    {
        "lost",
        "disqualified",
        "churned",
        "closedlost",
        "dead",
        "rejected",
        "cancelled",
        "canceled",
        "abandoned",
    }
)
_LOST_PHRASES = ("no decision", "closed lost", "not interested")
# What gets booked or signed early in a pipeline: 'Demo booked', 'Meeting booked', 'NDA
# signed' are open stages, not wins (a deal booked or a contract signed is a win).
_EARLY_STEPS = frozenset(
    {
        "demo", "meeting", "call", "appointment", "discovery", "intro", "introduction",
        "presentation", "consultation", "tour", "trial", "session", "webinar", "nda", "pilot",
        "workshop", "visit",
    }
)  # fmt: skip
# 'Not won', 'Closed - not won', 'never signed': a won word that says the opposite.
_NEGATED_WIN = re.compile(r"\b(?:not|no|never|non|un)\s+(?:won|win|signed|booked)\b")


def stage_outcome(raw: str, overrides: Mapping[str, Outcome] | None = None) -> Outcome | None:
    """Classify a deal stage, e.g. ``"Closed Won"`` → ``"won"``, ``"Deal booked"`` → ``"won"``,
    ``"Demo booked"`` → ``"open"`` (an early step booked or signed is not a win).

    Order: ``overrides`` (keys normalized with :func:`stage_key`), then the CRM defaults, then
    word heuristics (lost words are checked before won words, and a won word next to an early
    step such as a demo, meeting or NDA is open); any other stage is ``"open"``,
    since custom pipelines mostly add open stages. Numeric HubSpot stage ids of custom
    pipelines therefore read as open unless mapped in ``overrides``.

    >>> stage_outcome("Closed Won"), stage_outcome("Lost to competitor"), stage_outcome("Demo")
    ('won', 'lost', 'open')
    >>> stage_outcome("Deal booked"), stage_outcome("Demo booked")
    ('won', 'open')
    >>> stage_outcome("Verbal yes", {"verbal yes": "won"})
    'won'
    """
    if is_blank(raw):
        return None
    key = stage_key(raw)
    if overrides:
        for name, outcome in overrides.items():
            if stage_key(name) == key:
                return outcome
    if key == "deleted":
        raise Unreadable("deleted deal: its outcome is unknown")
    if key in _DEFAULTS:
        return _DEFAULTS[key]
    text = raw.casefold().replace("'", "").replace("’", "")
    words = set(_NON_ALNUM.split(text))
    phrase = " ".join(_NON_ALNUM.split(text))
    if words & _LOST_WORDS or any(p in phrase for p in _LOST_PHRASES) or "closedlost" in key:
        return "lost"
    if words & _WON_WORDS or "closedwon" in key:
        if words & _EARLY_STEPS and not words & {"won", "closedwon"} and "closedwon" not in key:
            return "open"
        if _NEGATED_WIN.search(phrase):
            raise Unreadable(
                f"stage '{raw.strip()}' negates a win: say its outcome in ingest.stage_outcomes"
            )
        return "won"
    return "open"
