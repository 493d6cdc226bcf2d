"""Text as the file means it: the encoding judged from the content (classic Mac exports
included), double-encoded cells repaired, and a file read again another way replacing its
earlier reading instead of adding to it."""

from __future__ import annotations

import codecs
import doctest
from collections.abc import Callable
from pathlib import Path

import pytest

from icpkit.ingest import charsets, mojibake, readers
from icpkit.ingest.charsets import rank_encodings, unlikely_characters
from icpkit.ingest.mojibake import repair
from icpkit.ingest.readers import SourceTable, open_table
from icpkit.ingest.report import FileReport
from icpkit.workspace import Workspace

Write = Callable[[str, str | bytes], Path]

# A classic Mac OS export: mac_roman bytes, lines ending in CR alone.
MAC_COMPANIES = "Company name,City\rMiaSolé,Santa Clara\rJohn’s Bakery,Zürich\rAcme,Boston\r"


def rows_of(table: SourceTable) -> list[tuple[int, list[str | None]]]:
    return [
        (line, [col[j] for col in chunk.columns])
        for chunk in table.chunks()
        for j, line in enumerate(chunk.lines)
    ]


def ingest(ws: Workspace, path: Path, **kwargs: object) -> FileReport:
    result = ws.ingest([path], **kwargs)  # type: ignore[arg-type]
    assert result.ok, result.failures
    return result.files[0]


# --- which encoding ------------------------------------------------------------------------


def test_mac_roman_file_with_cr_only_line_ends_reads_its_accents_and_apostrophes(write) -> None:
    table = open_table(write("companies.csv", MAC_COMPANIES.encode("mac_roman")))
    assert table.encoding == "mac_roman"
    assert rows_of(table) == [
        (2, ["MiaSolé", "Santa Clara"]),
        (3, ["John’s Bakery", "Zürich"]),
        (4, ["Acme", "Boston"]),
    ]
    (note,) = table.notes
    assert "read as mac_roman" in note
    assert "CR only" in note
    assert "'MiaSolŽ'" in note  # what the cp1252 reading would have made of it


def test_mac_roman_with_ordinary_line_ends_is_told_from_cp1252_by_its_text(write) -> None:
    text = "Company name\nJohn’s Bakery\nCafé Noël\n"
    table = open_table(write("x.csv", text.encode("mac_roman")))
    assert table.encoding == "mac_roman"
    assert [r[1][0] for r in rows_of(table)] == ["John’s Bakery", "Café Noël"]
    assert "'JohnÕs'" in table.notes[0]


def test_mac_roman_bytes_that_cp1252_cannot_decode_still_read(write) -> None:
    # 'ç' and 'è' are 0x8D and 0x8F in mac_roman, bytes cp1252 leaves undefined.
    table = open_table(write("x.csv", "Company name\nFrançois Crèmerie\n".encode("mac_roman")))
    assert table.encoding == "mac_roman"
    assert rows_of(table) == [(2, ["François Crèmerie"])]
    assert "cp1252 cannot decode it" in table.notes[0]


@pytest.mark.parametrize(
    "text",
    [
        "Company name;City\nMüller GmbH;Köln\n",
        "Company name,City\r\nJohn’s Bakery,Zürich\r\nCafé,€12\r\n",
        "Company name\nGarcía Martínez\nÅngström AB\n",
    ],
)
def test_windows_cp1252_exports_stay_cp1252(write, text: str) -> None:
    table = open_table(write("x.csv", text.encode("cp1252")))
    assert table.encoding == "cp1252"
    expected = [line.split(";" if ";" in text else ",") for line in text.splitlines()[1:]]
    assert [r[1] for r in rows_of(table)] == expected
    assert "read as cp1252" in table.notes[0]


def test_when_both_readings_are_plausible_line_ends_decide_and_the_note_says_so(write) -> None:
    # 0x92 is '’' in cp1252 and 'í' in mac_roman: 'Mart’nez' and 'Martínez' both read.
    body = b"Company name\nMart\x92nez\n"
    windows = open_table(write("a.csv", body))
    assert windows.encoding == "cp1252"
    assert "pass --encoding mac_roman" in windows.notes[0]
    mac = open_table(write("b.csv", body.replace(b"\n", b"\r")))
    assert mac.encoding == "mac_roman"
    assert rows_of(mac) == [(2, ["Martínez"])]


@pytest.mark.parametrize(
    ("encoding", "names"),
    [
        ("cp1251", ["ООО Ромашка", "Москва"]),
        ("cp1250", ["Żabka Polska", "Łódź"]),
        ("shift_jis", ["株式会社トヨタ", "東京"]),
    ],
)
def test_other_code_pages_are_recognized_by_the_detector(write, encoding, names) -> None:
    text = "Company name,City\r\n" + ",".join(names) + "\r\n"
    table = open_table(write("x.csv", text.encode(encoding)))
    assert rows_of(table) == [(2, names)]


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        ("Company name,City\nZoë,naïve café\nAcme,€12\n".encode(), "utf-8"),
        (codecs.BOM_UTF8 + "Company name,City\nZoë,naïve café\nAcme,€12\n".encode(), "utf-8-sig"),
        ("Company name,City\r\nZoë,naïve café\r\nAcme,€12\r\n".encode("utf-16"), "utf-16"),
        ("Company name,City\r\nZoë,naïve café\r\nAcme,€12\r\n".encode("utf-16-le"), "utf-16-le"),
    ],
)
def test_unicode_files_are_read_without_guessing(write, content: bytes, encoding: str) -> None:
    table = open_table(write("x.csv", content))
    assert table.encoding == encoding
    assert [r[1] for r in rows_of(table)] == [["Zoë", "naïve café"], ["Acme", "€12"]]
    assert table.notes == []


@pytest.mark.slow
def test_a_non_utf8_byte_far_into_the_file_is_judged_by_its_own_text(write) -> None:
    filler = "".join(f"Company {i},Boston\n" for i in range(30_000))  # past the first sample
    body = ("Company name,City\n" + filler + "MiaSolé,Santa Clara\n").encode("mac_roman")
    assert len(body) > readers.SNIFF_BYTES
    table = open_table(write("x.csv", body))
    assert table.encoding == "mac_roman"
    assert rows_of(table)[-1] == (30_002, ["MiaSolé", "Santa Clara"])


@pytest.mark.slow
def test_a_multibyte_file_cut_mid_character_by_the_sample_is_still_recognized(write) -> None:
    japanese = "株式会社トヨタ,東京\r\n".encode("shift_jis")
    body = "Company name,City\r\n".encode("shift_jis") + japanese
    filler = b"Acme,Boston\r\n"
    body += filler * ((readers.SNIFF_BYTES - len(body)) // len(filler))
    pad = b"x" * (readers.SNIFF_BYTES - len(body) - 1)
    body += pad + "株式会社,東京\r\n".encode("shift_jis")  # '株' straddles the sample's end
    assert body[readers.SNIFF_BYTES - 1 : readers.SNIFF_BYTES + 1].decode("shift_jis") == "株"
    table = open_table(write("x.csv", body))
    rows = rows_of(table)
    assert rows[0] == (2, ["株式会社トヨタ", "東京"])
    assert rows[-1][1] == [pad.decode() + "株式会社", "東京"]


def test_valid_utf8_never_runs_the_detector(write, monkeypatch) -> None:
    def detector(*args: object, **kwargs: object) -> None:
        raise AssertionError("the detector ran on a UTF-8 file")

    monkeypatch.setattr(readers, "rank_encodings", detector)
    table = open_table(write("x.csv", "Company name\nZoë\n"))
    assert (table.encoding, rows_of(table)) == ("utf-8", [(2, ["Zoë"])])


@pytest.mark.parametrize(
    "text", ["Zoë", "naïve café", "€12", "John’s", "Łódź", "col·lecció", "Москва", "東京都"]
)
def test_real_text_has_no_unlikely_characters(text: str) -> None:
    assert unlikely_characters(text) == []


@pytest.mark.parametrize("text", ["MiaSolŽ", "JohnÕs", "M¸ller", "Grˆﬂe", "Ìîñêâà", "Caf√©"])
def test_misdecoded_text_shows_unlikely_characters(text: str) -> None:
    assert unlikely_characters(text) != []


def test_ranking_puts_the_plausible_reading_first_and_latin1_last() -> None:
    ranked = rank_encodings("Name\nMüller\n".encode("cp1252"))
    assert ranked[0].encoding == "cp1252"
    assert ranked[-1].encoding == "latin-1"
    mac = next(c for c in ranked if c.encoding == "mac_roman")
    assert mac.unlikely > 0 and mac.example == "M¸ller"


@pytest.mark.parametrize("module", [charsets, mojibake])
def test_docstring_examples_hold(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


# --- mojibake ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [
        ("agÃ¡mi", "agámi"),
        ("Ã©", "é"),
        ("MÃ¼ller GmbH", "Müller GmbH"),
        ("SÃ£o Paulo", "São Paulo"),
        ("Johnâ€™s Bakery", "John’s Bakery"),
        ("Â£100", "£100"),
        ("Caf√©", "Café"),  # UTF-8 read as mac_roman
    ],
)
def test_double_encoded_text_is_repaired(broken: str, fixed: str) -> None:
    assert repair(broken) == fixed


@pytest.mark.parametrize(
    "clean",
    ["Zoë", "naïve café", "€12", "Ångström AB", "Ärzte", "Ñandú", "L’Oréal", "Âge", "“quoted”"],
)
def test_clean_text_is_never_changed(clean: str) -> None:
    assert repair(clean) == clean


def test_double_encoded_cells_are_repaired_on_ingest_and_counted(query, ws, write) -> None:
    path = write(
        "companies.csv",
        "Company name,City\nagÃ¡mi,SÃ£o Paulo\nZoë,naïve café\nMÃ¼ller GmbH,€12\nagÃ¡mi,Lisboa\n",
    )
    report = ingest(ws, path)
    assert report.encoding == "utf-8"
    assert sorted(query(ws, "SELECT name, city FROM accounts")) == [
        ("Müller GmbH", "€12"),
        ("Zoë", "naïve café"),
        ("agámi", "São Paulo"),  # the second 'agÃ¡mi' row is the same company
    ]
    assert (
        "repaired 3 cells of double-encoded text in column 'Company name', "
        "e.g. 'agÃ¡mi' -> 'agámi'" in report.notes
    )
    assert any("1 cell of double-encoded text in column 'City'" in n for n in report.notes)


def test_a_utf8_file_with_one_cp1252_byte_reads_every_name_right(query, ws, write) -> None:
    # Pasted together from two tools: UTF-8 rows and one row in cp1252.
    body = "Company name\nCafé Crème\n".encode() + "Müller GmbH\n".encode("cp1252")
    report = ingest(ws, write("mixed.csv", body))
    assert report.encoding == "cp1252"
    assert sorted(r[0] for r in query(ws, "SELECT name FROM accounts")) == [
        "Café Crème",
        "Müller GmbH",
    ]
    assert any("repaired 1 cell" in n for n in report.notes)


def test_the_quarantine_keeps_the_text_the_file_holds_not_its_repair(query, ws, write) -> None:
    path = write("companies.csv", "Company name,Number of Employees\nAcme,Ã©norme\nGlobex,50\n")
    report = ingest(ws, path)
    (problem,) = report.problems
    assert (problem.line, problem.column, problem.value) == (2, "Number of Employees", "Ã©norme")
    assert query(ws, 'SELECT line, "column", raw_value FROM quarantine') == [
        (2, "Number of Employees", "Ã©norme")
    ]


# --- re-reading a file ---------------------------------------------------------------------


@pytest.mark.slow
def test_reading_a_file_again_with_another_encoding_replaces_the_first_reading(
    query, ws, write
) -> None:
    path = write("companies.csv", MAC_COMPANIES.encode("mac_roman"))
    ingest(ws, path, encoding="cp1252")
    assert sorted(r[0] for r in query(ws, "SELECT name FROM accounts")) == [
        "Acme",
        "JohnÕs Bakery",
        "MiaSolŽ",
    ]
    report = ingest(ws, path, encoding="mac_roman")
    assert sorted(r[0] for r in query(ws, "SELECT name FROM accounts")) == [
        "Acme",
        "John’s Bakery",
        "MiaSolé",
    ]
    assert query(ws, "SELECT DISTINCT import_id FROM accounts") == [(report.import_id,)]
    assert any(
        "same file and bytes as import #1, read as cp1252: this import replaces it" in n
        and "2 accounts" in n
        for n in report.notes
    )


@pytest.mark.slow
@pytest.mark.parametrize("with_ids", [True, False])
def test_re_reading_deals_keeps_one_deal_and_one_account_per_company(
    query, ws, write, with_ids: bool
) -> None:
    # Without ids a deal is keyed by its content, which the first reading spelt differently.
    text = (
        "Record ID,Deal Name,Deal Stage,Amount,Close Date,Associated Company\r"
        "1,Solar roof,Closed Won,100,2024-03-01,MiaSolé\r"
        "2,Bread oven,Closed Lost,50,2024-04-01,John’s Bakery\r"
    )
    if not with_ids:
        text = "".join(line.split(",", 1)[1] + "\r" for line in text.split("\r") if line)
    path = write("deals.csv", text.encode("mac_roman"))
    ingest(ws, path, encoding="cp1252")
    ingest(ws, path)
    assert sorted(query(ws, "SELECT name, company_name FROM deals")) == [
        ("Bread oven", "John’s Bakery"),
        ("Solar roof", "MiaSolé"),
    ]
    assert sorted(query(ws, "SELECT name FROM accounts")) == [("John’s Bakery",), ("MiaSolé",)]
    assert query(ws, "SELECT count(*) FROM deals WHERE account_key IS NULL") == [(0,)]


@pytest.mark.slow
def test_re_reading_contacts_without_ids_replaces_them(query, ws, write) -> None:
    text = "First Name,Last Name,Job Title,Company name\rRené,Côté,CEO,Café Noël\r"
    path = write("contacts.csv", text.encode("mac_roman"))
    ingest(ws, path, encoding="cp1252")
    ingest(ws, path, encoding="mac_roman")
    assert query(ws, "SELECT first_name, last_name, company_name FROM contacts") == [
        ("René", "Côté", "Café Noël")
    ]
    assert query(ws, "SELECT name FROM accounts") == [("Café Noël",)]


@pytest.mark.slow
def test_an_account_another_file_still_points_to_is_kept(query, ws, write) -> None:
    companies = write("companies.csv", MAC_COMPANIES.encode("mac_roman"))
    ingest(ws, companies, encoding="cp1252")
    # Another file names the company as the first reading spelled it.
    deals = write(
        "deals.csv",
        "Record ID,Deal Name,Deal Stage,Amount,Close Date,Associated Company\n"
        "7,Oven,Closed Won,10,2024-01-01,JohnÕs Bakery\n",
    )
    ingest(ws, deals)
    ingest(ws, companies, encoding="mac_roman")
    names = sorted(r[0] for r in query(ws, "SELECT name FROM accounts"))
    assert names == ["Acme", "JohnÕs Bakery", "John’s Bakery", "MiaSolé"]
    assert query(ws, "SELECT account_key FROM deals") == [("name:johnos bakery",)]


@pytest.mark.slow
def test_the_quarantine_of_a_re_read_file_is_replaced_not_added_to(query, ws, write) -> None:
    text = "Company name,Number of Employees\rCafé,many\rNoël SA,12\r"
    path = write("companies.csv", text.encode("mac_roman"))
    ingest(ws, path, encoding="cp1252")
    report = ingest(ws, path, encoding="mac_roman")
    assert query(ws, "SELECT import_id, line, raw_value FROM quarantine") == [
        (report.import_id, 2, "many")
    ]


@pytest.mark.slow
def test_unchanged_file_read_the_same_way_is_skipped_but_not_after_another_reading(
    query, ws, write
) -> None:
    path = write("companies.csv", MAC_COMPANIES.encode("mac_roman"))
    ingest(ws, path)
    again = ingest(ws, path)
    assert again.skipped and again.skipped.startswith("unchanged since import #1")
    ingest(ws, path, encoding="cp1252")
    # The store now holds the cp1252 reading: the detected one must load again.
    back = ingest(ws, path)
    assert back.skipped is None
    assert back.encoding == "mac_roman"
    assert sorted(r[0] for r in query(ws, "SELECT name FROM accounts")) == [
        "Acme",
        "John’s Bakery",
        "MiaSolé",
    ]


@pytest.mark.slow
def test_a_dry_run_of_a_re_read_says_what_it_would_remove_and_changes_nothing(
    query, ws, write
) -> None:
    path = write("companies.csv", MAC_COMPANIES.encode("mac_roman"))
    ingest(ws, path, encoding="cp1252")
    before = sorted(query(ws, "SELECT * FROM accounts"))
    report = ingest(ws, path, dry_run=True)
    assert any("this import replaces it" in n and "2 accounts" in n for n in report.notes)
    assert sorted(query(ws, "SELECT * FROM accounts")) == before


@pytest.mark.slow
def test_the_same_bytes_at_another_path_are_another_file(query, ws, write) -> None:
    first = write("a/companies.csv", MAC_COMPANIES.encode("mac_roman"))
    second = write("b/companies.csv", MAC_COMPANIES.encode("mac_roman"))
    ingest(ws, first, encoding="cp1252")
    ingest(ws, second, encoding="mac_roman", force=True)
    names = sorted(r[0] for r in query(ws, "SELECT name FROM accounts"))
    assert names == ["Acme", "JohnÕs Bakery", "John’s Bakery", "MiaSolé", "MiaSolŽ"]
