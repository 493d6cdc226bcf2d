"""The canonical fields of each entity and the column names CRMs export them under.

The names live in one data file, ``formats.yaml`` next to this module (documented in
docs/ingest.md); this module loads it once into :class:`FieldSpec` tuples. Synonyms are
ranked: a name in an earlier group beats one in a later group, so a HubSpot deals export
with both "Amount" and "Amount in company currency" maps "Amount" without asking, while
two columns of the same rank are a conflict the user must settle in ``icp.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Literal, cast, get_args

import yaml

from icpkit.errors import IcpkitError

Kind = Literal[
    "id",
    "text",
    "domain",
    "email",
    "employees",
    "money",
    "date",
    "industry",
    "country",
    "bool",
    "stage",
    "status",
    "list",
    "year",
    "number",
    "email_address",
]
Outcome = Literal["won", "lost", "open"]

FORMATS_FILE = "formats.yaml"


@dataclass(frozen=True)
class FieldSpec:
    """A canonical field: how to normalize it and which source columns may hold it."""

    name: str
    kind: Kind
    synonyms: tuple[tuple[str, ...], ...]
    help: str


@dataclass(frozen=True)
class NotRecords:
    """A file layout that holds no records (a data dictionary, a ground truth), by columns."""

    what: str
    all: frozenset[str]
    any: frozenset[str]
    at_least: int

    def matches(self, keys: set[str]) -> bool:
        """True when a header (as :func:`header_key` keys) has this layout's columns."""
        return self.all <= keys and len(self.any & keys) >= self.at_least


@dataclass(frozen=True)
class Formats:
    """Everything ``formats.yaml`` declares, checked and ready to use."""

    fields: dict[str, tuple[FieldSpec, ...]]
    required: dict[str, tuple[frozenset[str], ...]]
    markers: dict[str, frozenset[str]]
    status_values: dict[str, Outcome]
    system_labels: dict[str, str]
    system_markers: dict[str, frozenset[str]]
    system_exact: dict[str, frozenset[str]]
    not_records: tuple[NotRecords, ...]


@lru_cache(maxsize=1 << 16)
def header_key(name: str) -> str:
    """Compare column names by letters and digits only: 'Country/Region' -> 'countryregion'.
    Cached, as detection asks it of every column once per field."""
    return _NOT_KEY.sub("", name.casefold())


_NOT_KEY = re.compile(r"[^0-9a-z]+")


class FormatsError(IcpkitError, ValueError):
    """``formats.yaml`` does not describe a valid table (a packaging or editing mistake)."""


def _spec(raw: dict[str, Any], where: str) -> FieldSpec:
    kinds = get_args(Kind)
    name, kind = raw.get("field"), raw.get("kind")
    if not isinstance(name, str) or not isinstance(kind, str) or kind not in kinds:
        raise FormatsError(f"{where}: each field needs 'field' and a 'kind' among {kinds}")
    ranks = raw.get("names")
    if not ranks or not all(isinstance(r, list) and r for r in ranks):
        raise FormatsError(f"{where}: field {name!r} needs 'names', a list of non-empty lists")
    synonyms = tuple(tuple(str(n) for n in rank) for rank in ranks)
    return FieldSpec(name, cast(Kind, kind), synonyms, " ".join(str(raw.get("help", "")).split()))


def _entity(
    items: list[dict[str, Any]], groups: dict[str, list[FieldSpec]], entity: str
) -> tuple[FieldSpec, ...]:
    specs: list[FieldSpec] = []
    for item in items:
        if "group" in item:
            group = groups.get(item["group"])
            if group is None:
                raise FormatsError(f"entities.{entity}: unknown group {item['group']!r}")
            only = item.get("only")
            specs.extend(s for s in group if only is None or s.name in only)
        else:
            specs.append(_spec(item, f"entities.{entity}"))
    names = [s.name for s in specs]
    if len(names) != len(set(names)):
        raise FormatsError(f"entities.{entity}: a field is listed twice")
    return tuple(specs)


def parse_formats(doc: dict[str, Any]) -> Formats:
    """Check and convert a parsed ``formats.yaml`` document."""
    groups = {
        name: [_spec(raw, f"groups.{name}") for raw in items]
        for name, items in (doc.get("groups") or {}).items()
    }
    fields = {entity: _entity(items, groups, entity) for entity, items in doc["entities"].items()}
    for section in ("required", "markers"):
        for entity, value in doc[section].items():
            known = {s.name for s in fields[entity]}
            listed = {n for group in value for n in group} if section == "required" else set(value)
            if not listed <= known:
                raise FormatsError(f"{section}.{entity}: unknown fields {sorted(listed - known)}")
    status_values: dict[str, Outcome] = {}
    for outcome, values in doc["status_values"].items():
        if outcome not in get_args(Outcome):
            raise FormatsError(f"status_values: {outcome!r} is not won, lost or open")
        for value in values:
            status_values[str(value).casefold()] = outcome
    # A name several CRMs write says nothing about which one wrote the file.
    written: dict[str, set[str]] = {}
    for system, info in doc["systems"].items():
        for name in info["names"]:
            written.setdefault(header_key(name), set()).add(system)
    system_markers = {
        system: frozenset(
            k for k in (header_key(n) for n in info["names"]) if written[k] == {system}
        )
        for system, info in doc["systems"].items()
    }
    not_records = tuple(
        NotRecords(
            str(item["what"]),
            frozenset(header_key(n) for n in item.get("all", ())),
            frozenset(header_key(n) for n in item.get("any", ())),
            int(item.get("at_least", 1 if item.get("any") else 0)),
        )
        for item in doc.get("not_records") or ()
    )
    return Formats(
        fields=fields,
        required={
            e: tuple(frozenset(g) for g in groups_) for e, groups_ in doc["required"].items()
        },
        markers={e: frozenset(v) for e, v in doc["markers"].items()},
        status_values=status_values,
        system_labels={s: str(info["label"]) for s, info in doc["systems"].items()},
        system_markers=system_markers,
        system_exact={
            s: frozenset(str(n) for n in info.get("exact", ()))
            for s, info in doc["systems"].items()
        },
        not_records=not_records,
    )


@cache
def formats() -> Formats:
    """The recognition table shipped with the package, read once."""
    text = resources.files("icpkit.ingest").joinpath(FORMATS_FILE).read_text(encoding="utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return parse_formats(yaml.load(text, Loader=loader))


def status_outcome(raw: str) -> Outcome | None:
    """A status value as an outcome ('Won' -> won, Close's 'active' -> open), or None."""
    return formats().status_values.get(raw.strip().casefold())


_TABLE = formats()

FIELDS: dict[str, tuple[FieldSpec, ...]] = _TABLE.fields
DEAL_FIELDS: tuple[FieldSpec, ...] = FIELDS["deals"]
COMPANY_FIELDS: tuple[FieldSpec, ...] = FIELDS["companies"]
SIGNAL_FIELDS: tuple[FieldSpec, ...] = FIELDS["signals"]
CONTACT_FIELDS: tuple[FieldSpec, ...] = FIELDS["contacts"]

# Fields whose presence says what a file holds.
ENTITY_MARKERS: dict[str, frozenset[str]] = _TABLE.markers

# A file of the entity cannot be loaded without at least one field of each group.
REQUIRED: dict[str, tuple[frozenset[str], ...]] = _TABLE.required

# Header names (as header_key) that only one CRM writes, to name the system in the dry run.
SYSTEM_MARKERS: dict[str, frozenset[str]] = _TABLE.system_markers

# Header names that name a CRM only when written exactly so (Salesforce API names).
SYSTEM_EXACT: dict[str, frozenset[str]] = _TABLE.system_exact

# Display name of each CRM.
SYSTEM_LABELS: dict[str, str] = {**_TABLE.system_labels, "generic": "generic"}
