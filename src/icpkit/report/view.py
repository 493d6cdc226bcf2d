"""The report as sections of sentences, tables and charts: one view for HTML and Markdown.

Every number here is formatted from a result object in ``ReportData``; nothing is computed
again. A value that cannot be computed is a ``–`` with its reason (never ``nan``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from icpkit.analysis.frame import MISSING
from icpkit.analysis.lift import LiftRow
from icpkit.engines.scorecard import Scorecard
from icpkit.icp.describe import describe_condition
from icpkit.icp.model import ICP, Criterion, Exclusion, IntentSignal, PersonaRole
from icpkit.operate.tier_changes import TierChanges
from icpkit.report import svg
from icpkit.report.data import Changes, Curve, NamedReport, ReportData
from icpkit.report.numbers import (
    Cell,
    finite,
    interval,
    lift,
    number,
    prose,
    prose_interval,
    text,
)
from icpkit.vocabulary import ROUTES, TIERS

LIFT_ROWS = 30
"""Attribute values in the lift chart: the significant ones first, strongest first."""
MIN_LIFT_ROWS = 8
LOOKALIKES = 10
NO_DEALS = "no closed deals in this cut"
NO_INTERVAL = "too few deals for an interval"


@dataclass
class Table:
    """A table with a caption; ``key`` names it for readers (``id`` in HTML)."""

    kind: ClassVar[str] = "table"

    key: str
    caption: str
    columns: list[str]
    rows: list[list[Cell]]
    collapsed: bool = False

    @property
    def footnotes(self) -> list[str]:
        """Why each ``–`` in the table is there, once per reason."""
        seen: dict[str, None] = {}
        for row in self.rows:
            for c in row:
                if c.why:
                    seen.setdefault(c.why, None)
        return list(seen)


@dataclass
class Chart:
    """An inline SVG chart and the table holding its numbers."""

    kind: ClassVar[str] = "chart"

    svg: str
    table: Table


@dataclass
class Paragraph:
    """A sentence or two; ``strong`` for a headline, ``note`` for a small print line."""

    kind: ClassVar[str] = "paragraph"

    text: str
    strong: bool = False
    note: bool = False


@dataclass
class Heading:
    """A sub-heading inside a section."""

    kind: ClassVar[str] = "heading"

    text: str


Block = Paragraph | Heading | Table | Chart


@dataclass
class Section:
    """One numbered part of the report."""

    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class View:
    """The whole report: a title, a few header lines, the sections."""

    title: str
    header: list[str]
    headline: list[str]
    sections: list[Section]


def build_view(data: ReportData) -> View:
    """The six sections of the report from ``data``, with a section per named ICP after
    the main ICP's when the workspace has any."""
    header = [f"Generated {data.generated_at:%Y-%m-%d %H:%M} UTC"]
    icp = data.icp
    if icp is not None:
        header.append(
            f"ICP version {icp.version}, derived {icp.derived_at:%Y-%m-%d %H:%M} UTC "
            f"from data {icp.data_fingerprint}"
        )
    return View(
        title=f"ICP report: {data.name}",
        header=header,
        headline=list(data.nothing),
        sections=[
            _icp_section(data),
            *(_named_section(n) for n in data.named),
            _where_you_win(data),
            _score_section(data),
            _market_section(data),
            _changes_section(data),
            _quality_section(data),
        ],
    )


# --- 1. The ICP ---------------------------------------------------------------------------


def _rule_row(item: Criterion | IntentSignal | Exclusion, points: dict[str, int]) -> list[Cell]:
    ev = item.evidence
    shown = (
        text(points[item.id])
        if item.id in points
        else Cell("–", None, "no points: the boundary and exclusions decide the route")
    )
    if ev is None:
        why = f"set by hand: {item.reason}" if item.reason else "set by hand, no evidence"
        evidence = [Cell("–", None, why)] * 4
    else:
        low, high = ev.lift_ci if ev.lift_ci is not None else (None, None)
        evidence = [
            lift(ev.lift, low, high, "no lift: the rest of the attribute has no deals"),
            number(ev.win_rate, ".0%", NO_DEALS),
            text(ev.n_closed),
            text(ev.n_accounts) if ev.n_accounts is not None else Cell("–", None, "not counted"),
        ]
    condition = describe_condition(item) + (" (locked)" if item.locked else "")
    return [Cell(condition), shown, *evidence, Cell(item.rationale or item.reason or "")]


RULE_COLUMNS = [
    "criterion",
    "points",
    "lift (95% CI)",
    "win rate",
    "closed deals",
    "accounts",
    "rationale",
]


def _icp_section(data: ReportData) -> Section:
    section = Section("icp", "The ICP")
    icp = data.icp
    if icp is None:
        section.blocks.append(Paragraph("No ICP yet: run icp derive first.", strong=True))
        return section
    if not data.discriminates:
        section.blocks.append(
            Paragraph("No fit criterion, intent signal or exclusion was derived (see above).")
        )
    section.blocks += _rule_blocks(icp, data.scorecard, data.discriminates, "icp")
    return section


def _rule_blocks(icp: ICP, card: Scorecard | None, discriminates: bool, key: str) -> list[Block]:
    """An ICP's fitted model, tier cut-offs, rule tables (ids ``key-fit`` ...) and notes."""
    blocks: list[Block] = []
    model = icp.scoring
    points = {rp.id: rp.points for rp in card.rules} if card is not None else {}
    if model is not None and discriminates:
        auc = prose(model.auc, ".2f", "the fitted deals hold one outcome only")
        span = (
            f" created {model.closed_from} to {model.closed_to}"
            if model.closed_from and model.closed_to
            else ""
        )
        blocks.append(
            Paragraph(
                f"Points are fitted on {model.deals:,} closed deals ({model.wins:,} won){span}; "
                f"in-sample ROC AUC {auc}. Method: {model.method}."
            )
        )
    if card is not None and card.tiers and discriminates:
        cuts = ", ".join(f"tier {t} from {v:g}" for t, v in sorted(card.tiers.items()))
        blocks.append(Paragraph(f"An account's score is the sum of its points; {cuts}."))
    lists: list[tuple[str, str, list[Criterion] | list[IntentSignal] | list[Exclusion]]] = [
        ("boundary", "Boundary: who could be a customer at all", icp.boundary),
        ("fit", "Fit criteria", icp.fit),
        ("intent", "Intent signals (window before the deal, decay)", icp.intent),
        ("exclusions", "Exclusions (anti-ICP)", icp.exclusions),
    ]
    for kind, caption, items in lists:
        if not items:
            continue
        rows = [_rule_row(item, points) for item in items]
        blocks.append(Table(f"{key}-{kind}", caption, RULE_COLUMNS, rows))
    for note in icp.notes:
        blocks.append(Paragraph(note, note=True))
    return blocks


# --- Named ICPs (a section each, after the main ICP; none without icps: in icp.yaml) ------


def _named_section(n: NamedReport) -> Section:
    """A named ICP: the deals it learns from and how they turned out, its version, model,
    tiers, rules with their evidence, and its buyer persona."""
    key = f"named-{n.name}"
    section = Section(key, f"ICP {n.name}")
    r = n.win_rate
    rate = prose_interval(r.rate, r.low, r.high, ".0%", "no closed deals")
    section.blocks.append(
        Paragraph(
            f"Learned from {n.deals}: {n.closed:,} closed deals ({n.won:,} won, win rate "
            f"{rate}) of {n.accounts:,} accounts, {n.customers:,} of which won one. The "
            "interval counts accounts, not deals."
        )
    )
    icp = n.icp
    rows = [
        [Cell("closed deals"), text(n.closed)],
        [Cell("won"), text(n.won)],
        [Cell("win rate (95% CI)"), interval(r.rate, r.low, r.high, ".0%", "no closed deals")],
        [Cell("accounts"), text(n.accounts)],
        [Cell("customers (accounts that won one)"), text(n.customers)],
        [Cell("saved versions"), text(n.versions)],
    ]
    section.blocks.append(Table(f"{key}-deals", f"The deals of ICP {n.name}", ["", "value"], rows))
    if icp is None:
        section.blocks.append(
            Paragraph(
                f"Declared in icp.yaml, not derived yet: run icp derive --icp {n.name}.",
                strong=True,
            )
        )
        return section
    section.blocks.append(
        Paragraph(
            f"Version {icp.version}, derived {icp.derived_at:%Y-%m-%d %H:%M} UTC from data "
            f"{icp.data_fingerprint}."
        )
    )
    if icp.empty:
        section.blocks.append(
            Paragraph(
                "No attribute separates its won deals from its lost ones: it has no fit "
                "criterion, intent signal or exclusion."
            )
        )
    section.blocks += _rule_blocks(icp, n.scorecard, not icp.empty, key)
    section.blocks += _persona_blocks(icp, key)
    return section


def _persona_blocks(icp: ICP, key: str) -> list[Block]:
    """The buyer persona learned from the contacts of the ICP's deals, when it has one."""
    persona = icp.persona
    if persona is None:
        return []
    blocks: list[Block] = [Heading("Buyer persona")]
    if persona.rationale:
        blocks.append(Paragraph(persona.rationale))
    if persona.roles:
        blocks.append(
            Table(
                f"{key}-persona",
                "Roles present in won deals more than in lost ones (contacts known by the close)",
                ["role", "lift (95% CI)", "win rate", "closed deals", "accounts", "rationale"],
                [_persona_row(role) for role in persona.roles],
            )
        )
    return blocks


def _persona_row(role: PersonaRole) -> list[Cell]:
    ev = role.evidence
    label = Cell(f"{role.seniority} in {role.department}")
    if ev is None:
        return [label, *[Cell("–", None, "set by hand, no evidence")] * 4, Cell(role.rationale)]
    low, high = ev.lift_ci if ev.lift_ci is not None else (None, None)
    return [
        label,
        lift(ev.lift, low, high, "no lift: no deal without such a contact"),
        number(ev.win_rate, ".0%", NO_DEALS),
        text(ev.n_closed),
        text(ev.n_accounts) if ev.n_accounts is not None else Cell("–", None, "not counted"),
        Cell(role.rationale),
    ]


# --- 2. Where you win ---------------------------------------------------------------------


def _label(row: LiftRow) -> str:
    return f"{row.attribute} = {row.value}"


def _significant(row: LiftRow) -> bool:
    return row.verdict in ("discriminator", "disqualifier")


def lift_rows(data: ReportData) -> list[LiftRow]:
    """The lift chart's rows: the significant values (strongest first, up to LIFT_ROWS), or
    the strongest values when fewer than ``MIN_LIFT_ROWS`` are significant; values that are
    missing are left to the coverage table. Ordered by lift for the picture."""
    if data.lift is None:
        return []
    rows = [
        r
        for r in data.lift.rows
        if r.family != "intent" and r.value != MISSING and finite(r.lift) and r.lift > 0
    ]
    rows.sort(key=lambda r: (not _significant(r), r.q_value, -abs(math.log(r.lift))))
    significant = [r for r in rows if _significant(r)]
    chosen = significant[:LIFT_ROWS] if len(significant) >= MIN_LIFT_ROWS else rows[:MIN_LIFT_ROWS]
    return sorted(chosen, key=lambda r: -r.lift)


def _where_you_win(data: ReportData) -> Section:
    section = Section("segments", "Where you win")
    result = data.lift
    if result is None or not result.rows:
        section.blocks.append(Paragraph("No closed deals to compare won with lost."))
        for warning in result.warnings if result else []:
            section.blocks.append(Paragraph(warning, note=True))
        return section
    base = prose(result.base_rate, ".0%", "no closed deals")
    section.blocks.append(
        Paragraph(
            f"{result.n_closed:,} closed new-business deals ({result.n_won:,} won, {base}) "
            f"from {result.n_accounts:,} accounts. Lift is a value's win rate against the rest "
            "of its attribute; intervals resample accounts, not deals. Filled dots are "
            "significant after controlling false discoveries."
        )
    )
    rows = lift_rows(data)
    chart = svg.interval_chart(
        [svg.Point(_label(r), r.lift, r.lift_ci[0], r.lift_ci[1], _significant(r)) for r in rows],
        title="Lift of each attribute value (95% CI), significant values filled",
        axis="lift: win rate against the rest of the attribute (log scale)",
        reference=1.0,
        log=True,
    )
    table = Table(
        "lift",
        "Won versus lost per attribute value",
        ["attribute value", "verdict", "lift (95% CI)", "win rate (95% CI)", "deals", "q"],
        [
            [
                Cell(_label(r)),
                Cell(r.verdict),
                lift(r.lift, r.lift_ci[0], r.lift_ci[1], NO_DEALS),
                interval(r.win_rate, r.win_rate_ci[0], r.win_rate_ci[1], ".0%", NO_DEALS),
                text(r.n_closed),
                number(r.q_value, ".2g", "not tested"),
            ]
            for r in rows
        ],
    )
    section.blocks.append(Chart(chart, table))
    for seg in data.segments:
        section.blocks.append(Heading(f"Segments by {seg.attribute}"))
        section.blocks.append(
            Paragraph(seg.verdict + (f" (leader: {seg.leader})" if seg.leader else ""))
        )
        section.blocks.append(
            Table(
                f"segments-{seg.attribute}",
                f"{seg.attribute}: win rate, ACV, cycle, expansion and churn (95% CIs)",
                [
                    "value",
                    "deals",
                    "win rate",
                    "average ACV",
                    "median cycle (days)",
                    "expansion",
                    "churn",
                ],
                [
                    [
                        Cell(s.value + (" (thin)" if s.thin else "")),
                        text(s.deals),
                        interval(
                            s.win_rate.value, s.win_rate.low, s.win_rate.high, ".0%", NO_DEALS
                        ),
                        interval(
                            s.avg_acv.value,
                            s.avg_acv.low,
                            s.avg_acv.high,
                            ",.0f",
                            "no won deal with an amount",
                        ),
                        interval(
                            s.median_cycle_days.value,
                            s.median_cycle_days.low,
                            s.median_cycle_days.high,
                            ".0f",
                            "no won deal with both dates",
                        ),
                        interval(
                            s.expansion_rate.value,
                            s.expansion_rate.low,
                            s.expansion_rate.high,
                            ".0%",
                            "no customers won",
                        ),
                        interval(
                            s.churn_rate.value,
                            s.churn_rate.low,
                            s.churn_rate.high,
                            ".0%",
                            "no customers won",
                        ),
                    ]
                    for s in seg.segments
                ],
            )
        )
    section.blocks += _tier_blocks(data)
    return section


def _tier_blocks(data: ReportData) -> list[Block]:
    tiers = data.tiers
    if tiers is None:
        return []
    blocks: list[Block] = [Heading("Customer tiers")]
    counts = tiers.counts()
    total = sum(counts.values())
    blocks.append(
        Table(
            "customer-tiers",
            "Customers per tier (from first-deal ACV, cycle, expansion and churn)",
            ["tier", "customers", "share"],
            [
                [
                    text(f"Tier {t}"),
                    text(n),
                    number(n / total if total else math.nan, ".0%", "no customers"),
                ]
                for t, n in sorted(counts.items())
            ],
        )
    )
    for note in tiers.notes:
        blocks.append(Paragraph(note, note=True))
    if data.lift is not None:
        apart = [
            r
            for r in data.lift.rows
            if r.tier1_q_value is not None
            and r.tier1_q_value <= 0.05
            and r.tier1_lift is not None
            and finite(r.tier1_lift)
            and r.tier1_lift > 1
        ]
        apart.sort(key=lambda r: -(r.tier1_lift or 0.0))
        if apart:
            blocks.append(
                Table(
                    "tier1",
                    "What separates Tier 1: values whose customers are Tier 1 more often",
                    ["attribute", "value", "Tier 1 share", "lift", "q"],
                    [
                        [
                            Cell(r.attribute),
                            Cell(r.value),
                            number(r.tier1_rate, ".0%", "no customers in this cut"),
                            lift(r.tier1_lift, None, None, "no customers in the rest"),
                            number(r.tier1_q_value, ".2g", "not tested"),
                        ]
                        for r in apart[:10]
                    ],
                )
            )
        else:
            blocks.append(
                Paragraph(
                    "No attribute value makes a customer significantly more likely to be Tier 1."
                )
            )
    return blocks


# --- 3. Does the score work ---------------------------------------------------------------


def _curve_table(key: str, caption: str, curves: list[Curve], x: str, y: str) -> Table:
    return Table(
        key,
        caption,
        ["model", x, y],
        [
            [Cell(curve.name), number(a, ".3f", ""), number(b, ".3f", "")]
            for curve in curves
            for a, b in zip(curve.x, curve.y, strict=True)
        ],
        collapsed=True,
    )


def _series(curves: list[Curve]) -> list[svg.Series]:
    """One line per model; the scorecard (first) solid, the others dashed after the palette
    runs out of colours."""
    return [
        svg.Series(c.name, c.x, c.y, dashed=i >= len(svg.PALETTE)) for i, c in enumerate(curves)
    ]


def _score_section(data: ReportData) -> Section:
    section = Section("score", "Does the score work")
    v = data.validation
    result = v.result
    if result is None:
        section.blocks.append(Paragraph(v.note or "No backtest was run.", strong=True))
        return section
    section.blocks.append(
        Paragraph(
            f"Backtest: the ICP was derived and fitted on {result.train_deals:,} deals closed "
            f"before {result.cutoff}, then judged on {result.test_deals:,} deals created from "
            f"then on ({result.test_wins:,} won); {result.skipped_open:,} deals open at the "
            "cut-off are in neither."
        )
    )
    ours = result.models[0]
    tier_lift = result.tier_lift
    works = (
        finite(ours.auc.low)
        and ours.auc.low > 0.5
        and finite(tier_lift.value)
        and tier_lift.value >= 1.5
    )
    ratio = prose_interval(
        tier_lift.value, tier_lift.low, tier_lift.high, ".1f", "a tier holds no test deals", "x"
    )
    if works:
        verdict = (
            f"The score works: tier A wins {ratio} as often as tiers C-D, and tiers A-B "
            f"hold {result.top_tier_wins:.0%} of the test wins."
        )
    else:
        verdict = (
            f"The score does not discriminate well enough on the test deals: tier A "
            f"against tiers C-D {ratio} (below 1.5x it does not discriminate), ROC AUC "
            + prose_interval(
                ours.auc.value,
                ours.auc.low,
                ours.auc.high,
                ".3f",
                "the test deals hold one outcome only",
            )
            + ". Rank accounts by it with care."
        )
    section.blocks.append(Paragraph(verdict, strong=True))
    why_model = {m.model: (m.note or "could not be measured") for m in result.models}
    models = Table(
        "models",
        "Accuracy on the test deals against the challengers (intervals resample accounts)",
        ["model", "ROC AUC (95% CI)", "PR AUC (95% CI)", "note"],
        [
            [
                Cell(m.model),
                interval(m.auc.value, m.auc.low, m.auc.high, ".3f", why_model[m.model]),
                interval(m.pr_auc.value, m.pr_auc.low, m.pr_auc.high, ".3f", why_model[m.model]),
                Cell(m.note),
            ]
            for m in result.models
        ],
    )
    section.blocks.append(
        Chart(
            svg.interval_chart(
                [
                    svg.Point(m.model, m.auc.value, m.auc.low, m.auc.high, i == 0)
                    for i, m in enumerate(result.models)
                ],
                title="ROC AUC of each model on the test deals (95% CI)",
                axis="ROC AUC (0.5 is chance)",
                reference=0.5,
            ),
            models,
        )
    )
    if v.roc:
        section.blocks.append(
            Chart(
                svg.xy_chart(
                    _series(v.roc),
                    title="ROC curves of the models on the test deals",
                    x_axis="share of lost deals reached",
                    y_axis="share of wins reached",
                ),
                _curve_table(
                    "roc", "ROC curve points", v.roc, "false positive rate", "true positive rate"
                ),
            )
        )
    if v.gains:
        section.blocks.append(
            Chart(
                svg.xy_chart(
                    _series(v.gains),
                    title="Cumulative gains: deals worked best score first, per model",
                    x_axis="share of deals worked",
                    y_axis="share of wins reached",
                ),
                _curve_table(
                    "gains", "Cumulative gains points", v.gains, "share of deals", "share of wins"
                ),
            )
        )
    tiers = Table(
        "score-tiers",
        "Tiers on the test deals: win rate (95% CI), share of wins, velocity",
        [
            "tier",
            "deals",
            "won",
            "win rate (95% CI)",
            "share of wins",
            "cumulative share",
            "median cycle (days)",
        ],
        [
            [
                Cell(r.tier),
                text(r.n),
                text(r.wins),
                interval(r.win_rate, r.low, r.high, ".0%", "no test deals in this tier"),
                number(r.share_of_wins, ".0%", "no test wins"),
                number(r.cumulative_share, ".0%", "no test wins"),
                number(r.median_cycle_days, ".0f", "no won deal with both dates in this tier"),
            ]
            for r in result.tiers
        ],
    )
    section.blocks.append(
        Chart(
            svg.interval_chart(
                [
                    svg.Point(f"Tier {r.tier}", r.win_rate, r.low, r.high, True)
                    for r in result.tiers
                ],
                title="Win rate by tier on the test deals (95% CI)",
                axis="win rate",
                reference=result.test_wins / result.test_deals if result.test_deals else None,
            ),
            tiers,
        )
    )
    brier = prose(result.brier, ".3f", "no win probability")
    calibration = Table(
        "calibration",
        f"Calibration of the win probability (Brier {brier})",
        ["bin", "deals", "predicted", "observed (95% CI)"],
        [
            [
                text(str(i + 1)),
                text(r.n),
                number(r.mean_predicted, ".0%", "no win probability"),
                interval(r.observed, r.low, r.high, ".0%", "no deals in this bin"),
            ]
            for i, r in enumerate(result.calibration)
        ],
    )
    cal = result.calibration
    top = max(
        [1e-9]
        + [c.high for c in cal if finite(c.high)]
        + [c.mean_predicted for c in cal if finite(c.mean_predicted)]
    )
    scale = min(1.0, math.ceil(top * 10) / 10)
    section.blocks.append(
        Chart(
            svg.xy_chart(
                [
                    svg.Series(
                        "observed",
                        [c.mean_predicted for c in cal],
                        [c.observed for c in cal],
                        [c.low for c in cal],
                        [c.high for c in cal],
                        points=True,
                    )
                ],
                title="Calibration: predicted against observed win rate",
                x_axis="predicted win probability",
                y_axis="observed win rate",
                x_max=scale,
                y_max=scale,
                diagonal_label="perfect calibration",
            ),
            calibration,
        )
    )
    for leak in result.leaks:
        section.blocks.append(Paragraph(leak.message(), note=True))
    for note in result.notes:
        section.blocks.append(Paragraph(note, note=True))
    return section


# --- 4. The market ------------------------------------------------------------------------


def _market_section(data: ReportData) -> Section:
    section = Section("market", "The market")
    market = data.market
    tam = market.tam
    if tam is None:
        section.blocks.append(
            Paragraph(
                market.note
                or "No company universe was given: run "
                "icp report --universe FILE to size the market."
            )
        )
        return section
    c = tam.current
    bars = [
        svg.Bar("universe", c.universe, f"{c.universe:,}"),
        svg.Bar("market served", c.market, f"{c.market:,}", 1),
    ]
    rows = [
        [Cell("universe"), text(c.universe)],
        [Cell("excluded (anti-ICP)"), text(c.excluded)],
        [Cell("outside the boundary"), text(c.outside)],
        [Cell("market served"), text(c.market)],
    ]
    if tam.discriminates:
        bars.append(svg.Bar("in the ICP (TAM)", c.tam, f"{c.tam:,}", 2))
        rows += [
            [Cell("in the ICP (TAM)"), text(c.tam)],
            [Cell("of which customers"), text(c.customers)],
            [Cell("of which prospects"), text(c.prospects)],
        ]
        for t in TIERS:
            if t in c.tiers:
                bars.append(svg.Bar(f"tier {t}", c.tiers[t], f"{c.tiers[t]:,}", 3))
                rows.append([Cell(f"tier {t}"), text(c.tiers[t])])
        for r in ROUTES:
            if r in c.routes:
                rows.append([Cell(f"route {r}"), text(c.routes[r])])
    else:
        rows.append([Cell("in the ICP (TAM)"), Cell("–", None, "the ICP has no rules")])
    section.blocks.append(
        Paragraph(
            f"The universe {tam.universe.name} scored with the ICP as of {tam.as_of}: "
            "companies excluded or outside the boundary are not in the market served; "
            "the TAM is the market served that matches the ICP's profile."
        )
    )
    section.blocks.append(
        Chart(
            svg.bar_chart(bars, title="TAM funnel: universe, market served, ICP, tiers"),
            Table("tam", "TAM funnel", ["step", "accounts"], rows),
        )
    )
    if tam.widened is not None and tam.win_rates is not None:
        w, rates = tam.widened, tam.win_rates
        ranges = "; ".join(
            f"{attr} {_range(old)} to {_range(new)}" for attr, (old, new) in tam.ranges.items()
        )
        old_rate = prose(rates.old.rate, ".0%", "no closed deals in the current ranges")
        new_rate = prose(rates.new.rate, ".0%", "no closed deals in the widened ranges")
        section.blocks.append(Heading("What if the profile were wider"))
        section.blocks.append(
            Paragraph(
                f"Widening {ranges} takes the TAM from {c.tam:,} to {w.tam:,} accounts; "
                f"the win rate of the workspace's deals inside them goes from {old_rate} to "
                f"{new_rate}."
            )
        )
        section.blocks.append(
            Table(
                "widen",
                "Win rate of the workspace's deals inside the ranges (95% CI, accounts)",
                ["deals inside", "deals", "accounts", "win rate (95% CI)"],
                [
                    [
                        Cell(label),
                        text(e.n_deals),
                        text(e.n_accounts),
                        interval(e.rate, e.low, e.high, ".0%", "no closed deals in this band"),
                    ]
                    for label, e in (
                        ("the current ranges", rates.old),
                        ("the widened ranges", rates.new),
                        ("the band widening adds", rates.added),
                    )
                ],
            )
        )
    for warning in tam.warnings:
        section.blocks.append(Paragraph(warning, note=True))
    section.blocks.append(Heading("Lookalikes of the Tier 1 customers"))
    if market.lookalikes:
        section.blocks.append(
            Table(
                "lookalikes",
                "Companies of the universe most like the Tier 1 customers",
                ["company", "similarity", "traits shared", "like"],
                [
                    [
                        Cell(lk.name or lk.account_key),
                        number(lk.similarity, ".2f", "not computable"),
                        Cell(", ".join(lk.shared) or "no single trait in common"),
                        Cell(
                            ", ".join(
                                f"{n.name or n.account_key} ({n.similarity:.2f})"
                                for n in lk.neighbours
                            )
                        ),
                    ]
                    for lk in market.lookalikes[:LOOKALIKES]
                ],
            )
        )
    else:
        section.blocks.append(Paragraph(market.lookalike_note or "No lookalikes were found."))
    return section


def _range(value: tuple[float | None, float | None]) -> str:
    low, high = value
    if low is not None and high is not None:
        return f"{low:,.0f}-{high:,.0f}"
    if low is not None:
        return f"{low:,.0f}+"
    return f"up to {high:,.0f}" if high is not None else "any"


# --- 5. What changed ----------------------------------------------------------------------


def _changes_section(data: ReportData) -> Section:
    section = Section("changes", "What changed")
    ch = data.changes
    if ch.versions:
        section.blocks.append(
            Table(
                "versions",
                "Saved ICP versions",
                ["version", "derived (UTC)", "boundary", "fit", "intent", "exclusions", "data"],
                [
                    [
                        text(v.version),
                        Cell(f"{v.derived_at:%Y-%m-%d %H:%M}"),
                        *(
                            text(v.counts.get(k, 0))
                            for k in ("boundary", "fit", "intent", "exclusions")
                        ),
                        Cell(v.data_fingerprint),
                    ]
                    for v in ch.versions
                ],
            )
        )
    if ch.previous is None:
        section.blocks.append(
            Paragraph(
                "This is the first ICP version: nothing to compare with, and no account "
                "changes tier."
            )
        )
    elif not ch.lines:
        section.blocks.append(Paragraph(f"No rule moved since version {ch.previous}."))
    else:
        section.blocks.append(Paragraph(f"Since version {ch.previous}:"))
        section.blocks.append(
            Table(
                "diff",
                f"Changes from version {ch.previous}",
                ["change"],
                [[Cell(line)] for line in ch.lines],
            )
        )
    if ch.tiers is not None:
        section.blocks += _tier_change_blocks(ch.tiers)
    elif ch.tiers_note:
        section.blocks.append(Paragraph(ch.tiers_note, note=True))
    section.blocks += _drift_blocks(ch)
    return section


def _drift_blocks(ch: Changes) -> list[Block]:
    """The monitor's verdict on the current ICP since it was fitted, and its findings."""
    if ch.drift is None:
        return [Paragraph(ch.drift_note, note=True)] if ch.drift_note else []
    drift = ch.drift
    blocks: list[Block] = [
        Heading("Drift since the ICP was fitted"),
        Paragraph(f"Version {drift.icp_version}, checked by {drift.period}: {drift.summary()}"),
    ]
    if drift.findings:
        blocks.append(
            Table(
                "drift",
                "What the drift check found (icp monitor shows it by period)",
                ["verdict", "finding"],
                [[Cell(level), Cell(text)] for level, text in drift.findings],
            )
        )
    return blocks


def _tier_change_blocks(t: TierChanges) -> list[Block]:
    """Accounts by (old tier, new tier) as a matrix, and the accounts that moved most."""
    old, new = f"version {t.old_version}", f"version {t.new_version}"
    blocks: list[Block] = [
        Heading("Accounts that change tier"),
        Paragraph(
            f"The workspace's {t.accounts:,} accounts scored as of {t.as_of} with {old} and "
            f"with {new}: {t.changed:,} change tier."
        ),
        Table(
            "tier-changes",
            f"Accounts by tier in {old} (rows) and {new} (columns)",
            [f"{old} tier", *(f"{new}: {b}" for b in TIERS), "accounts"],
            [
                [
                    Cell(a),
                    *(text(t.counts.get((a, b), 0)) for b in TIERS),
                    text(sum(t.counts.get((a, b), 0) for b in TIERS)),
                ]
                for a in TIERS
            ],
        ),
    ]
    if t.movers:
        blocks.append(
            Table(
                "tier-movers",
                f"The {len(t.movers)} accounts that moved most",
                ["account", f"{old} tier", f"{new} tier", f"{old} score", f"{new} score"],
                [
                    [
                        Cell(m.name or m.account_key),
                        Cell(m.old_tier),
                        Cell(m.new_tier),
                        text(m.old_score),
                        text(m.new_score),
                    ]
                    for m in t.movers
                ],
            )
        )
    return blocks


# --- 6. Data quality ----------------------------------------------------------------------


def _quality_section(data: ReportData) -> Section:
    section = Section("quality", "Data quality")
    q = data.quality
    counts = ", ".join(
        f"{n:,} {name}" for name, n in q.counts.items() if name not in ("imports", "quarantine")
    )
    outcomes = ", ".join(f"{n:,} {o}" for o, n in q.outcomes.items())
    deals = q.counts.get("deals", 0)
    section.blocks.append(
        Paragraph(
            f"The store holds {counts}. Deals: {outcomes}; {q.deals_linked:,} of "
            f"{deals:,} are linked to an account."
        )
    )
    section.blocks.append(
        Table(
            "imports",
            "Files ingested",
            [
                "file",
                "holds",
                "system",
                "rows read",
                "rows loaded",
                "rows quarantined",
                "cells quarantined",
            ],
            [
                [
                    Cell(i.file),
                    Cell(i.entity),
                    Cell(i.system),
                    text(i.rows_read),
                    text(i.rows_loaded),
                    text(i.rows_quarantined),
                    text(i.cells_quarantined),
                ]
                for i in q.imports
            ],
        )
    )
    if q.quarantine:
        shown = sum(g.entries for g in q.quarantine)
        more = "" if shown == q.quarantine_total else f" (the largest groups: {shown:,})"
        section.blocks.append(
            Table(
                "quarantine",
                f"Quarantined: {q.quarantine_total:,} entries{more} (icp quarantine lists "
                "each with its file, line and value)",
                ["file", "column", "scope", "entries", "example reason"],
                [
                    [
                        Cell(g.file),
                        Cell(g.column or "(whole row)"),
                        Cell(g.scope),
                        text(g.entries),
                        Cell(g.example),
                    ]
                    for g in q.quarantine
                ],
            )
        )
    else:
        section.blocks.append(Paragraph("Nothing was quarantined: every row and cell was read."))
    if q.coverage:
        section.blocks.append(
            Chart(
                svg.bar_chart(
                    [
                        svg.Bar(c.attribute, c.share, f"{c.share:.0%}")
                        for c in q.coverage
                        if finite(c.share)
                    ],
                    title="Share of closed deals whose account has each attribute",
                    scale=1.0,
                ),
                Table(
                    "coverage",
                    "Coverage of each attribute (closed deals with a known value)",
                    ["attribute", "closed deals", "known", "coverage"],
                    [
                        [
                            Cell(c.attribute),
                            text(c.deals),
                            text(c.known),
                            number(c.share, ".0%", NO_DEALS),
                        ]
                        for c in q.coverage
                    ],
                ),
            )
        )
    for warning in data.warnings:
        section.blocks.append(Paragraph(warning, note=True))
    return section
