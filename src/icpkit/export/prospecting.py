"""``icp export prospecting``: the ICP as filter criteria for list-building tools. Industries
(labels with their NAICS and SIC codes where the taxonomy has them), employee and revenue
ranges, countries, technologies, what to leave out, and the intent signals with their
windows; as JSON, readable Markdown, or a flat CSV that such tools import. Only what the ICP
says: the Missing bins (unknown values) make no claim about the market and are left out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from icpkit.attributes import NumericRange, bucket_labels, definition_of, words
from icpkit.config import Settings
from icpkit.engines.scorecard import build_scorecard
from icpkit.export.stamp import ExportError, ExportResult, Stamp
from icpkit.icp.model import ICP, Criterion, Exclusion
from icpkit.ingest.normalize.industries import taxonomy
from icpkit.output.csvfile import csv_text
from icpkit.output.files import write_atomic
from icpkit.output.versions import DOCUMENT, KEY

FORMATS = ("json", "md", "csv")
COMMAND = "export prospecting"
SECTIONS = ("industries", "employees", "revenue", "countries", "technologies", "other")
SECTION_OF = {
    "industry": "industries",
    "employees": "employees",
    "revenue": "revenue",
    "country": "countries",
    "tech": "technologies",
}
CSV_FIELDS = (
    "filter",
    "section",
    "attribute",
    "value",
    "min",
    "max",
    "naics",
    "sic",
    "window_days",
    "rule_id",
    "points",
    "icp_version",
    "made_on",
)


@cache
def industry_codes() -> dict[str, tuple[list[str], list[str]]]:
    """Industry label -> (NAICS codes, SIC codes) the taxonomy maps to it."""
    data = yaml.safe_load(
        resources.files("icpkit.ingest.normalize").joinpath("industries.yaml").read_text("utf-8")
    )
    codes: dict[str, tuple[list[str], list[str]]] = {}
    for entry in taxonomy():
        naics = [entry.naics] if entry.naics and entry.naics.isdigit() else []
        codes[entry.label] = (naics, [])
    for code, label in data.get("naics_codes", {}).items():
        if str(code) not in codes.setdefault(str(label), ([], []))[0]:
            codes[str(label)][0].append(str(code))
    for code, label in data.get("sic_codes", {}).items():
        codes.setdefault(str(label), ([], []))[1].append(str(code))
    return {label: (sorted(n), sorted(s)) for label, (n, s) in codes.items()}


@dataclass(frozen=True)
class Filters:
    """The ICP as filters: include (fit criteria that raise the odds), avoid (criteria that
    lower them), exclude (the anti-ICP), must (the boundary), intent signals."""

    stamp: Stamp
    document: dict[str, Any]

    def csv_rows(self) -> list[dict[str, Any]]:
        """One row per value or range, for tools that import filter lists."""
        rows: list[dict[str, Any]] = []
        stamped = {"icp_version": self.stamp.version, "made_on": self.stamp.made_on.isoformat()}
        for filter_name in ("include", "avoid", "exclude", "must"):
            for section, items in self.document[filter_name].items():
                for item in items:
                    base = {
                        "filter": filter_name,
                        "section": section,
                        "attribute": item["attribute"],
                        "min": item.get("min"),
                        "max": item.get("max"),
                        "rule_id": item["rule_id"],
                        "points": item.get("points"),
                        **stamped,
                    }
                    for value in item.get("values") or [None]:
                        codes = industry_codes().get(value or "", ([], []))
                        is_industry = item["attribute"] == "industry"
                        rows.append(
                            {
                                **base,
                                "value": value,
                                "naics": " ".join(codes[0]) if is_industry else None,
                                "sic": " ".join(codes[1]) if is_industry else None,
                            }
                        )
        for signal in self.document["intent"]:
            for detail in signal["details"] or [None]:
                rows.append(
                    {
                        "filter": "intent",
                        "section": "signals",
                        "attribute": signal["signal"],
                        "value": detail,
                        "window_days": f"{signal['window_days'][0]}-{signal['window_days'][1]}",
                        "rule_id": signal["rule_id"],
                        "points": signal.get("points"),
                        **stamped,
                    }
                )
        return rows


def prospecting_filters(icp: ICP, settings: Settings, stamp: Stamp) -> Filters:
    """The filters of ``icp`` (see the module's docstring)."""
    points: dict[str, int] = {}
    if icp.scoring is not None:
        card = build_scorecard(icp, settings.scoring)
        points = {rp.id: rp.points for rp in card.rules}
    analysis = settings.analysis

    def item(rule: Criterion | Exclusion) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule_id": rule.id,
            "attribute": rule.attribute,
            "words": words(rule.attribute),
        }
        values = list(rule.values) if rule.values is not None else None
        definition = definition_of(rule.attribute)
        if values and isinstance(definition, NumericRange) and definition.fmt == "money":
            out.update(_money_span(values, definition, analysis))
        elif values is not None:
            out["values"] = values
        if rule.min is not None:
            out["min"] = _plain(rule.min)
        if rule.max is not None:
            out["max"] = _plain(rule.max)
        if rule.attribute == "industry" and values:
            out["codes"] = {
                v: {
                    "naics": industry_codes().get(v, ([], []))[0],
                    "sic": industry_codes().get(v, ([], []))[1],
                }
                for v in values
            }
        if rule.id in points:
            out["points"] = points[rule.id]
        if isinstance(rule, Exclusion):
            out["kind"] = rule.kind
        return out

    def grouped(rules: list[Criterion] | list[Exclusion]) -> dict[str, list[dict[str, Any]]]:
        sections: dict[str, list[dict[str, Any]]] = {s: [] for s in SECTIONS}
        for rule in rules:
            if isinstance(rule, Criterion) and rule.missing:
                continue  # unknown values: no claim about the market
            sections[SECTION_OF.get(rule.attribute, "other")].append(item(rule))
        return {s: items for s, items in sections.items() if items}

    include = grouped([r for r in icp.fit if r.direction == "positive"])
    avoid = grouped([r for r in icp.fit if r.direction == "negative"])
    intent = [
        {
            "rule_id": s.id,
            "signal": s.signal,
            "details": list(s.detail_in),
            "window_days": list(s.window_days),
            **({"points": points[s.id]} if s.id in points else {}),
        }
        for s in icp.intent
    ]
    document: dict[str, Any] = {
        # A command document (docs/json.md): read back with read_document(path, command=...).
        KEY: DOCUMENT,
        "command": COMMAND,
        **({"icp": stamp.name} if stamp.name else {}),
        "icp_version": stamp.version,
        "made_on": stamp.made_on.isoformat(),
        "generated_by": "icpkit",
        "include": include,
        "avoid": avoid,
        "exclude": grouped(list(icp.exclusions)),
        "must": grouped(list(icp.boundary)),
        "intent": intent,
    }
    said = any(document[k] for k in ("include", "avoid", "exclude", "must", "intent"))
    document["note"] = (
        None
        if said
        else (
            "the ICP has no rules: it names no industry, size, country or technology to filter "
            "on; derive on more data"
        )
    )
    return Filters(stamp, document)


def _plain(number: float) -> float | int:
    """51.0 -> 51: a whole number written as one."""
    return int(number) if float(number).is_integer() else number


def _money_span(values: list[str], definition: NumericRange, analysis: Any) -> dict[str, Any]:
    """Revenue labels ('$1M-$10M') with the dollar ranges they span."""
    bounds = definition.edges(analysis)  # the edges of its labels
    labels = bucket_labels(bounds, definition.fmt)
    ranges: list[dict[str, Any]] = []
    for value in values:
        if value not in labels:
            ranges.append({"label": value})
            continue
        k = labels.index(value)
        low = bounds[k - 1] if k > 0 else None
        high = bounds[k] if k < len(bounds) else None
        ranges.append(
            {
                "label": value,
                "above": None if low is None else _plain(low),
                "up_to": None if high is None else _plain(high),
            }
        )
    return {"values": values, "ranges": ranges}


def export_prospecting(
    icp: ICP, settings: Settings, out: Path, *, fmt: str = "json", name: str | None = None
) -> ExportResult:
    """Write ``prospecting.<fmt>`` (json, md or csv) into the folder ``out`` (``name``: the
    named ICP ``icp`` is, said in the page and as ``icp`` in the JSON document)."""
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: one of {', '.join(FORMATS)}")
    stamp = Stamp.of(icp, name=name)
    filters = prospecting_filters(icp, settings, stamp)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"prospecting.{fmt}"
    if fmt == "json":
        text = json.dumps(filters.document, indent=2, ensure_ascii=False) + "\n"
    elif fmt == "csv":
        text = csv_text(filters.csv_rows(), CSV_FIELDS)
    else:
        text = markdown(filters)
    write_atomic(target, text)
    notes = [filters.document["note"]] if filters.document["note"] else []
    return ExportResult("prospecting", stamp, (target,), tuple(notes))


def _range(item: dict[str, Any]) -> str:
    low, high = item.get("min"), item.get("max")
    if low is not None and high is not None:
        return f"{low:,.0f}-{high:,.0f}"
    if low is not None:
        return f"{low:,.0f} or more"
    return f"up to {high:,.0f}"


def _line(item: dict[str, Any]) -> str:
    if item.get("values"):
        text = ", ".join(item["values"])
        if item.get("codes"):
            codes = [
                f"{v} (NAICS {' '.join(c['naics']) or '-'}; SIC {' '.join(c['sic']) or '-'})"
                for v, c in item["codes"].items()
            ]
            text = ", ".join(codes)
    else:
        text = _range(item)
    points = f" ({item['points']:+d} points)" if "points" in item else ""
    return f"- {item['words']}: {text}{points}"


def markdown(filters: Filters) -> str:
    """The filters as a page a person reads."""
    doc = filters.document
    lines = [f"# Prospecting filters ({filters.stamp.words})", ""]
    if doc["note"]:
        return "\n".join([*lines, doc["note"][:1].upper() + doc["note"][1:] + ".", ""])
    titles = {
        "include": "Target accounts that match",
        "avoid": "Rank lower",
        "exclude": "Leave out",
        "must": "Only inside the market served",
    }
    for key, title in titles.items():
        if not doc[key]:
            continue
        lines += [f"## {title}", ""]
        for items in doc[key].values():
            lines += [_line(i) for i in items]
        lines.append("")
    if doc["intent"]:
        lines += ["## Intent signals", ""]
        for s in doc["intent"]:
            detail = f" ({', '.join(s['details'])})" if s["details"] else ""
            start, end = s["window_days"]
            points = f" ({s['points']:+d} points)" if "points" in s else ""
            lines.append(
                f"- {s['signal'].replace('_', ' ')}{detail}, {start}-{end} days ago{points}"
            )
        lines.append("")
    return "\n".join(lines)
