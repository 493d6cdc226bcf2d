"""Bring-your-own enrichment files: ZoomInfo, Apollo and Clay exports and any file keyed
by domain answer lookups with observations that point at their cell; rows that cannot be
matched and rows overridden by a later duplicate are reported, never dropped silently."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from icpkit.config import EnrichSettings
from icpkit.enrich.context import Context
from icpkit.enrich.dns import Records
from icpkit.enrich.fetch import Fetcher
from icpkit.enrich.fields import read
from icpkit.enrich.model import Lookup, Provider, Target
from icpkit.enrich.providers import keyed
from icpkit.enrich.providers.files import FileProvider, recognize
from icpkit.ingest.problems import IngestError

API = Path(__file__).parents[1] / "fixtures" / "enrich" / "api"
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
KNOWN = {keyed.tool_key(n): n for n in ("HubSpot", "Salesforce", "Google Analytics")}

ZOOMINFO = (
    "ZoomInfo Company ID,Company Name,Website,Employees,Employee Range,"
    "Revenue (in 000s USD),Primary Industry,NAICS Code 1,Country,City,Founded Year,"
    "Ownership Type\n"
    "1001,Northwind Analytics,www.northwind.io,140,50 - 249,18000,Software,511210,"
    "United States,Austin,2016,Private\n"
    '1002,Contoso Robotics,https://contoso.com/about,,1000 - 4999,"1,250,000",,333249,'
    "Germany,Munich,1998,Public\n"
)
APOLLO = (
    "Company,Website,# Employees,Industry,Technologies,Annual Revenue,Company Country,"
    "Founded Year,Total Funding,Latest Funding,Latest Funding Date,Keywords\n"
    "Northwind Analytics,http://www.northwind.io,140,computer software,"
    '"Hubspot, Salesforce, Google-Analytics, Acme Widget",18000000,United States,2016,'
    '24500000,Series A,2025-06-01,"revenue analytics, saas"\n'
)


@pytest.fixture(autouse=True)
def fingerprint_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyed, "canonical_tools", lambda: KNOWN)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def answer(provider: FileProvider, *targets: Target) -> list[Lookup]:
    settings = EnrichSettings()

    class NoDns:
        async def records(self, domain: str) -> Records:
            return Records()

    ctx = Context(Fetcher(settings), NoDns(), settings, NOW)
    return asyncio.run(provider.lookup(list(targets), ctx))


def seen(lookup: Lookup) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for o in lookup.observations:
        out.setdefault(o.field, []).append(o.value)
    return out


# -- layouts ---------------------------------------------------------------------------


def test_a_zoominfo_export_is_recognized_and_its_thousands_become_dollars(tmp_path: Path) -> None:
    provider = FileProvider(write(tmp_path, "zoominfo.csv", ZOOMINFO), "zoominfo")
    assert provider.layout.kind == "zoominfo" and provider.layout.domain == "Website"
    northwind, contoso = answer(provider, Target("nw", "northwind.io"), Target("ct", "contoso.com"))
    nw = seen(northwind)
    assert nw["employees"] == ["140"]  # the count, over the range column
    assert nw["revenue"] == ["18000000"]  # 18,000 thousand dollars
    assert nw["industry"] == ["Software"]
    assert nw["country"] == ["United States"] and nw["founded_year"] == ["2016"]
    assert nw["extra:Ownership Type"] == ["Private"]
    assert nw["extra:ZoomInfo Company ID"] == ["1001"]
    ct = seen(contoso)
    assert ct["employees"] == ["1000 - 4999"]  # the count is blank: the range stands in
    assert ct["revenue"] == ["1250000000"]
    assert ct["industry"] == ["NAICS 333249"]  # no primary industry: the code, named
    for lookup in (northwind, contoso):
        for o in lookup.observations:
            if not o.field.startswith("extra:"):
                assert read(o.field, o.value, NOW.date()).problem is None, (o.field, o.value)


def test_an_apollo_export_lists_tools_under_icpkits_names_and_dates_the_round(
    tmp_path: Path,
) -> None:
    provider = FileProvider(write(tmp_path, "apollo-accounts-export.csv", APOLLO))
    assert provider.layout.kind == "apollo_csv"
    assert provider.name == "apollo_accounts_export"
    [lookup] = answer(provider, Target("nw", "https://www.northwind.io/pricing"))
    found = seen(lookup)
    assert found["tech"] == ["HubSpot", "Salesforce", "Google Analytics", "Acme Widget"]
    assert found["employees"] == ["140"] and found["country"] == ["United States"]
    assert found["total_funding"] == ["24500000"] and found["funding_stage"] == ["Series A"]
    [signal] = [o for o in lookup.observations if o.field == "signal:funding_round"]
    assert signal.value == "Series A"
    assert signal.observed_at == dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    assert found["extra:Keywords"] == ["revenue analytics, saas"]


def test_a_clay_export_is_recognized_by_its_company_domain_column() -> None:
    layout = recognize(["Name", "Company Domain", "Employee Count", "Tech Stack", "Score"])
    assert layout.kind == "clay" and layout.domain == "Company Domain"
    assert layout.roles["employees"] == ("Employee Count",)
    assert layout.roles["tech"] == ("Tech Stack",)
    assert layout.extras == ("Score",)


def test_any_file_with_a_domain_column_is_read_and_unknown_columns_are_kept(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "intent.csv",
        "domain;headcount;Intent Topic;hq country\nnorthwind.io;140;CRM;US\n",
    )
    provider = FileProvider(path)
    assert provider.layout.kind == "domain-keyed" and provider.name == "intent"
    [lookup] = answer(provider, Target("nw", "northwind.io"))
    assert seen(lookup) == {
        "employees": ["140"], "extra:Intent Topic": ["CRM"], "country": ["US"]
    }  # fmt: skip
    assert "extra:Intent Topic" in provider.fields and "employees" in provider.fields


def test_observations_point_at_their_file_line_and_cell(tmp_path: Path) -> None:
    provider = FileProvider(write(tmp_path, "zoominfo.csv", ZOOMINFO), "zoominfo")
    _, contoso = answer(provider, Target("nw", "northwind.io"), Target("ct", "contoso.com"))
    revenue = next(o for o in contoso.observations if o.field == "revenue")
    assert revenue.source_url == "file:zoominfo.csv:line 3"
    assert revenue.raw == "1,250,000" and revenue.evidence == "column 'Revenue (in 000s USD)'"


def test_a_file_without_a_domain_column_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "names.csv", "Company,Employees\nNorthwind,140\n")
    with pytest.raises(IngestError, match=r"names\.csv.*no column of domains or websites"):
        FileProvider(path)


# -- rows that cannot be used ----------------------------------------------------------


def test_rows_without_a_readable_domain_are_reported_with_line_column_and_value(
    tmp_path: Path,
) -> None:
    text = (
        "Website,Employees\n"
        "northwind.io,140\n"
        ",25\n"
        "https://www.facebook.com/,30\n"
        "not a domain at all,12\n"
        ",\n"
    )
    provider = FileProvider(write(tmp_path, "export.csv", text))
    assert len(provider) == 1
    problems = [(p.line, p.column, p.value) for p in provider.problems]
    assert problems == [
        (3, "Website", None),
        (4, "Website", "https://www.facebook.com/"),
        (5, "Website", "not a domain at all"),
    ]
    assert "shared platform" in provider.problems[1].reason
    assert all(p.file == "export.csv" for p in provider.problems)


def test_a_duplicate_domain_keeps_the_later_row_and_reports_the_earlier(tmp_path: Path) -> None:
    text = "Website,Employees\nnorthwind.io,100\nhttps://www.northwind.io,140\n"
    provider = FileProvider(write(tmp_path, "export.csv", text))
    [lookup] = answer(provider, Target("nw", "northwind.io"))
    assert seen(lookup)["employees"] == ["140"]
    [problem] = provider.problems
    assert problem.line == 2 and "appears again at line 3" in problem.reason


def test_an_account_not_in_the_file_is_a_miss(tmp_path: Path) -> None:
    provider = FileProvider(write(tmp_path, "zoominfo.csv", ZOOMINFO))
    missing, no_domain = answer(provider, Target("x", "elsewhere.io"), Target("y", None, "Y"))
    assert missing.status == no_domain.status == "miss"
    assert missing.reason == "not in zoominfo.csv"


# -- formats ---------------------------------------------------------------------------


def test_a_windows_1252_export_reads_its_accents(tmp_path: Path) -> None:
    text = "Website,City\nmuenchen-ag.de,München\n"
    provider = FileProvider(write(tmp_path, "export.csv", text, encoding="cp1252"))
    [lookup] = answer(provider, Target("m", "muenchen-ag.de"))
    assert seen(lookup)["city"] == ["München"]


def test_an_xlsx_export_reads_like_its_csv(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    for row in ZOOMINFO.strip().split("\n")[:2]:
        sheet.append(row.split(","))
    path = tmp_path / "zoominfo.xlsx"
    book.save(path)
    provider = FileProvider(path, "zoominfo")
    [lookup] = answer(provider, Target("nw", "northwind.io"))
    assert seen(lookup)["revenue"] == ["18000000"]
    assert lookup.observations[0].source_url == "file:zoominfo.xlsx:row 2"


def test_the_provider_keeps_the_protocol_keyless_and_free(tmp_path: Path) -> None:
    provider = FileProvider(write(tmp_path, "zoominfo.csv", ZOOMINFO), "zoominfo")
    assert isinstance(provider, Provider)
    assert provider.name == "zoominfo" and provider.keyless and provider.cost == 0
    assert provider.ttl_days >= 36500


def test_a_json_lines_file_of_clearbit_documents_reads_as_the_api_would(tmp_path: Path) -> None:
    doc = json.loads((API / "clearbit_companies_find.json").read_text("utf-8"))
    lines = [json.dumps(doc), "", "not json", json.dumps({"name": "No Domain Inc"})]
    provider = FileProvider(write(tmp_path, "vendor.jsonl", "\n".join(lines) + "\n"), "vendor")
    assert provider.layout.kind == "clearbit_json" and "tech" in provider.fields
    [lookup] = answer(provider, Target("nw", "northwind.io"))
    found = seen(lookup)
    assert found["employees"] == ["140"] and found["industry"] == ["NAICS 511210"]
    assert "HubSpot" in found["tech"]
    assert {o.source_url for o in lookup.observations} == {"file:vendor.jsonl:line 1"}
    assert [(p.line, p.reason) for p in provider.problems] == [
        (3, "not a JSON object"),
        (4, "no domain in this row: it cannot be matched to an account"),
    ]
