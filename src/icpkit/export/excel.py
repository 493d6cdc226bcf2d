"""The row formulas (icpkit.export.formula) written as spreadsheet formulas that Google Sheets
and every Excel compute: each input is a cell of the row (``B2``), conditions are IF, AND, OR,
FIND and comparisons. A value another formula reads (the score for the tier, fit and intent
for the route) is read from its own column, so no formula repeats another."""

from __future__ import annotations

import datetime as dt
import itertools
import re

from icpkit.export.formula import (
    All,
    Any_,
    Blank,
    Bool,
    Column,
    Compare,
    Count,
    Expr,
    HasItem,
    If,
    Let,
    Not,
    Num,
    OneOf,
    Share,
    SignalPoints,
    Sum,
    Text,
    Value,
    Var,
    YearsSince,
)

LETTERS = re.compile(r"^[A-Z]{1,3}$")
MAX_LENGTH = 8192  # the longest formula Excel accepts


def letter(index: int) -> str:
    """The column letter of a 0-based index: 0 -> A, 25 -> Z, 26 -> AA.

    >>> letter(0), letter(25), letter(26), letter(701)
    ('A', 'Z', 'AA', 'ZZ')
    """
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(ord("A") + rest) + out
    return out


def _text(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Spreadsheet:
    """Renders expressions as one cell formula over row ``row``, each column (inputs, and the
    score, fit and intent formulas' own) at its letter; ``day`` fixes the scoring day (else
    ``TODAY()``)."""

    def __init__(self, letters: dict[str, str], day: dt.date | None, row: int = 2) -> None:
        self.letters = letters
        self.day = day
        self.row = row

    def cell(self, column: Column) -> str:
        return f"{self.letters[column.name]}{self.row}"

    def today(self) -> str:
        if self.day is None:
            return "TODAY()"
        return f"DATE({self.day.year},{self.day.month},{self.day.day})"

    def formula(self, e: Expr) -> str:
        """``e`` as a cell formula, ``=`` first."""
        return "=" + self.render(e)

    def render(self, e: Expr) -> str:
        match e:
            case Num(value):
                return _number(value)
            case Text(value):
                return _text(value)
            case Bool(value):
                return "TRUE" if value else "FALSE"
            case Blank(column):
                return f'{self.cell(column)}=""'
            case Value(column) if column.kind == "flag":
                c = self.cell(column)
                return f'OR(LOWER({c}&"")="true",LOWER({c}&"")="yes",{c}&""="1")'
            case Value(column):
                return self.cell(column)
            case Count(column):
                c = self.cell(column)
                return f'(LEN({c})-LEN(SUBSTITUTE({c},";",""))+1)'
            case HasItem(column, item):
                c = self.cell(column)
                cleaned = f'SUBSTITUTE(SUBSTITUTE({c},"; ",";")," ;",";")'
                return f'ISNUMBER(FIND({_text(";" + item + ";")},";"&{cleaned}&";"))'
            case YearsSince(column):
                return f"(YEAR({self.today()})-{self.cell(column)})"
            case OneOf(column, values):
                # '=' compares text without regard to case, as icp score reads labels.
                tests = [f"TRIM({self.cell(column)})={_text(v)}" for v in values]
                if not tests:
                    return "FALSE"
                return tests[0] if len(tests) == 1 else f"OR({','.join(tests)})"
            case Compare(op, left, right):
                return f"({self.render(left)}{op}{self.render(right)})"
            case All(items):
                return f"AND({','.join(self.render(i) for i in items)})"
            case Any_(items):
                return f"OR({','.join(self.render(i) for i in items)})"
            case Not(item):
                return f"NOT({self.render(item)})"
            case If(test, then, other):
                return f"IF({self.render(test)},{self.render(then)},{self.render(other)})"
            case Sum(terms):
                return "(" + "+".join(self.render(t) for t in terms) + ")"
            case Share(total, most):
                return f"INT(100*{self.render(total)}/{most}+0.5)"
            case SignalPoints(column, start, end, steps):
                return self._signal(column, start, end, steps)
            case Let(_, _, body):
                # The named value (score, fit, intent) has a column of its own: read there.
                return self.render(body)
            case Var(name):
                return f"{self.letters[name.removeprefix('icp_')]}{self.row}"
        raise TypeError(f"not an expression: {e!r}")

    def _signal(
        self, column: Column, start: int, end: int, steps: tuple[tuple[int, int], ...]
    ) -> str:
        """Points by the signal's age (the day minus the cell's date): 0 outside the window,
        else the first step's points changed by each later step passed (no nesting)."""
        c = self.cell(column)
        age = f"({self.today()}-{c})"
        first = steps[0][1] if steps else 0
        terms = [_number(first)]
        for (last, before), (_, value) in itertools.pairwise(steps):
            terms.append(f"({age}>{last})*{value - before}")
        return f'IF({c}="",0,IF(OR({age}<{start},{age}>{end}),0,{"+".join(terms)}))'
