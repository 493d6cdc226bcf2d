"""Proposals for what detection could not map: which column most likely holds a field, the
evidence for it, and the one-line ``ingest.mapping`` entry that settles it.

Detection never guesses silently: when a file lacks a field it needs (a deal stage, a link
to an account), these proposals are shown in the dry run and in the ingest, and the user
decides with one line of ``icp.yaml``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb

from icpkit.ingest.fields import status_outcome
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.booleans import parse_bool
from icpkit.ingest.normalize.domains import registrable_domain
from icpkit.ingest.normalize.names import company_name_key
from icpkit.ingest.normalize.stages import DEFAULT_STAGE_OUTCOMES, stage_key, stage_outcome

_MIN_SHARE = 0.5
# Words of a column name that say it names a company.
_COMPANY_WORDS = re.compile(
    r"account|compan|customer|client|organi[sz]ation|^org|firm|business|employer|kunde|"
    r"entreprise|empresa|societe|brand|merchant|vendor|partner"
)


@dataclass(frozen=True)
class KnownAccounts:
    """What the workspace already knows of accounts, to compare a column's values with."""

    names: dict[str, str]  # company name key -> file it came from
    domains: dict[str, str]
    ids: dict[str, str]  # CRM record id -> file

    @property
    def empty(self) -> bool:
        return not (self.names or self.domains or self.ids)


def known_accounts(con: duckdb.DuckDBPyConnection) -> KnownAccounts:
    """Account names, domains and CRM ids in the store, each with the file it came from."""
    names: dict[str, str] = {}
    domains: dict[str, str] = {}
    for name_key, domain, source_file in con.execute(
        "SELECT name_key, domain, coalesce(source_file, '') FROM accounts"
    ).fetchall():
        if name_key:
            names.setdefault(name_key, source_file)
        if domain:
            domains.setdefault(domain, source_file)
    ids = {
        str(source_id): str(source_file)
        for source_id, source_file in con.execute(
            "SELECT i.source_id, coalesce(a.source_file, '') FROM account_ids i "
            "LEFT JOIN accounts a USING (account_key)"
        ).fetchall()
    }
    return KnownAccounts(names, domains, ids)


@dataclass(frozen=True)
class Proposal:
    """A column that most likely holds ``field``, why, and the mapping line settling it."""

    field: str
    column: str
    evidence: str
    fix: str

    def message(self) -> str:
        """``'org': 85 distinct values, 100% match names in companies.csv. Fix: ...``."""
        return f"{self.evidence}. Fix: {self.fix}"


def mapping_line(file_name: str, columns: dict[str, str], entity: str | None = None) -> str:
    """The one-line ``ingest.mapping`` entry of ``icp.yaml`` mapping ``columns`` of a file."""
    cols = ", ".join(f"{column!r}: {target}" for column, target in columns.items())
    what = f"entity: {entity}, " if entity else ""
    return f"ingest.mapping: [{{files: {file_name!r}, {what}columns: {{{cols}}}}}]"


def _distinct(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def _share(values: Sequence[str], read: Callable[[str], object]) -> float:
    hits = 0
    for value in values:
        try:
            if read(value):
                hits += 1
        except Unreadable:
            continue
    return hits / len(values) if values else 0.0


def _id_key(raw: str) -> str:
    text = re.sub(r"\.0$", "", raw.strip())
    return text[:15] if re.fullmatch(r"[a-zA-Z0-9]{18}", text) else text


def _best_file(files: list[str]) -> str:
    named = [f for f in files if f]
    return Counter(named).most_common(1)[0][0] if named else "the workspace"


def _against(
    values: list[str], keys: Sequence[str | None], known: dict[str, str]
) -> tuple[float, str]:
    matched = [known[k] for k in keys if k is not None and k in known]
    return len(matched) / len(values), _best_file(matched)


def _name_key(value: str) -> str | None:
    try:
        return company_name_key(value)
    except Unreadable:
        return None


def _domain(value: str) -> str | None:
    try:
        return registrable_domain(value)
    except Unreadable:
        return None


def propose_link(
    file_name: str,
    entity: str,
    columns: Sequence[str],
    samples: dict[str, list[str]],
    known: KnownAccounts | None,
) -> list[Proposal]:
    """Columns among ``columns`` whose values look like the accounts' names, domains or ids.

    Values are compared with what the workspace already holds; with nothing to compare, a
    column named like a company ('org', 'client') holding text, or one holding web domains,
    is proposed with that weaker evidence.
    """
    found: list[tuple[float, Proposal]] = []
    for column in columns:
        values = _distinct(samples.get(column, []))
        if not values:
            continue
        n = len(values)
        options: list[tuple[float, str, str]] = []  # share, field, what
        if known is not None and not known.empty:
            for field, keys, table, what in (
                ("company_name", [_name_key(v) for v in values], known.names, "names"),
                ("company_domain", [_domain(v) for v in values], known.domains, "domains"),
                ("company_source_id", [_id_key(v) for v in values], known.ids, "record ids"),
            ):
                share, where = _against(values, keys, table)
                if share >= _MIN_SHARE:
                    options.append((share, field, f"{share:.0%} match {what} in {where}"))
        if not options:
            domains = sum(1 for v in values if "." in v and _domain(v))
            if domains / n >= 0.8:
                options.append(
                    (domains / n * 0.9, "company_domain", f"{domains / n:.0%} read as web domains")
                )
            elif _COMPANY_WORDS.search(re.sub(r"[^a-z]", "", column.casefold())):
                texts = sum(1 for v in values if re.search(r"[^\W\d_]", v))
                if texts / n >= 0.8:
                    compared = (
                        "no accounts in the workspace to compare them with yet"
                        if known is None or known.empty
                        else "none match the accounts already in the workspace"
                    )
                    shown = ", ".join(repr(v) for v in values[:3])
                    options.append((0.5, "company_name", f"names such as {shown}; {compared}"))
        if options:
            share, field, what = max(options)
            evidence = f"{column!r}: {n} distinct values, {what}"
            fix = mapping_line(file_name, {column: field})
            found.append((share, Proposal(field, column, evidence, fix)))
    found.sort(key=lambda t: -t[0])
    return [p for _, p in found[:3]]


def stage_reading(values: Sequence[str]) -> tuple[float, bool, bool]:
    """Share of distinct values the stage normalizer knows (a CRM default stage or won/lost
    wording), and whether any reads as won and any as lost."""
    distinct = _distinct(values)
    if not distinct:
        return 0.0, False, False
    known = 0
    won = lost = False
    for value in distinct:
        try:
            outcome = stage_outcome(value)
        except Unreadable:
            continue
        if outcome == "won":
            won = True
        if outcome == "lost":
            lost = True
        if outcome != "open" or stage_key(value) in DEFAULT_STAGE_OUTCOMES:
            known += 1
    return known / len(distinct), won, lost


def propose_outcome(
    file_name: str, columns: Sequence[str], samples: dict[str, list[str]]
) -> list[Proposal]:
    """Columns whose values read as deal stages, won/lost/open statuses or won checkboxes."""
    found: list[tuple[float, Proposal]] = []
    for column in columns:
        values = _distinct(samples.get(column, []))
        if not values:
            continue
        n = len(values)
        status = _share(values, lambda v: status_outcome(v) is not None)
        share, won, lost = stage_reading(values)
        bools = _share(values, lambda v: parse_bool(v) is not None)
        key = re.sub(r"[^a-z]", "", column.casefold())
        if bools == 1.0 and "won" in key:
            field, what, score = "won", "all read as yes/no", 1.0
        elif status >= 0.8 and not values[0].isdigit():
            field, what, score = "status", f"{status:.0%} read as won, lost or open", status
        elif share >= _MIN_SHARE or (won and lost):
            examples = ", ".join(f"{v!r} -> {stage_outcome(v)}" for v in values[:3])
            what = f"{share:.0%} are known stages or say won / lost ({examples})"
            field, score = "stage", share
        else:
            continue
        evidence = f"{column!r}: {n} distinct values, {what}"
        found.append(
            (score, Proposal(field, column, evidence, mapping_line(file_name, {column: field})))
        )
    found.sort(key=lambda t: -t[0])
    return [p for _, p in found[:3]]


def propose_identity(
    file_name: str, columns: Sequence[str], samples: dict[str, list[str]]
) -> list[Proposal]:
    """Columns of a company list that most likely hold the company's name or website."""
    return propose_link(file_name, "companies", columns, samples, None)
