"""A job title's function, for hiring signals: SDR, AE, RevOps, Marketing, Engineering,
Customer Success or Other.

One table of patterns, English first and the common words of other languages where they
are cheap to list. The pattern that matches earliest in the title decides ('Software
Engineer, Marketing Platform' is Engineering; 'Product Marketing Manager' is Marketing);
at the same place, the earlier row of the table wins ('Sales Engineer' is presales, so
Other, not Engineering).
"""

from __future__ import annotations

import re
from functools import lru_cache

FUNCTIONS: tuple[str, ...] = (
    "SDR",
    "AE",
    "RevOps",
    "Marketing",
    "Engineering",
    "Customer Success",
    "Other",
)
"""Every value :func:`function_of` returns."""

_I = re.IGNORECASE
# (function, pattern); acronyms match in capitals only ('AE', not 'ae' inside a word).
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "SDR",
        re.compile(
            r"\bsales[ -]development\b|\bbusiness[ -]development[ -](?:rep(?:resentative)?"
            r"|associate|specialist)s?\b|\boutbound\b|\blead[ -]generation"
            r"[ -](?:rep|representative|specialist)\b|\brepresentante de desarrollo de ventas"
            r"|\bchargée? de prospection|\bbusiness developer\b",
            _I,
        ),
    ),
    ("SDR", re.compile(r"\b(?:SDR|BDR|ADR)s?\b")),
    (
        "AE",
        re.compile(
            r"\baccount[ -]executive\b|\bsales[ -]executive\b|\bejecutiv[oa] de cuentas?\b"
            r"|\bexecutivo de contas\b",
            _I,
        ),
    ),
    ("AE", re.compile(r"\bAEs?\b")),
    (
        "RevOps",
        re.compile(
            r"\brevenue[ -]operations\b|\brev[ -]?ops\b|\bsales[ -]op(?:eration)?s\b"
            r"|\bgo[ -]to[ -]market[ -]operations\b|\bGTM[ -]op(?:eration)?s\b"
            r"|\bsales[ -]enablement\b|\bcrm[ -](?:manager|admin(?:istrator)?|specialist)\b",
            _I,
        ),
    ),
    (
        "Customer Success",
        re.compile(
            r"\bcustomer[ -]success\b|\bclient[ -]success\b|\bcustomer[ -]experience[ -]manager"
            r"|\bonboarding[ -](?:manager|specialist)\b|\bkundenerfolg|\bsucc[eè]s client"
            r"|\béxito del cliente\b|\bsucesso do cliente\b",
            _I,
        ),
    ),
    ("Customer Success", re.compile(r"\bCSMs?\b")),
    # Presales engineers sell: not Engineering.
    (
        "Other",
        re.compile(
            r"\b(?:sales|solutions?|pre[ -]?sales)[ -](?:engineer|architect|consultant)", _I
        ),
    ),
    (
        "Marketing",
        re.compile(
            r"marketing|marketer\b|\bdemand[ -]gen(?:eration)?\b|\bgrowth[ -](?:manager|lead"
            r"|marketer)\b|\bcontent[ -](?:writer|strategist|manager|marketer)\b|\bSEO\b|\bSEM\b"
            r"|\bcopywriter\b|\bbrand[ -](?:manager|designer|lead)\b|\bcommunications?[ -]manager\b"
            r"|\bpublic[ -]relations\b|\bsocial[ -]media\b|\bmercadeo\b|\bmercadotecnia\b",
            _I,
        ),
    ),
    (
        "Engineering",
        re.compile(
            r"engineer|\bengineering\b|developer\b|\bdevops\b|\bprogrammer\b|\bsoftware\b"
            r"|\barchitect\b|\bdata[ -]scientist\b|\bmachine[ -]learning\b|\bfront[ -]?end\b"
            r"|\bback[ -]?end\b|\bfull[ -]?stack\b|entwickler|\bingenieur|\bingénieur"
            r"|\bdéveloppeu(?:r|se)\b|\bdesarrollador|\bingenier[oa]\b|\bsviluppatore\b"
            r"|ontwikkelaar\b|\bdesenvolvedor|\bengenheir[oa]\b|\bprogramador",
            _I,
        ),
    ),
    ("Engineering", re.compile(r"\b(?:SRE|QA|iOS|Android)\b")),
)


@lru_cache(maxsize=65536)
def function_of(title: str) -> str:
    """The function of the role a job ``title`` names, one of :data:`FUNCTIONS`.

    >>> function_of("Senior Sales Development Representative (DACH)")
    'SDR'
    >>> function_of("Sales Engineer"), function_of("Staff Software Engineer, Growth")
    ('Other', 'Engineering')
    """
    best: tuple[int, int, str] | None = None
    for rank, (function, pattern) in enumerate(_RULES):
        match = pattern.search(title)
        if match is None:
            continue
        key = (match.start(), rank, function)
        if best is None or key < best:
            best = key
    return best[2] if best is not None else "Other"
