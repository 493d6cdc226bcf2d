"""Bring-your-own enrichment: a file of company data, keyed by domain, read as a provider.

A Clay table export, a ZoomInfo or Apollo CSV export, or any file with a column of domains
or websites (CSV in any encoding, XLSX or Parquet, read by ``ingest.readers``) answers
lookups from its rows; so does a JSON Lines file (or a JSON array) of Clearbit-format
company documents keyed by their ``domain``. Columns are recognized by name
(``# Employees``, ``Primary Industry``, ``Technologies`` ...); a column icpkit does not
know becomes ``extra:<column>`` so nothing the file holds is lost. Every observation
points at its cell (``file:<name>:line <n>``). A row whose domain cannot be read, and a
row overridden by a later row of the same domain, are reported in ``problems`` with file,
line, column and value.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icpkit.enrich.context import Context
from icpkit.enrich.model import Lookup, Observation, Target
from icpkit.enrich.providers.clearbit import ClearbitProvider, clearbit_observations
from icpkit.enrich.providers.keyed import canonical_tool, day_of
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.blanks import is_blank
from icpkit.ingest.normalize.domains import account_domain
from icpkit.ingest.problems import IngestError, Problem
from icpkit.ingest.readers import open_table

CONFIDENCE = 0.9  # the user's own vendor data: trusted, but not the CRM's own word
FUNDING_DATE = "funding_date"  # a column role that dates the funding round, not a field
CLEARBIT_JSON = "clearbit_json"
CLEARBIT_FIELDS = ClearbitProvider.fields

# Column roles by normalized header (see header_key), in order of preference per role.
ALIASES: dict[str, tuple[str, ...]] = {
    "domain": (
        "domain", "company domain", "website", "company website", "website url", "url",
        "primary domain", "web address", "homepage", "site", "company url", "domain name",
    ),
    "name": ("company name", "company", "name", "organization name", "account name",
             "organization"),
    "employees": (
        "employees", "employee count", "number of employees", "estimated num employees",
        "headcount", "company size", "employee range", "employees range", "size",
    ),
    "revenue": (
        "annual revenue", "revenue", "revenue in 000s usd", "revenue usd",
        "estimated annual revenue", "revenue range in usd", "revenue range",
    ),
    "industry": (
        "primary industry", "industry", "industries", "naics code 1", "naics code", "naics",
        "sic code 1", "sic code", "sic", "sector",
    ),
    "country": ("country", "company country", "hq country", "headquarters country",
                "country code", "company hq country"),
    "city": ("city", "company city", "hq city", "headquarters city"),
    "state": ("state", "company state", "hq state", "region"),
    "founded_year": ("founded year", "year founded", "founded", "founded date"),
    "funding_stage": ("latest funding", "latest funding stage", "funding stage",
                      "recent funding round", "last funding round", "last funding type"),
    "total_funding": ("total funding", "total funding amount in 000s usd",
                      "total funding amount", "total raised", "funding total"),
    FUNDING_DATE: ("latest funding date", "recent funding date", "last funding date",
                   "last funding round date"),
    "tech": ("technologies", "tech stack", "technologies used", "technology", "tech"),
    "linkedin_url": ("company linkedin url", "linkedin url", "linkedin",
                     "linkedin company profile url", "linkedin company url"),
    "twitter_url": ("twitter url", "twitter", "company twitter url"),
    "description": ("short description", "description", "company description",
                    "seo description", "about"),
}  # fmt: skip

_ROLE_OF = {alias: role for role, aliases in ALIASES.items() for alias in aliases}
_TOOL_SPLIT = re.compile(r"\s*[,;|\n]\s*")
_BARE_CODE = re.compile(r"\d{2,6}")


@functools.cache
def header_key(name: str) -> str:
    """A column name compared without case or punctuation.

    >>> header_key("# Employees"), header_key("Revenue (in 000s USD)")
    ('employees', 'revenue in 000s usd')
    """
    return " ".join(re.sub(r"[^\w]+", " ", name.casefold()).split())


@dataclass(frozen=True)
class Layout:
    """What a file is (``kind``: 'clay', 'zoominfo', 'apollo_csv' or 'domain-keyed'),
    which column holds the domain, and which columns fill each field (preferred first;
    a blank cell falls back to the next)."""

    kind: str
    domain: str
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    extras: tuple[str, ...] = ()


def recognize(header: Sequence[str], file: str = "the file") -> Layout:
    """The layout of a file with ``header``; IngestError when no column holds domains.

    >>> layout = recognize(["Company", "Website", "# Employees", "Technologies"])
    >>> layout.kind, layout.domain, layout.roles["employees"]
    ('apollo_csv', 'Website', ('# Employees',))
    """
    keys = {column: header_key(column) for column in header}
    present = set(keys.values())
    if "zoominfo company id" in present or {"revenue in 000s usd", "company name"} <= present:
        kind = "zoominfo"
    elif (
        "employees" in present
        and "# Employees" in header
        and (present & {"technologies", "company country", "apollo account id", "latest funding"})
    ):
        kind = "apollo_csv"
    elif any("clay" in key.split() for key in present) or present & {
        "enrich company",
        "find companies",
        "company domain",
    }:
        kind = "clay"
    else:
        kind = "domain-keyed"
    by_role: dict[str, list[tuple[int, str]]] = {}
    extras: list[str] = []
    for column in header:
        role = _ROLE_OF.get(keys[column])
        if role is None:
            extras.append(column)
            continue
        rank = ALIASES[role].index(keys[column])
        by_role.setdefault(role, []).append((rank, column))
    roles = {role: tuple(c for _, c in sorted(found)) for role, found in by_role.items()}
    domains = roles.pop("domain", ())
    if not domains:
        raise IngestError(
            Problem(
                file,
                "no column of domains or websites: name one Domain or Website "
                f"(columns: {', '.join(header) or 'none'})",
                "file",
            )
        )
    # One domain column keys the rows; any other is kept as what it is.
    extras.extend(domains[1:])
    return Layout(kind, domains[0], roles, tuple(extras))


@dataclass
class _Row:
    """A kept row: its place, and its cells (read into observations when asked, so a
    large file costs its text, not a million objects) or a document's observations."""

    line: int
    unit: str
    cells: tuple[str | None, ...] = ()
    observations: list[Observation] | None = None


class FileProvider:
    """Answers lookups from one file of company data keyed by domain (keyless, free,
    never stale: an answer lasts as long as the file does)."""

    cost = 0.0
    rate: float | None = None
    batch_size = 1000
    ttl_days = 36500.0
    keyless = True

    def __init__(self, path: str | Path, name: str | None = None) -> None:
        self.path = Path(path)
        self.name = name or provider_name(self.path)
        self.problems: list[Problem] = []
        self._rows: dict[str, _Row] = {}
        self._header: tuple[str, ...] = ()
        self.layout = self._read()
        self.fields = frozenset(self._fields())

    def __repr__(self) -> str:
        return f"FileProvider({str(self.path)!r}, name={self.name!r})"

    def _fields(self) -> Iterable[str]:
        if self.layout.kind == CLEARBIT_JSON:
            yield from CLEARBIT_FIELDS
            return
        for role in self.layout.roles:
            if role == FUNDING_DATE:
                yield "signal:funding_round"
            else:
                yield role
        for column in self.layout.extras:
            yield f"extra:{column}"

    def _read(self) -> Layout:
        if _is_json(self.path):
            return self._read_json()
        table = open_table(self.path)
        try:
            layout = recognize(table.header, self.path.name)
            self._header = tuple(table.header)
            at = table.header.index(layout.domain)
            width = len(table.header)
            for chunk in table.chunks():
                columns = chunk.columns + [[None] * len(chunk.lines)] * (width - len(chunk.columns))
                for j, line in enumerate(chunk.lines):
                    cells = tuple(column[j] for column in columns[:width])
                    filled = any(v is not None and not is_blank(v) for v in cells)
                    domain = self._domain(cells[at], line, layout.domain, table.unit, filled)
                    if domain is not None:
                        self._keep(domain, _Row(line, table.unit, cells), layout.domain)
        finally:
            table.close()
        self.problems[:0] = table.problems  # the reader's own (undecodable bytes ...)
        return layout

    def _read_json(self) -> Layout:
        """Clearbit-format company documents, one JSON object a line (or one JSON array),
        keyed by their ``domain``."""
        for line, doc in _json_documents(self.path, self.problems):
            raw = doc.get("domain")
            text = raw if isinstance(raw, str) else None
            domain = self._domain(text, line, "domain", "line", filled=True)
            if domain is not None:
                source = f"file:{self.path.name}:line {line}"
                found = clearbit_observations(doc, source, CONFIDENCE)
                self._keep(domain, _Row(line, "line", observations=found), "domain")
        return Layout(CLEARBIT_JSON, "domain")

    def _domain(
        self, raw: str | None, line: int, column: str, unit: str, filled: bool
    ) -> str | None:
        """The row's registrable domain; a row with values (``filled``) but no readable
        domain is reported (a wholly blank row is not a row)."""
        try:
            domain = None if raw is None or is_blank(raw) else account_domain(raw.strip())
            reason = "no domain in this row: it cannot be matched to an account"
        except Unreadable as exc:
            domain, reason = None, str(exc)
        if domain is None and filled:
            self.problems.append(Problem(self.path.name, reason, "row", line, column, raw, unit))
        return domain

    def _keep(self, domain: str, row: _Row, column: str) -> None:
        previous = self._rows.get(domain)
        if previous is not None:
            self.problems.append(
                Problem(
                    self.path.name,
                    f"domain {domain} appears again at {row.unit} {row.line}; the later row "
                    "is used",
                    "row", previous.line, column, domain, row.unit,
                )
            )  # fmt: skip
        self._rows[domain] = row

    async def lookup(self, targets: Sequence[Target], ctx: Context) -> list[Lookup]:
        return [self.answer(target) for target in targets]

    def answer(self, target: Target) -> Lookup:
        """The file's row for ``target``'s domain, as a Lookup (no I/O: the file is read
        once, when the provider is made)."""
        key = _domain_key(target.domain)
        row = self._rows.get(key) if key else None
        if row is None:
            return Lookup(target.account_key, "miss", reason=f"not in {self.path.name}")
        source = f"file:{self.path.name}:{row.unit} {row.line}"
        observations = row.observations
        if observations is None:
            cells = dict(zip(self._header, row.cells, strict=True))
            observations = list(row_observations(self.layout, cells, source))
        return Lookup.of(target.account_key, observations, f"{source} has no value but its domain")

    def __len__(self) -> int:
        return len(self._rows)

    def domains(self) -> list[str]:
        """The domains the file holds a row for."""
        return list(self._rows)


def _is_json(path: Path) -> bool:
    """Whether ``path`` holds JSON (its name says so, or its first character opens it)."""
    if path.suffix.lower() in (".json", ".jsonl", ".ndjson"):
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False  # open_table says why, naming the file
    return head[:1] in (b"{", b"[")


def _json_documents(path: Path, problems: list[Problem]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects of ``path`` with their line: JSON Lines, or one array (each element
    then numbered from 1 as a record); a line that is not a JSON object is reported."""
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(
            Problem(path.name, f"cannot read as UTF-8 JSON ({exc})", "file")
        ) from None
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise IngestError(Problem(path.name, f"not valid JSON: {exc}", "file")) from None
        for number, item in enumerate(items, start=1):
            if isinstance(item, dict):
                yield number, item
            else:
                problems.append(
                    Problem(path.name, "not a JSON object", "row", number, None, str(item)[:80])
                )
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        if isinstance(item, dict):
            yield number, item
        else:
            problems.append(Problem(path.name, "not a JSON object", "row", number, None, line[:80]))


def _domain_key(domain: str | None) -> str | None:
    if not domain or is_blank(domain):
        return None
    try:
        return account_domain(domain.strip())
    except Unreadable:
        return domain.strip().casefold()


def provider_name(path: Path) -> str:
    """A provider name from a file's name: its stem in lower case, words joined by '_'.

    >>> provider_name(Path("ZoomInfo Export (3).csv"))
    'zoominfo_export_3'
    """
    return "_".join(re.sub(r"[^\w]+", " ", path.stem.casefold()).split()) or "file"


def row_observations(
    layout: Layout, cells: dict[str, str | None], source_url: str
) -> Iterable[Observation]:
    """The observations one row holds: per field the first non-blank of its columns, one
    ``tech`` per tool a technologies cell lists, the funding round dated when the file
    dates it, and ``extra:<column>`` for every other column."""

    def first(role: str) -> tuple[str, str] | None:
        for column in layout.roles.get(role, ()):
            value = cells.get(column)
            if value is not None and not is_blank(value):
                return column, value.strip()
        return None

    for role in layout.roles:
        if role in (FUNDING_DATE, "tech"):
            continue
        found = first(role)
        if found is None:
            continue
        column, raw = found
        yield Observation(
            role, _value(role, column, raw), CONFIDENCE, source_url, raw=raw,
            evidence=f"column {column!r}",
        )  # fmt: skip
    tools = first("tech")
    if tools is not None:
        column, raw = tools
        seen: set[str] = set()
        for name in _TOOL_SPLIT.split(raw):
            if not name or name in seen:
                continue
            seen.add(name)
            yield Observation(
                "tech", canonical_tool(name), CONFIDENCE, source_url, raw=raw,
                evidence=f"column {column!r}: {name}",
            )  # fmt: skip
    dated = first(FUNDING_DATE)
    if dated is not None and (day := day_of(dated[1])) is not None:
        stage = first("funding_stage")
        yield Observation(
            "signal:funding_round", stage[1] if stage else "funding round", CONFIDENCE,
            source_url, raw=dated[1], evidence=f"column {dated[0]!r}", observed_at=day,
        )  # fmt: skip
    for column in layout.extras:
        value = cells.get(column)
        if value is not None and not is_blank(value):
            yield Observation(f"extra:{column}", value.strip(), CONFIDENCE, source_url, raw=value)


def _value(role: str, column: str, raw: str) -> str:
    """The observed value of a cell: amounts in a thousands column scaled to dollars, a
    bare NAICS or SIC code named as one, otherwise the cell as written."""
    key = header_key(column)
    if role in ("revenue", "total_funding") and ("000s" in key or "thousands" in key):
        try:
            amount = float(raw.replace(",", "").replace("$", "").strip()) * 1000
        except ValueError:
            return raw  # the runner reads it, or keeps it with its problem
        return f"{amount:.0f}"
    if role == "industry" and _BARE_CODE.fullmatch(raw):
        if key.startswith("naics"):
            return f"NAICS {raw}"
        if key.startswith("sic"):
            return f"SIC {raw}"
    return raw


def file_notes(provider: FileProvider, held: set[str], shown: int = 20) -> list[str]:
    """What a person should know of a file after a run: its rows set aside (file, line,
    column, value, reason; the first ``shown``) and its rows whose domain the workspace
    does not hold (not used: ``--domains FILE`` adds them)."""
    notes = [p.message() for p in provider.problems[:shown]]
    if len(provider.problems) > shown:
        notes.append(
            f"{provider.path.name}: {len(provider.problems) - shown:,} more rows set aside"
        )
    unused = sum(1 for domain in provider.domains() if domain not in held)
    if unused:
        notes.append(
            f"{provider.path.name}: {unused:,} of {len(provider):,} rows name a domain the "
            "workspace does not hold: not used (enrich with --domains to add them)"
        )
    return notes
