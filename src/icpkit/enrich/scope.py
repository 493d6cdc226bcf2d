"""Which accounts a run covers when the user names them: a file of domains (one a line, or
a CSV/XLSX with a domain or website column); a domain the workspace does not hold yet is
added as an account of its own (origin ``list``) so it can be enriched and scored."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb

from icpkit.errors import IcpkitError
from icpkit.ingest.normalize.domains import account_domain

_DOMAIN_HEADERS = ("domain", "website", "company domain name", "company domain", "url", "web")


class DomainListError(IcpkitError):
    """A file of domains that cannot be read."""


def read_domains(path: Path) -> tuple[list[str], list[str]]:
    """The registrable domains listed in ``path`` (in order, once each) and the problems of
    the lines that hold none ('file, line N: no domain in "..."')."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DomainListError(f"{path}: cannot read the list of domains ({exc})") from exc
    rows = list(csv.reader(io.StringIO(text)))
    column = 0
    start = 0
    if rows:
        header = [h.strip().casefold() for h in rows[0]]
        for i, name in enumerate(header):
            if name in _DOMAIN_HEADERS:
                column, start = i, 1
                break
    domains: list[str] = []
    problems: list[str] = []
    for line, row in enumerate(rows[start:], start=start + 1):
        cell = row[column].strip() if len(row) > column else ""
        if not cell:
            continue
        try:
            domain = account_domain(cell)
        except ValueError as exc:
            problems.append(f"{path.name}, line {line}: {exc}")
            continue
        if domain is None:
            problems.append(f"{path.name}, line {line}: no domain in {cell!r}")
        elif domain not in domains:
            domains.append(domain)
    return domains, problems


def accounts_of_domains(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """The account keys of the domains in ``path``, adding the ones the store lacks."""
    domains, problems = read_domains(path)
    if not domains:
        detail = f" ({problems[0]})" if problems else ""
        raise DomainListError(f"{path}: holds no domain{detail}")
    known = dict(
        con.execute(
            "SELECT domain, min(account_key) FROM accounts WHERE domain IN "
            "(SELECT unnest(?)) GROUP BY domain",
            [domains],
        ).fetchall()
    )
    missing = [d for d in domains if d not in known]
    if missing:
        con.execute(
            "INSERT INTO accounts (account_key, domain, origin, source_file) "
            "SELECT d, d, 'list', ? FROM (SELECT unnest(?) AS d)",
            [path.name, missing],
        )
    return [known.get(d, d) for d in domains]
