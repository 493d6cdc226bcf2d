"""SEC EDGAR public filings (keyless): industry (SIC), state, address, and dated signals
from filings: Form D (a private offering: a funding round) and Form 8-K item 5.02 (a
director or officer appointed or leaving: a leadership change).

SEC asks every client for a descriptive User-Agent with a contact address and at most 10
requests a second: set ``enrich.user_agent`` to name you and give an email (for example
``"Acme Analytics ops@acme.com"``); SEC answers 403 to anonymous-looking clients.

Matching a company to its registrant key (CIK):
1. SEC's ticker file ``https://www.sec.gov/files/company_tickers.json``
   (``{"0": {"cik_str": 320193, "ticker": "AAPL", "title": "Apple Inc."}, ...}``), fetched
   once per run: the account's name equals a registrant's after both drop case,
   punctuation and legal forms (Inc, Corp, LLC, GmbH ...) (confidence 0.8); else the
   domain's first label equals the registrant's name written without spaces
   (``apple.com`` -> "Apple Inc.", confidence 0.6, or 0.45 when the account has a name
   that did not match, below the default ``min_confidence``). Two registrants with that
   name: no match, as guessing would be worse than nothing.
2. Private companies (most Form D filers) have no ticker: EDGAR's company browse as Atom,
   ``https://www.sec.gov/cgi-bin/browse-edgar?action=getcompany&company=<name>&type=D
   &output=atom``, answers one company's ``<company-info>`` (``<cik>``,
   ``<conformed-name>``) when the name is unambiguous; it is accepted only when the
   conformed name equals the account's after the same normalization. The browse pages
   are not a documented API, so this step keeps to robots.txt; any other answer (a list
   of companies, an HTML page) is no match, and a search that could not be read is named
   in the miss's reason. ``search_private=False`` leaves the step out.
Then ``https://data.sec.gov/submissions/CIK##########.json``: ``sic``, ``sicDescription``,
``stateOfIncorporation``, ``addresses.business`` and the ``filings.recent`` arrays.
"""

from __future__ import annotations

import asyncio
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from icpkit.config import EnrichSettings
from icpkit.enrich.context import Context
from icpkit.enrich.fetch import Fetcher, FetchError
from icpkit.enrich.model import Lookup, Observation, Target
from icpkit.enrich.providers.keyed import day_of, text_of

TICKERS_URL = "https://www.sec.gov/files/company_tickers.json"
SUBMISSIONS_URL = "https://data.sec.gov/submissions/CIK{cik:010d}.json"
BROWSE_URL = "https://www.sec.gov/cgi-bin/browse-edgar"
ARCHIVES = "https://www.sec.gov/Archives/edgar/data"
NAME_CONFIDENCE = 0.8
STEM_CONFIDENCE = 0.6
DOUBTFUL_CONFIDENCE = 0.45
FORM_D_AMOUNTS = 5  # Form D documents read for their amount, newest first, per company

US_STATES = frozenset(
    {
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL",
        "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE",
        "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD",
        "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "PR", "VI", "GU", "AS", "MP",
    }
)  # fmt: skip
"""EDGAR's state codes that are the United States (the 50 states, DC and territories);
every other code names a foreign country or province."""

_LEGAL = frozenset(
    {
        "inc", "incorporated", "corp", "corporation", "co", "company", "llc", "llp", "lp", "ltd",
        "limited", "plc", "gmbh", "ag", "sa", "se", "nv", "bv", "sarl", "srl",
        "spa", "ab", "oy", "as", "asa", "kk", "pty", "pte", "holdings",
    }
)  # fmt: skip
_STATE_TAG = re.compile(r"/[a-z]{2}/?\s*$", re.I)  # SEC's 'ACME CORP /DE/'


def normalize_name(name: str) -> str:
    """A company name compared without case, punctuation or trailing legal forms.

    >>> normalize_name("Apple Inc."), normalize_name("ACME HOLDINGS CORP /DE/")
    ('apple', 'acme')
    >>> normalize_name("Procter & Gamble Co")
    'procter gamble'
    """
    text = _STATE_TAG.sub("", name.casefold())
    words = re.sub(r"[^\w]+", " ", text.replace("&", " ")).split()
    if words and words[0] == "the":
        words = words[1:]
    while len(words) > 1 and words[-1] in _LEGAL:
        words.pop()
    return " ".join(words)


@dataclass(frozen=True)
class Registrant:
    cik: int
    title: str


@dataclass(frozen=True)
class Match:
    registrant: Registrant
    confidence: float
    how: str


@dataclass(frozen=True)
class Trouble:
    """SEC could not be asked or refused: the account failed (a later run asks again)."""

    reason: str
    status: int | None = None


class TickerIndex:
    """SEC's ticker file, indexed by normalized name and by name without spaces."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        by_name: dict[str, dict[int, Registrant]] = {}
        for row in doc.values() if isinstance(doc, dict) else ():
            if not isinstance(row, dict):
                continue
            cik, title = row.get("cik_str"), text_of(row.get("title"))
            if not isinstance(cik, int) or title is None:
                continue
            by_name.setdefault(normalize_name(title), {})[cik] = Registrant(cik, title)
        self.by_name = by_name
        self.by_compact: dict[str, dict[int, Registrant]] = {}
        for key, registrants in by_name.items():
            self.by_compact.setdefault(key.replace(" ", ""), {}).update(registrants)

    def match(self, target: Target) -> Match | str:
        """The registrant ``target`` is, or why none is."""
        if target.name:
            found = self.by_name.get(normalize_name(target.name), {})
            if len(found) == 1:
                return Match(next(iter(found.values())), NAME_CONFIDENCE, "name")
            if len(found) > 1:
                return f"{len(found)} SEC registrants are named like {target.name!r}"
        if target.domain:
            stem = target.domain.split(".")[0].casefold()
            found = self.by_compact.get(stem, {}) if len(stem) >= 3 else {}
            if len(found) == 1:
                # The account's own name, when it has one, did not match: the domain alone
                # is then shown but does not win a field at the default min_confidence.
                confidence = DOUBTFUL_CONFIDENCE if target.name else STEM_CONFIDENCE
                return Match(next(iter(found.values())), confidence, "domain")
        return "no SEC registrant with that name"


def browse_match(xml_text: str | bytes, name: str) -> Registrant | None:
    """The registrant an EDGAR company-browse Atom feed names, when it names exactly one
    and its conformed name is ``name`` once normalized."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return None
    infos = [el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "company-info"]
    if len(infos) != 1:
        return None
    fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in infos[0]}
    cik, conformed = fields.get("cik", ""), fields.get("conformed-name", "")
    if not cik.isdigit() or not conformed:
        return None
    if normalize_name(conformed) != normalize_name(name):
        return None
    return Registrant(int(cik), conformed)


def filing_index_url(cik: int, accession: str) -> str:
    """The filing's index page: where a person reads it.

    >>> filing_index_url(320193, "0000320193-23-000106")
    'https://www.sec.gov/Archives/edgar/data/320193/000032019323000106/0000320193-23-000106-index.htm'
    """
    return f"{ARCHIVES}/{cik}/{accession.replace('-', '')}/{accession}-index.htm"


@dataclass(frozen=True)
class Filing:
    form: str
    day: str
    accession: str
    items: str
    document: str


def recent_filings(submissions: Mapping[str, Any]) -> list[Filing]:
    """``filings.recent``'s parallel arrays as one record per filing."""
    filings = submissions.get("filings")
    recent = filings.get("recent") if isinstance(filings, dict) else None
    if not isinstance(recent, dict):
        return []

    def column(name: str) -> list[Any]:
        value = recent.get(name)
        return value if isinstance(value, list) else []

    forms, days, accessions = column("form"), column("filingDate"), column("accessionNumber")
    items, documents = column("items"), column("primaryDocument")
    out = []
    for i, form in enumerate(forms):
        if i >= len(days) or i >= len(accessions):
            break
        out.append(
            Filing(
                str(form),
                str(days[i]),
                str(accessions[i]),
                str(items[i]) if i < len(items) and items[i] else "",
                str(documents[i]) if i < len(documents) and documents[i] else "",
            )
        )
    return out


def edgar_observations(
    submissions: Mapping[str, Any],
    cik: int,
    source_url: str,
    confidence: float = NAME_CONFIDENCE,
    amounts: Mapping[str, str] | None = None,
) -> list[Observation]:
    """The observations a submissions document holds (a pure function of the JSON):
    industry as ``SIC <code>``, state of incorporation, the business address's country
    and city, Form D filings as funding rounds (with the amount sold where ``amounts``,
    by accession number, has it) and 8-K item 5.02 filings as leadership changes."""
    out: list[Observation] = []

    def add(
        field: str, value: str | None, raw: str | None = None, evidence: str | None = None
    ) -> None:
        if value:
            out.append(Observation(field, value, confidence, source_url, raw or value, evidence))

    add("name", text_of(submissions.get("name")))
    sic, described = text_of(submissions.get("sic")), text_of(submissions.get("sicDescription"))
    if sic:
        add("industry", f"SIC {sic}", raw=sic, evidence=described)
    else:
        add("industry", described)
    add("extra:state_of_incorporation", text_of(submissions.get("stateOfIncorporation")))
    addresses = submissions.get("addresses")
    business = addresses.get("business") if isinstance(addresses, dict) else None
    if isinstance(business, dict):
        code = text_of(business.get("stateOrCountry"))
        if code and code.upper() in US_STATES:
            add("country", "US", raw=code)
            add("state", code.upper())
        elif code:
            named = text_of(business.get("country")) or text_of(
                business.get("stateOrCountryDescription")
            )
            add("country", named or code, raw=code)
        add("city", text_of(business.get("city")))
    for filing in recent_filings(submissions):
        day = day_of(filing.day)
        if day is None:
            continue
        url = filing_index_url(cik, filing.accession)
        if filing.form == "D":
            amount = (amounts or {}).get(filing.accession)
            detail = f"Form D {amount}" if amount else "Form D"
            out.append(
                Observation(
                    "signal:funding_round", detail, confidence, url, raw=filing.form,
                    evidence=f"Form D filed {filing.day}", observed_at=day,
                )
            )  # fmt: skip
        elif filing.form == "8-K" and "5.02" in filing.items.split(","):
            out.append(
                Observation(
                    "signal:leadership_change", "Form 8-K item 5.02", confidence, url,
                    raw=filing.items, evidence=f"8-K items {filing.items} filed {filing.day}",
                    observed_at=day,
                )
            )  # fmt: skip
    return out


def form_d_amount(xml_text: str | bytes) -> str | None:
    """The total amount sold a Form D's ``primary_doc.xml`` states, as '$12M'.

    >>> form_d_amount("<edgarSubmission><offeringData><offeringSalesAmounts>"
    ...     "<totalAmountSold>12000000</totalAmountSold></offeringSalesAmounts>"
    ...     "</offeringData></edgarSubmission>")
    '$12M'
    """
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return None
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == "totalAmountSold" and el.text:
            try:
                amount = float(el.text.strip())
            except ValueError:
                return None
            return money_text(amount) if amount > 0 else None
    return None


def money_text(amount: float) -> str:
    """'$12M', '$1.5B', '$250K', '$900'.

    >>> money_text(1_500_000_000), money_text(250_000), money_text(12_345_678)
    ('$1.5B', '$250K', '$12.3M')
    """
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if amount >= size:
            return f"${amount / size:.1f}".rstrip("0").rstrip(".") + unit
    return f"${amount:.0f}"


class EdgarProvider:
    """SEC EDGAR: a company's registrant facts and its Form D and 8-K 5.02 filings."""

    name = "edgar"
    fields = frozenset(
        {
            "name", "industry", "country", "city", "state", "extra:state_of_incorporation",
            "signal:funding_round", "signal:leadership_change",
        }
    )  # fmt: skip
    cost = 0.0
    rate: float | None = 10.0  # SEC's fair-access limit
    batch_size = 1
    ttl_days = 7.0  # filings arrive daily
    keyless = True

    def __init__(
        self,
        settings: EnrichSettings,
        secrets: Mapping[str, str] | None = None,
        *,
        search_private: bool = True,
        form_d_amounts: bool = True,
    ) -> None:
        self.settings = settings
        self.search_private = search_private
        self.form_d_amounts = form_d_amounts
        self._index: TickerIndex | Trouble | None = None  # the index, or why it is missing
        self._lock = asyncio.Lock()

    async def lookup(self, targets: Sequence[Target], ctx: Context) -> list[Lookup]:
        return [await self._one(target, ctx) for target in targets]

    async def _tickers(self, fetcher: Fetcher) -> TickerIndex | Trouble:
        async with self._lock:
            if self._index is None:
                got = await self._json(fetcher, TICKERS_URL)
                self._index = TickerIndex(got) if isinstance(got, dict) else got
            return self._index

    async def _json(self, fetcher: Fetcher, url: str) -> dict[str, Any] | Trouble:
        """The JSON object at ``url``, or why it could not be had."""
        try:
            response = await fetcher.get(url, robots=False)
        except FetchError as exc:
            return Trouble(f"SEC: {exc.reason}")
        if response.status != 200:
            return Trouble(self._refusal(response.status, url), response.status)
        if response.truncated:
            return Trouble(f"SEC: {url} is larger than the size cap (enrich.max_bytes)")
        try:
            doc = json.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            return Trouble(f"SEC: {url} is not JSON")
        return doc if isinstance(doc, dict) else Trouble(f"SEC: {url} is not a JSON object")

    def _refusal(self, status: int, url: str) -> str:
        if status == 403 and "@" not in self.settings.user_agent:
            return (
                "SEC refused the request (403): set enrich.user_agent to name you with a "
                "contact email, as SEC asks"
            )
        return f"SEC answered {status} for {url}"

    async def _match(self, target: Target, ctx: Context) -> Match | Trouble | str:
        """The registrant ``target`` is, SEC's trouble, or why there is none (a miss)."""
        index = await self._tickers(ctx.fetcher)
        if isinstance(index, Trouble):
            return index
        found = index.match(target)
        if isinstance(found, Match) or not (self.search_private and target.name):
            return found
        params = {
            "action": "getcompany", "company": target.name, "type": "D",
            "owner": "include", "count": "10", "output": "atom",
        }  # fmt: skip
        try:
            response = await ctx.fetcher.get(BROWSE_URL, params=params)
        except FetchError as exc:
            # A best effort: the ticker answer stands, saying why the search was not had.
            return f"{found}; EDGAR company search not read ({exc.reason})"
        if response.status != 200:
            return f"{found}; EDGAR company search answered {response.status}"
        registrant = browse_match(response.body, target.name)
        if registrant is None:
            return found
        return Match(registrant, NAME_CONFIDENCE, "EDGAR company search")

    async def _one(self, target: Target, ctx: Context) -> Lookup:
        if not (target.name or target.domain):
            return Lookup(target.account_key, "miss", reason="no name or domain to match")
        match = await self._match(target, ctx)
        if isinstance(match, Trouble):
            return Lookup.failed(target.account_key, match.reason)
        if isinstance(match, str):
            return Lookup(target.account_key, "miss", reason=match)
        cik = match.registrant.cik
        url = SUBMISSIONS_URL.format(cik=cik)
        doc = await self._json(ctx.fetcher, url)
        if isinstance(doc, Trouble):
            if doc.status == 404:
                return Lookup(target.account_key, "miss", reason=f"SEC has no filings of {cik}")
            return Lookup.failed(target.account_key, doc.reason)
        amounts = await self._amounts(cik, doc, ctx.fetcher) if self.form_d_amounts else {}
        observations = edgar_observations(doc, cik, url, match.confidence, amounts)
        return Lookup.of(
            target.account_key, observations, f"SEC registrant {cik} has no usable field"
        )

    async def _amounts(self, cik: int, doc: Mapping[str, Any], fetcher: Fetcher) -> dict[str, str]:
        """The amount sold of the newest Form Ds, read from their primary_doc.xml; a
        document that cannot be read leaves its filing as a plain 'Form D'."""
        amounts: dict[str, str] = {}
        forms = [f for f in recent_filings(doc) if f.form == "D"][:FORM_D_AMOUNTS]
        for filing in forms:
            url = f"{ARCHIVES}/{cik}/{filing.accession.replace('-', '')}/primary_doc.xml"
            try:
                response = await fetcher.get(url, robots=False)
            except FetchError:
                continue
            if response.status == 200 and not response.truncated:
                amount = form_d_amount(response.body)
                if amount is not None:
                    amounts[filing.accession] = amount
        return amounts
