"""Named ICPs: several ICPs in one workspace, one per product line, segment or motion.

The main ICP (``icp:`` in ``icp.yaml``, versions in ``.icp/versions``) stays what it is.
Each named ICP (``icps:`` in ``icp.yaml``) is a full ICP of its own, learned from the closed
deals its ``deals`` filter selects, with its own version line in
``.icp/icps/<name>/versions`` and changelog. A workspace that names none behaves as one of a
single ICP always did. See docs/multi-icp.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb

from icpkit.config import CONFIG_NAME, DealFilter, NamedIcp, Settings, save_settings
from icpkit.errors import IcpkitError
from icpkit.icp.diff import diff_icps, format_diff
from icpkit.icp.model import ICP, dump_icp, load_icp
from icpkit.icp.versions import VersionStore
from icpkit.output.files import write_atomic
from icpkit.store.db import literal

BY = ("pipeline", "motion")
"""What ``icp derive --by`` splits the deals by: the CRM's pipeline, or new business vs
expansion."""
ALIASES = {"product": "pipeline"}
"""Other words for what ``--by`` splits by: a CRM keeps a product line as its pipeline."""

MOTIONS = ("new_business", "expansion")


class NamedIcpError(IcpkitError):
    """A named ICP that is not declared, not derived yet, or cannot be split by."""


def deal_condition(deals: DealFilter) -> str:
    """The SQL condition on the ``deals`` table that selects the deals of ``deals``. It
    always names ``is_expansion``, so the analysis frame takes the motion from it.

    >>> deal_condition(DealFilter(pipeline=["Platform"]))
    "NOT is_expansion AND pipeline IN ('Platform')"
    >>> deal_condition(DealFilter(motion="expansion", segment={"country": ["DE"]}))[:51]
    'is_expansion AND account_key IN (SELECT account_key'
    """
    parts = ["is_expansion" if deals.motion == "expansion" else "NOT is_expansion"]
    for column, values in (("pipeline", deals.pipeline), ("deal_type", deals.deal_type)):
        if values is not None:
            parts.append(f"{column} IN ({_listed(values)})")
    for column, values in sorted(deals.segment.items()):
        parts.append(
            "account_key IN (SELECT account_key FROM accounts "
            f"WHERE {column} IN ({_listed(values)}))"
        )
    return " AND ".join(parts)


def _listed(values: Sequence[str]) -> str:
    return ", ".join(literal(v) for v in values) if values else "NULL"


def describe_deals(deals: DealFilter) -> str:
    """The deal filter in words: 'new-business deals in pipeline Platform'.

    >>> describe_deals(DealFilter(pipeline=["Platform", "Core"], segment={"country": ["DE"]}))
    'new-business deals in pipeline Platform or Core, of accounts with country DE'
    """
    motion = "expansion" if deals.motion == "expansion" else "new-business"
    text = f"{motion} deals"
    if deals.pipeline is not None:
        text += f" in pipeline {' or '.join(deals.pipeline)}"
    if deals.deal_type is not None:
        text += f" of deal type {' or '.join(deals.deal_type)}"
    if deals.segment:
        cuts = [f"{column} {' or '.join(v)}" for column, v in sorted(deals.segment.items())]
        text += f", of accounts with {' and '.join(cuts)}"
    return text


def find_named(settings: Settings, name: str) -> NamedIcp:
    """The named ICP ``name`` declared in ``settings``, or an error listing those declared."""
    for named in settings.icps:
        if named.name == name:
            return named
    have = ", ".join(n.name for n in settings.icps) or "none declared"
    raise NamedIcpError(
        f"no ICP named {name!r} in {CONFIG_NAME} (named ICPs: {have})",
        hint="declare it under icps: with the deals it learns from, or run "
        "`icp derive --by pipeline`",
    )


def named_icp(settings: Settings, name: str) -> ICP | None:
    """The ICP in force of the named ICP ``name`` (None before its first derivation)."""
    named = find_named(settings, name)
    if named.icp is None:
        return None
    return load_icp(named.icp, source=f"{CONFIG_NAME}: icps.{name}.icp")


def scored_icps(settings: Settings) -> list[tuple[str, ICP]]:
    """Every named ICP with fitted points, in the order declared: what ``icp score`` adds."""
    found = []
    for named in settings.icps:
        icp = named_icp(settings, named.name)
        if icp is not None and icp.scoring is not None:
            found.append((named.name, icp))
    return found


def versions_of(root: Path, name: str) -> VersionStore:
    """The version line of the named ICP ``name``: ``.icp/icps/<name>/versions``."""
    store = VersionStore(root)
    folder = store.root / ".icp" / "icps" / name
    store.versions_dir = folder / "versions"
    store.changelog_path = folder / "CHANGELOG.md"
    return store


@dataclass
class Saved:
    """What saving a named ICP did: the ICP in force, its version, whether it was written,
    and the changes from the version before."""

    icp: ICP
    version: int
    written: bool
    changes: list[str]


def save_named(root: Path, settings: Settings, name: str, icp: ICP, note: str | None) -> Saved:
    """Save ``icp`` as the next version of the named ICP ``name`` and as its ICP in force in
    ``icp.yaml``, unless nothing moved; all or nothing (a version is never kept without the
    icp.yaml that holds it)."""
    named = find_named(settings, name)
    versions = versions_of(root, name)
    latest = versions.latest()
    if latest is not None:
        diff = diff_icps(latest, icp)
        if diff.is_empty and not diff.data_changed:
            return Saved(latest, latest.version, False, [])
        changes = format_diff(diff)
        if diff.data_changed:
            changes.append(f"data changed: {latest.data_fingerprint} -> {icp.data_fingerprint}")
    else:
        changes = ["first derivation"]
    log = versions.changelog_path
    old_log = log.read_text(encoding="utf-8") if log.is_file() else None
    old_icp = named.icp
    version = versions.save(icp)
    try:
        if latest is not None:
            versions.append_changelog(diff_icps(latest, icp), note)
        named.icp = dump_icp(icp)
        save_settings(settings, root / CONFIG_NAME)
    except OSError:
        named.icp = old_icp
        versions.path(version).unlink(missing_ok=True)
        with suppress(OSError):
            if old_log is None:
                log.unlink(missing_ok=True)
            elif log.read_text(encoding="utf-8") != old_log:
                write_atomic(log, old_log)
        raise
    return Saved(icp, version, True, changes)


@dataclass(frozen=True)
class Split:
    """One value of ``icp derive --by``: the ICP it would be, its closed deals and wins."""

    value: str
    name: str
    deals: DealFilter
    closed: int
    won: int


def split_by(
    con: duckdb.DuckDBPyConnection, by: str, settings: Settings
) -> tuple[list[Split], list[str]]:
    """The values of ``by`` (pipeline or motion) among closed deals linked to an account:
    those with enough closed deals to derive an ICP from (``analysis.min_closed_deals``,
    with wins and losses), and a sentence for each value skipped and why."""
    by = ALIASES.get(by, by)
    if by not in BY:
        raise NamedIcpError(f"cannot derive by {by!r}: one of {', '.join(BY)} (or product)")
    if by == "motion":
        column = "CASE WHEN is_expansion THEN 'expansion' ELSE 'new_business' END"
        where = "true"
    else:
        column, where = "pipeline", "NOT is_expansion"
    rows = con.execute(
        f"""SELECT {column} AS value, count(*), count(*) FILTER (WHERE outcome = 'won')
            FROM deals
            WHERE outcome IN ('won', 'lost') AND account_key IS NOT NULL AND {where}
            GROUP BY ALL ORDER BY 2 DESC, 1 NULLS LAST"""
    ).fetchall()
    least = settings.analysis.min_closed_deals
    taken = {n.name for n in settings.icps}
    splits: list[Split] = []
    skipped: list[str] = []
    for value, closed, won in rows:
        closed, won = int(closed), int(won)
        if value is None:
            skipped.append(f"{closed:,} closed deals have no {by}: they join no named ICP")
            continue
        label = f"{by} {value!r}"
        if closed < least:
            skipped.append(
                f"{label}: {closed:,} closed deals, fewer than the {least} an ICP needs "
                "(analysis.min_closed_deals)"
            )
            continue
        if won == 0 or won == closed:
            kind = "none" if won == 0 else "all"
            skipped.append(f"{label}: {kind} of its {closed:,} closed deals won: nothing to learn")
            continue
        deals = DealFilter(motion=value) if by == "motion" else DealFilter(pipeline=[str(value)])
        name = _name_for(settings, deals, str(value), taken)
        taken.add(name)
        splits.append(Split(str(value), name, deals, closed, won))
    return splits, skipped


def _name_for(settings: Settings, deals: DealFilter, value: str, taken: set[str]) -> str:
    """The declared ICP of the same deals, else a free name made of ``value``."""
    for named in settings.icps:
        if named.deals == deals:
            return named.name
    base = slug(value)
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def slug(value: str) -> str:
    """A name for an ICP made of a CRM value: lower case, words joined by _.

    >>> slug("Sales Pipeline")
    'sales_pipeline'
    >>> slug("2024 Add-ons!")
    'icp_2024_add_ons'
    """
    text = re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_") or "icp"
    if not text[0].isalpha():
        text = f"icp_{text}"
    return text[:40].rstrip("_")


def declare(settings: Settings, splits: Sequence[Split]) -> None:
    """Add to ``settings`` the named ICPs of ``splits`` not declared yet."""
    have = {n.name for n in settings.icps}
    for split in splits:
        if split.name not in have:
            settings.icps.append(NamedIcp(name=split.name, deals=split.deals))
            have.add(split.name)


def won_accounts(con: duckdb.DuckDBPyConnection, settings: Settings, name: str) -> set[str]:
    """The accounts that won at least one deal of the named ICP ``name``: its customers."""
    where = deal_condition(find_named(settings, name).deals)
    rows = con.execute(
        f"""SELECT DISTINCT account_key FROM deals
            WHERE outcome = 'won' AND account_key IS NOT NULL AND ({where})"""
    ).fetchall()
    return {str(r[0]) for r in rows}
