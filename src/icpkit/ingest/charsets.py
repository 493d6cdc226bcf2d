"""Which 8-bit text encoding a file that is not UTF-8 is in, judged by how its text reads.

Excel on Windows writes cp1252, classic Mac OS exports mac_roman, other locales their
own code page. Any of them decodes almost any byte, so the bytes alone cannot tell;
what tells is the text: ``MiaSolŽ`` and ``JohnÕs`` (mac_roman read as cp1252) or
``M¸ller`` (cp1252 read as mac_roman) are words no one writes. Each candidate decoding
is scored by such unlikely characters and the most plausible one wins; a detector
(charset-normalizer) adds candidates from other scripts (Cyrillic, Greek, Central
European, CJK). Example::

    >>> rank_encodings("Name\\rMiaSolé\\r".encode("mac_roman"))[0].encoding
    'mac_roman'
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

# Most CSV exports are Windows ones; a file with CR-only line ends comes from classic Mac OS.
_WINDOWS_FIRST = ("cp1252", "mac_roman")
_MAC_FIRST = ("mac_roman", "cp1252")
_LAST_RESORT = "latin-1"  # decodes every byte, so a file always reads

# Punctuation and symbols that real text carries; anything else in the Latin-1,
# punctuation and symbol blocks is a sign of a wrong decoding (√ ∂ ˆ ¸ ‰ ‡ ¯ ...).
_PLAUSIBLE_MARKS = frozenset("’‘“”–—…•€£¥¢°©®™«»¿¡§·×÷±½¼¾²³µºª\u00a0")
# Between two letters only these marks are plausible (an apostrophe, a Catalan l·l).
_PLAUSIBLE_INSIDE_WORDS = frozenset("’·")
_CURRENCIES = frozenset("€£¥¢")
_RARE_LETTERS = frozenset("ƒﬁﬂ")
# A word (a run of letters) or a single non-ASCII character that is not part of one.
_TOKENS = re.compile(r"[^\W\d_]+|[^\x00-\x7f]")
_SCORED_SAMPLE = 64 * 1024
_WORD_ENDS = frozenset(' \t\r\n,;|"')


@dataclass(frozen=True)
class Candidate:
    """One way to read the bytes: the codec, its count of unlikely characters, an example."""

    encoding: str
    unlikely: int
    example: str | None = None


def cr_only_line_ends(sample: bytes) -> bool:
    """Lines end in CR alone, as classic Mac OS applications (and old Mac Excel) write them."""
    return b"\r" in sample and b"\n" not in sample


def rank_encodings(sample: bytes, *, cr_only: bool | None = None) -> list[Candidate]:
    """Candidate encodings for non-UTF-8 ``sample``, the most plausible first.

    cp1252 and mac_roman are always tried, plus what charset-normalizer proposes; a
    candidate that cannot decode the sample is left out, and latin-1 (which decodes any
    byte) always comes last. Ties go to cp1252, or to mac_roman when lines end in CR only.
    """
    if cr_only is None:
        cr_only = cr_only_line_ends(sample)
    scored = _text_lines(sample)
    names = list(_MAC_FIRST if cr_only else _WINDOWS_FIRST)
    known = {codecs.lookup(n).name for n in (*names, _LAST_RESORT)}
    names += [n for n in _detector_guesses(scored) if n not in known]
    ranked: list[tuple[int, int, Candidate]] = []
    for order, name in enumerate(names):
        try:
            text = scored.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
        spots = unlikely_characters(text)
        example = _context(text, spots[0]) if spots else None
        ranked.append((len(spots), order, Candidate(name, len(spots), example)))
    ranked.sort(key=lambda r: (r[0], r[1]))
    fallback_text = scored.decode(_LAST_RESORT)
    spots = unlikely_characters(fallback_text)
    last = Candidate(_LAST_RESORT, len(spots), _context(fallback_text, spots[0]) if spots else None)
    return [r[2] for r in ranked] + [last]


def unlikely_characters(text: str) -> list[int]:
    """Positions of characters no one types where they stand: signs of a wrong decoding.

    A control or private-use character; a symbol outside what text carries; a mark such
    as ``‡`` between two letters; a currency sign touching a letter; an accented capital
    after a small letter (``MiaSolŽ``, ``JohnÕs``); a word mixing scripts (``Grˆße``); a
    Latin word of four or more letters, all accented (``Ìîñêâà``: Cyrillic read as cp1252).
    """
    spots: list[int] = []
    for match in _TOKENS.finditer(text):
        token, start = match.group(), match.start()
        if len(token) == 1 and not token.isalpha():
            if _unlikely_mark(text, start):
                spots.append(start)
            continue
        spots.extend(start + i for i in _unlikely_in_word(token))
    return spots


def _unlikely_mark(text: str, i: int) -> bool:
    ch = text[i]
    category = unicodedata.category(ch)
    if category in ("Cc", "Co", "Cn", "Cs"):
        return True
    if ch >= "\u3000":  # CJK and fullwidth punctuation belong to their scripts
        return False
    if ch not in _PLAUSIBLE_MARKS:
        return True
    before = i > 0 and text[i - 1].isalpha()
    after = i < len(text) - 1 and text[i + 1].isalpha()
    if ch in _CURRENCIES:
        return before or after  # '€12' and '12 £' are money; '£ódŸ' is not
    return before and after and ch not in _PLAUSIBLE_INSIDE_WORDS


def _unlikely_in_word(word: str) -> list[int]:
    if word.isascii():
        return []
    spots = [
        i
        for i, ch in enumerate(word)
        if not ch.isascii()
        and (
            ch in _RARE_LETTERS
            or (ch.isupper() and i > 0 and word[i - 1].islower())
            or (ch.isupper() and 0 < i < len(word) - 1 and word[i + 1].islower())
        )
    ]
    families = {_script(ch) for ch in word}
    non_ascii = [i for i, ch in enumerate(word) if not ch.isascii()]
    if len(families) > 1 or (
        families == {"LATIN"}
        and len(word) >= 4
        and not word.isascii()
        and len(non_ascii) == len(word)
    ):
        return sorted(set(spots) | set(non_ascii))
    return spots


def _script(ch: str) -> str:
    if ch.isascii():
        return "LATIN"
    family = unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]
    # Japanese mixes kanji with both kana; Chinese and Korean likewise count as one family.
    return "CJK" if family in ("CJK", "HIRAGANA", "KATAKANA", "HANGUL") else family


def _detector_guesses(sample: bytes) -> list[str]:
    """charset-normalizer's proposals, by codec name, best first."""
    from charset_normalizer import from_bytes

    names: list[str] = []
    for match in from_bytes(sample, steps=8, chunk_size=1024, explain=False):
        try:
            name = codecs.lookup(match.encoding).name
        except LookupError:
            continue
        if name not in names and not name.startswith("utf"):
            names.append(name)
        if len(names) == 3:
            break
    return names


def _text_lines(sample: bytes) -> bytes:
    """The sample's lines that hold non-ASCII bytes (the only ones encodings disagree on)."""
    lines = [ln for ln in re.split(rb"\r\n|\r|\n", sample) if not ln.isascii()]
    out = b"\n".join(lines)
    if len(out) > _SCORED_SAMPLE:
        cut = out.rfind(b"\n", 0, _SCORED_SAMPLE)
        out = out[: cut if cut > 0 else _SCORED_SAMPLE]
    return out


def _context(text: str, i: int) -> str:
    """The word around position ``i``, to show what a wrong decoding looks like."""
    start, end = i, i + 1
    while start > 0 and i - start < 12 and text[start - 1] not in _WORD_ENDS:
        start -= 1
    while end < len(text) and end - i < 12 and text[end] not in _WORD_ENDS:
        end += 1
    return text[start:end].strip()


@dataclass(frozen=True)
class StrayBytes:
    """Bytes that are not UTF-8 in a file whose other non-ASCII text is: how many, the lines
    (1-based) holding the first of them, and how many read as an 8-bit letter in a word.

    When none does (0xFF between a space and a digit), the bytes are debris: the file is
    read as UTF-8 and the rows holding them are set aside. When some do (``Caf\xe9``), a
    row was pasted in from a Windows or Mac tool: the file is read in that 8-bit encoding
    and its UTF-8 cells repaired, which reads every name right."""

    count: int
    lines: list[int]
    plausible: int


# At most this many stray bytes, or one per thousand valid non-ASCII characters, make a
# file "UTF-8 with debris" rather than an 8-bit file.
_STRAY_FEW = 8
_STRAY_SHOWN = 20


def utf8_stray_bytes(path: Path) -> StrayBytes | None:
    """The invalid bytes of an otherwise UTF-8 file, or None when there are none or too
    many for that (an 8-bit file). Streams the file once, in whole lines."""
    count = plausible = valid = 0
    line = 1
    lines: list[int] = []
    pending = b""
    with path.open("rb") as fh:
        while True:
            block = fh.read(1 << 22)
            data = pending + block
            cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1 if block else len(data)
            data, pending = data[:cut], data[cut:]
            text = data.decode("utf-8", errors="surrogateescape")
            done = 0
            for match in _STRAY.finditer(text):
                at = match.start()
                line += _line_ends(text[done:at])
                done = at
                count += 1
                plausible += _reads_as_cp1252_letter(text, at)
                if len(lines) < _STRAY_SHOWN and (not lines or lines[-1] != line):
                    lines.append(line)
            line += _line_ends(text[done:])
            non_ascii = len(text) - len(text.encode("ascii", "ignore"))
            valid += non_ascii - len(_STRAY.findall(text))
            if not block:
                break
            if count > _STRAY_FEW and count > valid // 1000:
                return None
    if count == 0 or (count > _STRAY_FEW and count > valid // 1000):
        return None
    return StrayBytes(count, lines, plausible)


# A byte that is not UTF-8, as ``surrogateescape`` decodes it.
_STRAY = re.compile("[\udc80-\udcff]")


def _reads_as_cp1252_letter(text: str, at: int) -> bool:
    """Whether the stray byte at ``at`` reads, in cp1252 or mac_roman, as a letter touching
    another letter (``Caf\xe9``, ``M\xfcller``): a cell pasted in from a Windows tool. A byte such
    as 0xFF between a space and a digit reads as nothing anyone writes."""
    byte = bytes([ord(text[at]) - 0xDC00])
    if not any(byte.decode(enc, errors="replace").isalpha() for enc in _WINDOWS_FIRST):
        return False
    around = text[max(0, at - 1) : at] + text[at + 1 : at + 2]
    return any(ch.isalpha() or _STRAY.match(ch) is not None for ch in around)


def _line_ends(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


__all__ = [
    "Candidate",
    "StrayBytes",
    "cr_only_line_ends",
    "rank_encodings",
    "unlikely_characters",
    "utf8_stray_bytes",
]
