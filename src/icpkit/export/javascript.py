"""The row formulas (icpkit.export.formula) written as JavaScript expressions, as Clay's
formula columns run them: each input is a ``{{Column}}`` reference, every formula one
expression (helpers are arrow functions called in place)."""

from __future__ import annotations

import datetime as dt
import itertools
import json

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

MS_PER_DAY = 86_400_000


def reference(column: Column) -> str:
    """A Clay column reference: ``{{employees}}``."""
    return "{{" + column.name + "}}"


def _list(column: Column) -> str:
    """The items of a list column: an array as it is, text split at ';', trimmed."""
    ref = reference(column)
    return (
        f"(Array.isArray({ref}) ? {ref} : String({ref}).split(';'))"
        ".map((s) => String(s).trim()).filter((s) => s !== '')"
    )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class JavaScript:
    """Renders expressions as JavaScript; ``day`` fixes the scoring day (else today)."""

    def __init__(self, day: dt.date | None) -> None:
        self.day = day

    def today(self) -> str:
        """The scoring day as UTC milliseconds at midnight."""
        if self.day is not None:
            return f"Date.UTC({self.day.year}, {self.day.month - 1}, {self.day.day})"
        return "((n) => Date.UTC(n.getFullYear(), n.getMonth(), n.getDate()))(new Date())"

    def year(self) -> str:
        if self.day is not None:
            return str(self.day.year)
        return "new Date().getFullYear()"

    def render(self, e: Expr) -> str:
        """``e`` as one JavaScript expression."""
        match e:
            case Num(value):
                return _number(value) if value >= 0 else f"({_number(value)})"
            case Text(value):
                return json.dumps(value, ensure_ascii=False)
            case Bool(value):
                return "true" if value else "false"
            case Blank(column):
                ref = reference(column)
                return f"({ref} == null || {ref} === '')"
            case Value(column) if column.kind == "flag":
                return f"/^(true|yes|1)$/i.test(String({reference(column)}).trim())"
            case Value(column) if column.kind == "text":
                return f"String({reference(column)})"
            case Value(column):
                return f"Number({reference(column)})"
            case Count(column):
                return f"{_list(column)}.length"
            case HasItem(column, item):
                return f"{_list(column)}.includes({json.dumps(item, ensure_ascii=False)})"
            case YearsSince(column):
                return f"({self.year()} - Number({reference(column)}))"
            case OneOf(column, values):
                if not values:
                    return "false"
                listed = json.dumps([v.lower() for v in values], ensure_ascii=False)
                return f"{listed}.includes(String({reference(column)}).trim().toLowerCase())"
            case Compare(op, left, right):
                js_op = "===" if op == "=" else op
                return f"({self.render(left)} {js_op} {self.render(right)})"
            case All(items):
                return "(" + " && ".join(self.render(i) for i in items) + ")"
            case Any_(items):
                return "(" + " || ".join(self.render(i) for i in items) + ")"
            case Not(item):
                return f"!{self.render(item)}"
            case If(test, then, other):
                return f"({self.render(test)} ? {self.render(then)} : {self.render(other)})"
            case Sum(terms):
                return "(" + " + ".join(self.render(t) for t in terms) + ")"
            case Share(total, most):
                return f"Math.floor(100 * {self.render(total)} / {most} + 0.5)"
            case SignalPoints(column, start, end, steps):
                return self._signal(column, start, end, steps)
            case Let(name, value, body):
                return f"(({name}) => {self.render(body)})({self.render(value)})"
            case Var(name):
                return name
        raise TypeError(f"not an expression: {e!r}")

    def _signal(
        self, column: Column, start: int, end: int, steps: tuple[tuple[int, int], ...]
    ) -> str:
        """Points by the age of the freshest date inside the window: the first step's points,
        changed by each later step's difference once the age passes the step before it."""
        ref = reference(column)
        dates = (
            f"({ref} == null || {ref} === '' ? [] : Array.isArray({ref}) ? {ref} : "
            f"String({ref}).split(';'))"
            ".map((d) => String(d).trim()).filter((d) => /^\\d{4}-\\d{2}-\\d{2}/.test(d))"
            ".map((d) => Date.UTC(+d.slice(0, 4), +d.slice(5, 7) - 1, +d.slice(8, 10)))"
        )
        ages = (
            f"{dates}.map((d) => Math.round(({self.today()} - d) / {MS_PER_DAY}))"
            f".filter((a) => a >= {start} && a <= {end})"
        )
        first = steps[0][1] if steps else 0
        terms = [_number(first)]
        for (last, before), (_, value) in itertools.pairwise(steps):
            terms.append(f"(a > {last} ? {value - before} : 0)")
        lookup = " + ".join(terms)
        return f"((ages) => ages.length ? ((a) => {lookup})(Math.min(...ages)) : 0)({ages})"
