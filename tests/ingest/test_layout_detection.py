"""Layout detection weighs the whole file, explains itself, and proposes instead of guessing.

Files are small CSVs of real shapes: an analyst-style CRM sample (accounts, pipeline,
products, sales teams, data dictionary), Salesforce API exports, a company list with a
status column, and the demo generator's ground truth.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.demo import make_crm
from icpkit.ingest.detect import detect_layout, weigh_entity
from icpkit.ingest.problems import IngestError
from icpkit.workspace import Workspace

ACCOUNTS = """account,sector,year_established,revenue,employees,office_location,subsidiary_of
Acme Corporation,technolgy,1996,1100.04,2822,United States,
Betasoloin,medical,1999,251.41,495,United States,
Bioholding,medical,2012,587.34,1278,Philipines,
Cancity,retail,2001,718.62,2448,United States,
Codehow,software,1998,2714.9,2641,United States,Acme Corporation
"""
PIPELINE = """opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value
1C1I7A6R,Moses Frase,GTX Plus Basic,Cancity,Won,2016-10-20,2017-03-01,1054
Z063OYW0,Darcel Schlecht,GTXPro,Acme Corporation,Won,2016-10-25,2017-03-11,4514
EC4QE1BX,Darcel Schlecht,MG Special,Cancity,Won,2016-10-25,2017-03-07,50
MV1LWRNH,Moses Frase,GTX Basic,Codehow,Won,2016-10-25,2017-03-09,588
PE84CX4O,Zane Levy,GTX Basic,Betasoloin,Lost,2016-10-25,2017-03-02,0
KWVA6Z3S,Zane Levy,GTX Basic,Bioholding,Engaging,2016-10-25,,
HAXMC4IX,Zane Levy,GTX Basic,Codehow,Prospecting,,,
"""  # noqa: E501
PRODUCTS = "product,series,sales_price\nGTX Basic,GTX,550\nGTX Pro,GTX,4821\nMG Special,MG,55\n"
SALES_TEAMS = (
    "sales_agent,manager,regional_office\n"
    "Anna Snelling,Dustin Brinkmann,Central\nCecily Lampkin,Dustin Brinkmann,Central\n"
)
DICTIONARY = (
    "Table,Field,Description\n"
    "accounts,account,Company name\naccounts,sector,Industry\n"
    "sales_pipeline,deal_stage,Sales pipeline stage of the opportunity\n"
)
COMPANIES_WITH_STATUS = """name,homepage_url,category_list,funding_total_usd,status,country_code,founded_at,employees
Waywire,http://www.waywire.com,News|Media,1750000,acquired,USA,2012,11-50
Fluent,http://fluent.com,Software,0,operating,USA,2010,51-200
Closed Co,http://closedco.com,Games,250000,closed,GBR,2009,1-10
Rumbl,http://rumbl.io,Hardware,400000,operating,DEU,2014,11-50
"""  # noqa: E501
SF_ACCOUNTS = """"Id","Name","Website","Industry","NumberOfEmployees","AnnualRevenue","BillingCountry","BillingCity","BillingState","Type","ParentId","CreatedDate"
"0015e00000XyZaBAAV","Umbrella Corp","www.umbrella.co.uk","Healthcare","250","45000000","United Kingdom","London","","Customer - Direct","","2021-03-01T10:00:00.000Z"
"0015e00000XyZaCAAV","Hooli","https://hooli.com","Technology","12000","9000000000","USA","Palo Alto","CA","Prospect","","2021-04-01T10:00:00.000Z"
"0015e00000XyZaDAAV","Initech","","Consulting","80","","US","Austin","TX","Prospect","0015e00000XyZaCAAV","2021-05-01T10:00:00.000Z"
"""  # noqa: E501
SF_OPPORTUNITIES = """"Id","AccountId","Name","StageName","IsWon","IsClosed","Amount","CloseDate","CreatedDate","Type","LeadSource","OwnerId","CurrencyIsoCode","ForecastCategoryName","Probability","ExpectedRevenue"
"0065e00000AbCdEAAV","0015e00000XyZaBAAV","Umbrella - Platform","Closed Won","true","true","120000","2024-02-13","2023-11-05T09:00:00.000Z","New Customer","Web","0055e000001AbCdAAA","USD","Closed","100","120000"
"0065e00000AbCdFAAV","0015e00000XyZaCAAV","Hooli - Expansion","Negotiation/Review","false","false","60000","2024-09-30","2024-07-01T09:00:00.000Z","Existing Customer - Upgrade","Partner","0055e000001AbCdAAA","USD","Pipeline","90","54000"
"0065e00000AbCdGAAV","0015e00000XyZaDAAV","Initech - Pilot","Closed Won","false","true","8000","2024-03-01","2023-12-01T09:00:00.000Z","New Customer","Web","0055e000001AbCdAAA","USD","Omitted","0","0"
"0065e00000AbCdHAAV","0015e00000XyZaDAAV","Initech - Renewal","Prospecting","true","true","9000","2024-05-01","2024-01-01T09:00:00.000Z","New Customer","Web","0055e000001AbCdAAA","USD","Closed","100","9000"
"""  # noqa: E501


def samples_of(text: str) -> tuple[list[str], dict[str, list[str]]]:
    lines = [line.split(",") for line in text.strip().splitlines()]
    header = lines[0]
    return header, {h: [r[i] for r in lines[1:] if r[i]] for i, h in enumerate(header)}


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


# --- the analyst layout -------------------------------------------------------------


@pytest.mark.slow
def test_analyst_layout_ingests_with_zero_config_and_links_every_deal(ws, write, query) -> None:
    accounts = write("accounts.csv", ACCOUNTS)
    pipeline = write("sales_pipeline.csv", PIPELINE)
    result = ws.ingest([pipeline, accounts])
    assert result.ok, result.failures
    assert [r.entity for r in result.files] == ["deals", "companies"]
    assert query(ws, "SELECT count(*) FROM accounts") == [(5,)]
    deals = dict(
        query(
            ws,
            "SELECT d.source_id, a.name FROM deals d LEFT JOIN accounts a USING (account_key)",
        )
    )
    assert deals == {
        "1C1I7A6R": "Cancity",
        "Z063OYW0": "Acme Corporation",
        "EC4QE1BX": "Cancity",
        "MV1LWRNH": "Codehow",
        "PE84CX4O": "Betasoloin",
        "KWVA6Z3S": "Bioholding",
        "HAXMC4IX": "Codehow",
    }
    outcomes = query(ws, "SELECT outcome, count(*) FROM deals GROUP BY 1 ORDER BY 1")
    assert outcomes == [("lost", 1), ("open", 2), ("won", 4)]
    assert query(
        ws, "SELECT name, industry_raw, founded_year FROM accounts WHERE name = 'Codehow'"
    ) == [("Codehow", "software", 1998)]


@pytest.mark.slow
def test_files_that_are_not_crm_records_are_skipped_with_a_reason(ws, write, query) -> None:
    files = [
        write("products.csv", PRODUCTS),
        write("sales_teams.csv", SALES_TEAMS),
        write("data_dictionary.csv", DICTIONARY),
        write("accounts.csv", ACCOUNTS),
    ]
    result = ws.ingest(files)
    assert result.ok and not result.nothing_loaded
    skipped = {r.path.name: r.skipped for r in result.unrecognized}
    assert set(skipped) == {"products.csv", "sales_teams.csv", "data_dictionary.csv"}
    assert "none of its columns names a company, a deal, a signal or a contact" in (
        skipped["products.csv"] or ""
    )
    assert "data dictionary" in (skipped["data_dictionary.csv"] or "")
    for reason in skipped.values():
        assert "ingest.mapping" in (reason or "")
    # Only the account list was loaded: no product, agent or dictionary row became a company.
    assert query(ws, "SELECT count(*) FROM accounts") == [(5,)]
    assert query(ws, "SELECT count(*) FROM imports") == [(1,)]


@pytest.mark.slow
def test_ingest_exits_0_when_some_files_load_and_lists_the_skipped(ws, write) -> None:
    products = write("products.csv", PRODUCTS)
    accounts = write("accounts.csv", ACCOUNTS)
    code, out = cli("ingest", "--workspace", str(ws.root), str(products), str(accounts))
    assert code == 0, out
    assert "skipped products.csv: not loaded" in out
    assert "1 file not loaded (not recognized as CRM records): products.csv" in out


def test_ingest_exits_non_zero_when_nothing_could_be_loaded(ws, write) -> None:
    products = write("products.csv", PRODUCTS)
    teams = write("sales_teams.csv", SALES_TEAMS)
    code, out = cli("ingest", "--workspace", str(ws.root), str(products), str(teams))
    assert code == 1
    assert "nothing loaded" in out


# --- whole-file weighing --------------------------------------------------------------


def test_company_list_with_status_column_is_companies() -> None:
    header, samples = samples_of(COMPANIES_WITH_STATUS)
    guess = weigh_entity(header, samples)
    assert (guess.entity, guess.unsure) == ("companies", False)
    layout = detect_layout("companies.csv", header, samples)
    assert layout.entity == "companies" and layout.skip_reason is None
    assert layout.column_of("company_domain") == "homepage_url"


@pytest.mark.slow
def test_company_list_with_status_column_loads_as_accounts(ws, write, query) -> None:
    report = ws.ingest([write("companies.csv", COMPANIES_WITH_STATUS)]).files[0]
    assert report.entity == "companies"
    assert (report.rows_loaded, report.rows_quarantined) == (4, 0)
    assert query(ws, "SELECT count(*) FROM accounts") == [(4,)]
    assert query(ws, "SELECT count(*) FROM deals") == [(0,)]


def test_a_status_of_won_and_lost_with_deal_fields_is_deals() -> None:
    header, samples = samples_of(
        "name,status,value,close_date,company\n"
        "Acme deal,won,100,2024-01-01,Acme\nBeta deal,lost,50,2024-02-01,Beta\n"
    )
    guess = weigh_entity(header, samples)
    assert (guess.entity, guess.unsure) == ("deals", False)


def test_an_outcome_column_with_nothing_else_of_a_deal_is_unsure() -> None:
    # The shape of a per-deal ground truth: an outcome and company attributes, no amount,
    # no dates, no company link.
    header, samples = samples_of(
        "Record ID,outcome,Deal Type,employees,industry,country\n"
        "1,won,New Business,120,Software,US\n2,lost,New Business,15,Retail,DE\n"
    )
    guess = weigh_entity(header, samples)
    assert guess.entity == "deals" and guess.unsure
    assert "'outcome'" in guess.reason and "company attributes" in guess.reason


@pytest.mark.slow
def test_an_unsure_file_is_skipped_with_the_fix_and_force_loads_it(ws, write, query) -> None:
    path = write(
        "scores.csv",
        "Record ID,outcome,Deal Type,employees,industry,country\n"
        "1,won,New Business,120,Software,US\n2,lost,New Business,15,Retail,DE\n",
    )
    dry = ws.ingest([path], dry_run=True).files[0]
    assert dry.unrecognized and dry.skipped
    assert "may hold deals (confidence 0.50)" in dry.skipped
    assert "icp ingest --force scores.csv" in dry.skipped
    assert "ingest.mapping: [{files: 'scores.csv', entity: deals}]" in dry.skipped
    assert ws.ingest([path]).files[0].unrecognized
    assert query(ws, "SELECT count(*) FROM deals") == [(0,)]
    forced = ws.ingest([path], force=True).files[0]
    assert not forced.unrecognized and forced.entity == "deals"
    assert query(ws, "SELECT count(*) FROM deals") == [(2,)]


def test_a_mapping_entity_loads_an_unsure_file(ws, write, query) -> None:
    from icpkit.config import MappingRule

    ws.settings.ingest.mapping.append(MappingRule(files="scores.csv", entity="deals"))
    path = write("scores.csv", "Record ID,outcome\n1,won\n2,lost\n")
    report = ws.ingest([path]).files[0]
    assert report.entity == "deals" and not report.unrecognized


# --- the generator's ground truth ---------------------------------------------------------


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    make_crm(300, 5, out)
    return out


def test_demo_data_keeps_its_ground_truth_out_of_the_exports_glob(demo_out: Path) -> None:
    assert sorted(p.name for p in demo_out.glob("*.csv")) == [
        "companies.csv",
        "deals.csv",
        "signals.csv",
    ]
    assert (demo_out / "truth" / "deal_truth.csv").is_file()


def test_ground_truth_files_are_not_taken_for_companies(tmp_path: Path, demo_out: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    result = ws.ingest(sorted((demo_out / "truth").glob("*.csv")))
    assert result.nothing_loaded
    assert {r.path.name for r in result.unrecognized} == {"deal_truth.csv", "company_truth.csv"}
    for report in result.unrecognized:
        assert "ground truth" in (report.skipped or "")


# --- explain and propose ------------------------------------------------------------------


@pytest.mark.slow
def test_deals_linking_to_no_account_say_which_column_holds_it(ws, write, query) -> None:
    ws.ingest([write("companies.csv", ACCOUNTS)])
    deals = write(
        "deals.csv",
        "opportunity_id,deal_stage,close_value,close_date,org_label\n"
        "A1,Won,100,2017-01-01,Cancity\nA2,Lost,100,2017-01-01,Codehow\n"
        "A3,Won,100,2017-01-01,Acme Corporation\nA4,Lost,100,2017-01-01,Betasoloin\n",
    )
    for dry_run in (True, False):
        report = ws.ingest([deals], dry_run=dry_run).files[0]
        assert report.unlinked == 4
        (warning,) = report.warnings
        assert "no column links these deals to an account" in warning
        assert "'org_label': 4 distinct values, 100% match names in companies.csv" in warning
        assert "ingest.mapping: [{files: 'deals.csv', columns: {'org_label': company_name}}]" in (
            warning
        )
    code, out = cli("ingest", "--workspace", str(ws.root), "--dry-run", "--force", str(deals))
    assert code == 0
    assert "4 without an account" in out and "'org_label': 4 distinct values" in out


@pytest.mark.slow
def test_the_proposed_mapping_line_links_the_deals(ws, write, query) -> None:
    from icpkit.config import MappingRule

    ws.ingest([write("companies.csv", ACCOUNTS)])
    ws.settings.ingest.mapping.append(
        MappingRule(files="deals.csv", columns={"org_label": "company_name"})
    )
    deals = write(
        "deals.csv",
        "opportunity_id,deal_stage,org_label\nA1,Won,Cancity\nA2,Lost,Codehow\n",
    )
    report = ws.ingest([deals]).files[0]
    assert report.unlinked == 0 and not report.warnings
    assert query(ws, "SELECT count(*) FROM deals WHERE account_key IS NULL") == [(0,)]


def test_a_missing_stage_names_the_column_that_holds_it(ws, write) -> None:
    path = write(
        "opps.csv",
        "opportunity_id,phase,close_value,close_date,account\n"
        "B1,Won,100,2017-01-01,Cancity\nB2,Lost,100,2017-01-01,Codehow\n"
        "B3,Engaging,100,2017-01-01,Acme\n",
    )
    for dry_run in (True, False):
        result = ws.ingest([path], dry_run=dry_run)
        (failure,) = result.failures
        message = str(failure[1])
        assert "missing a required column for deals" in message
        assert "'phase': 3 distinct values" in message
        assert "'Won' -> won" in message
        assert "ingest.mapping: [{files: 'opps.csv', columns: {'phase': stage}}]" in message


@pytest.mark.slow
def test_signals_without_a_company_propose_the_column_from_the_workspace(ws, write) -> None:
    ws.ingest([write("companies.csv", ACCOUNTS)])
    signals = write(
        "intent.csv",
        "Signal Type,Signal Date,firm\njob_posting,2024-01-01,Cancity\n"
        "funding_round,2024-02-01,Codehow\n",
    )
    with pytest.raises(IngestError) as err:
        detect_layout(
            "intent.csv",
            ["Signal Type", "Signal Date", "firm"],
            {"firm": ["Cancity", "Codehow"], "Signal Type": ["job_posting"]},
        )
    assert "'firm': 2 distinct values, names such as 'Cancity', 'Codehow'" in str(err.value)
    (failure,) = ws.ingest([signals]).failures
    assert "'firm': 2 distinct values, 100% match names in companies.csv" in str(failure[1])


# --- outcome precedence ------------------------------------------------------------------


@pytest.mark.slow
def test_is_won_and_is_closed_beat_the_stage_name(ws, write, query) -> None:
    ws.ingest([write("Opportunity.csv", SF_OPPORTUNITIES)])
    assert query(ws, "SELECT source_id, stage, outcome FROM deals ORDER BY 1") == [
        ("0065e00000AbCdE", "Closed Won", "won"),
        ("0065e00000AbCdF", "Negotiation/Review", "open"),
        ("0065e00000AbCdG", "Closed Won", "lost"),  # IsWon false, IsClosed true
        ("0065e00000AbCdH", "Prospecting", "won"),  # IsWon true
    ]


@pytest.mark.parametrize(
    ("column", "flag", "stage", "outcome"),
    [
        ("won", "false", "Closed Won", "lost"),
        ("won", "true", "Negotiation", "won"),
        ("is_closed", "false", "Closed Lost", "open"),
        ("is_closed", "true", "Closed Won", "won"),
        ("is_closed", "true", "Negotiation", "lost"),
    ],
)
def test_a_single_checkbox_beats_the_stage(ws, write, query, column, flag, stage, outcome) -> None:
    path = write("deals.csv", f"deal_id,deal_stage,{column},amount\n1,{stage},{flag},10\n")
    ws.ingest([path])
    assert query(ws, "SELECT outcome FROM deals") == [(outcome,)]


# --- Salesforce API layout ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("order", ["accounts first", "opportunities first"])
def test_salesforce_api_export_links_opportunity_account_id_to_account_id(
    ws, write, query, order
) -> None:
    accounts = write("Account.csv", SF_ACCOUNTS)
    opps = write("Opportunity.csv", SF_OPPORTUNITIES)
    files = [accounts, opps] if order == "accounts first" else [opps, accounts]
    result = ws.ingest(files)
    assert result.ok, result.failures
    assert {r.system for r in result.files} == {"salesforce"}
    assert query(
        ws,
        "SELECT d.source_id, a.name FROM deals d JOIN accounts a USING (account_key) ORDER BY 1",
    ) == [
        ("0065e00000AbCdE", "Umbrella Corp"),
        ("0065e00000AbCdF", "Hooli"),
        ("0065e00000AbCdG", "Initech"),
        ("0065e00000AbCdH", "Initech"),
    ]
    assert query(ws, "SELECT count(*) FROM accounts") == [(3,)]
