"""The workspace settings held in ``icp.yaml``: typed models, defaults, loading and saving.

``icp.yaml`` is the single source of truth of a workspace. Today it holds the
ingestion settings; the ICP definition joins it later. Unknown keys are kept
when the file is rewritten, so a newer icpkit's sections survive an older one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

CONFIG_NAME = "icp.yaml"
SCHEMA_VERSION = 1

Entity = Literal["deals", "companies", "signals", "contacts"]
Outcome = Literal["won", "lost", "open"]


class ConfigError(Exception):
    """``icp.yaml`` cannot be read or does not validate; the message names the path of the key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MappingRule(_Model):
    """Columns of files matching ``files`` mapped by hand, where detection is unsure."""

    files: str = Field(
        "*", description="Glob matched against the file name, e.g. 'opportunities*.csv'."
    )
    entity: Entity | None = Field(
        None, description="What the file holds, when detection is unsure."
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Source column -> canonical field (or 'ignore' to keep it only in `extra`).",
    )
    revenue_unit: Literal["units", "thousands", "millions", "billions"] | None = Field(
        None,
        description="Unit of these files' plain revenue numbers, whatever their values "
        "suggest (default: decided per file from its own evidence).",
    )
    amount_unit: Literal["units", "thousands", "millions", "billions"] | None = Field(
        None,
        description="Unit of these files' plain deal amounts (default: as written, unless "
        "the column name says 'k', '(000s)' or '$M').",
    )


class IngestSettings(_Model):
    """How exports are read and normalized."""

    date_order: Literal["auto", "mdy", "dmy"] = Field(
        "auto",
        description="Order of slash dates: 'auto' decides per column from the values; "
        "a column where every day and month is 12 or less falls back to `date_order_default`.",
    )
    date_order_default: Literal["mdy", "dmy"] = Field(
        "mdy", description="Order used when a column's dates cannot tell (all parts 12 or less)."
    )
    revenue_unit: Literal["auto", "units", "thousands", "millions", "billions"] = Field(
        "auto",
        description="Unit of plain revenue numbers in a file whose own evidence cannot tell "
        "(no employee counts to compare with, no unit in the column name). Each file is "
        "judged alone: one whose revenue per employee or column name shows its unit is read "
        "in that unit, whatever this says; 'auto' loads an undecided file as written, with a "
        "note. A mapping rule's revenue_unit fixes the unit of its files.",
    )
    stage_outcomes: dict[str, Outcome] = Field(
        default_factory=dict,
        description="Extra stage -> outcome (won/lost/open) pairs for custom pipelines; "
        "they win over the built-in HubSpot, Salesforce and Pipedrive defaults.",
    )
    expansion_deal_types: list[str] = Field(
        default_factory=lambda: [
            "existing",
            "upsell",
            "upgrade",
            "expansion",
            "cross-sell",
            "add-on",
        ],
        description="A deal whose type contains one of these words (any case) expands an "
        "existing customer: HubSpot 'Existing Business', Salesforce 'Existing Customer - "
        "Upgrade'.",
    )
    max_amount: float = Field(
        1e10, description="Deal amounts above this are quarantined as absurd.", gt=0
    )
    mapping: list[MappingRule] = Field(
        default_factory=list,
        description="Hand-made rules per file glob: entity, column mappings (first match "
        "wins) and the unit of plain revenue or amount numbers (revenue_unit, amount_unit).",
    )

    @field_validator("stage_outcomes", mode="before")
    @classmethod
    def _yaml_booleans_are_not_stages(cls, value: Any) -> Any:
        # YAML 1.1 reads bare yes/no/on/off as booleans; a stage named "No" must stay a string.
        if isinstance(value, dict):
            return {
                str(k) if not isinstance(k, bool) else ("yes" if k else "no"): v
                for k, v in value.items()
            }
        return value


class AnalysisSettings(_Model):
    """How closed deals are cut into attribute values and judged."""

    employee_buckets: list[int] = Field(
        default_factory=lambda: [10, 50, 200, 500, 1000],
        description="Upper bounds of the employee buckets (1-10, 11-50, ..., 1001+).",
    )
    revenue_buckets: list[float] = Field(
        default_factory=lambda: [1e6, 1e7, 5e7, 1e8, 1e9],
        description="Upper bounds of the annual revenue buckets, in currency units.",
    )
    signal_windows: list[int] = Field(
        default_factory=lambda: [30, 90, 180, 365, 540, 730],
        description="Upper bounds (days before the deal was created) of the signal recency "
        "bins; intent windows are unions of adjacent bins.",
    )
    alpha: float = Field(
        0.05, gt=0, lt=1, description="False-discovery rate (Benjamini-Hochberg) of the tests."
    )
    min_closed_deals: int = Field(
        30, ge=1, description="Cuts with fewer closed deals are flagged as too thin to tell."
    )
    min_lift: float = Field(
        1.2, ge=1, description="A discriminator must win at least this many times as often."
    )
    descriptor_share: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="A value held by at least this share of wins and of losses, without a "
        "significant difference, is a market descriptor.",
    )
    max_categories: int = Field(
        30, ge=2, description="Unmapped columns with more distinct values are not analyzed."
    )
    exclude_attributes: list[str] = Field(
        default_factory=list,
        description="Attributes never analyzed, e.g. fields filled after the deal closed.",
    )
    leak_auc: float = Field(
        0.9,
        gt=0.5,
        le=1,
        description="An attribute whose values alone rank won above lost deals with at least "
        "this ROC AUC is taken for a field filled after close: the backtest refuses to run.",
    )


class TierSettings(_Model):
    """How won customers are sorted into Tier 1 (find more), 2, and 3 (wish we had not)."""

    acv_threshold: float | None = Field(
        None, description="ACV that earns a point (default: the median ACV of won deals)."
    )
    cycle_days_threshold: float | None = Field(
        None,
        description="A first deal closed within this many days earns a point (default: the "
        "median sales cycle of won deals).",
    )
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "acv": 1.0,
            "fast_cycle": 1.0,
            "expansion": 1.0,
            "nps": 1.0,
            "usage": 1.0,
        },
        description="Points per trait: acv (first deal at or above the threshold), fast_cycle "
        "(first deal closed within the threshold), expansion (a won expansion deal), nps (a "
        "promoter, when an NPS column was ingested), usage (at or above the usage threshold, "
        "when a product usage column was ingested).",
    )
    nps_promoter: float = Field(
        9.0,
        description="NPS answers at or above this are promoters (0-10 scale; a -100..100 "
        "score column is read as promoter at 50 and above).",
    )
    usage_threshold: float | None = Field(
        None, description="Product usage that earns a point (default: the customers' median)."
    )
    tier1_min_points: float = Field(
        2.0, ge=0, description="Customers with at least these points are Tier 1."
    )
    churned_is_tier3: bool = Field(
        True, description="A churned customer is Tier 3 whatever its points."
    )

    @field_validator("weights")
    @classmethod
    def _known_traits(cls, value: dict[str, float]) -> dict[str, float]:
        allowed = {"acv", "fast_cycle", "expansion", "nps", "usage"}
        unknown = set(value) - allowed
        if unknown:
            raise ValueError(
                f"unknown trait(s) {sorted(unknown)}; allowed: {', '.join(sorted(allowed))}"
            )
        return value


Dimension = Literal["firmographic", "technographic", "behavioral", "deal_potential"]
Route = Literal["work_now", "nurture", "automated_nurture", "disqualify", "never"]
DIMENSIONS: tuple[Dimension, ...] = (
    "firmographic",
    "technographic",
    "behavioral",
    "deal_potential",
)


class RoutingSettings(_Model):
    """The routing matrix on fit x intent; exclusions always route to 'never'."""

    fit_high: float | None = Field(
        None,
        ge=0,
        le=100,
        description="Fit at or above this is high fit (default: the fit of an account that "
        "matches no rule, plus the points that double the odds of winning).",
    )
    fit_low: float | None = Field(
        None,
        ge=0,
        le=100,
        description="Fit below this is low fit, between the two medium (default: the fit of "
        "an account that matches no rule, less the points that halve the odds).",
    )
    intent_high: float | None = Field(
        None,
        ge=0,
        le=100,
        description="Intent at or above this is high intent (default: the intent of signals "
        "that at least double the odds of winning).",
    )
    matrix: dict[str, Route] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "high/high": "work_now",
            "high/low": "nurture",
            "medium/high": "nurture",
            "medium/low": "automated_nurture",
            "low/high": "automated_nurture",
            "low/low": "disqualify",
        },
        description="Route per 'fit/intent' band (fit high|medium|low, intent high|low).",
    )

    @field_validator("matrix")
    @classmethod
    def _every_cell(cls, value: dict[str, Route]) -> dict[str, Route]:
        cells = {f"{f}/{i}" for f in ("high", "medium", "low") for i in ("high", "low")}
        unknown, missing = set(value) - cells, cells - set(value)
        if unknown or missing:
            raise ValueError(
                f"needs exactly the cells {sorted(cells)}"
                + (f"; unknown {sorted(unknown)}" if unknown else "")
                + (f"; missing {sorted(missing)}" if missing else "")
            )
        return value


class PersonaSettings(_Model):
    """The buyer persona: contacts that match it add to an account's deal potential."""

    seniorities: list[str] = Field(
        default_factory=list,
        description="Seniorities that match, e.g. ['vp', 'director'] (empty: persona off "
        "unless departments or titles are set).",
    )
    departments: list[str] = Field(
        default_factory=list, description="Departments that match, e.g. ['sales', 'marketing']."
    )
    titles: list[str] = Field(
        default_factory=list,
        description="Words any of which in a job title matches, e.g. ['revops', 'sales ops'].",
    )
    points: float | None = Field(
        None,
        description="Points for an account with a matching contact (default: learned from "
        "won and lost deals when contacts are ingested).",
    )


class ScoringSettings(_Model):
    """How the ICP becomes fit and intent scores, tiers and routes."""

    caps: dict[Dimension, float] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "firmographic": 30.0,
            "technographic": 25.0,
            "behavioral": 25.0,
            "deal_potential": 20.0,
        },
        description="Most points each dimension gives (they add up to the 100 of the "
        "combined score); a dimension without rules passes its share to the others.",
    )
    caps_from_data: bool = Field(
        True,
        description="Size each dimension's cap by how much its rules move the odds of "
        "winning, so points mean the same everywhere (false: use `caps` as given).",
    )
    tiers: dict[str, float] | None = Field(
        None,
        description="Lowest combined score of tiers A, B and C (below C: D), e.g. {A: 70, B: "
        "50, C: 30}. Default: learned with the weights, from the deals they were fitted on "
        "(see tier_a_lift, tier_ab_wins, tier_abc_wins).",
    )
    tier_a_lift: float = Field(
        1.75,
        gt=1,
        description="Learned tier A starts where the deals at or above win this many times the "
        "base rate.",
    )
    tier_ab_wins: float = Field(
        0.75, gt=0, lt=1, description="Learned tiers A and B together hold this share of wins."
    )
    tier_abc_wins: float = Field(
        0.9, gt=0, lt=1, description="Learned tiers A to C together hold this share of wins."
    )
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    persona: PersonaSettings = Field(default_factory=PersonaSettings)
    prior_sd: float = Field(
        1.0,
        gt=0,
        description="Prior standard deviation of a rule's log-odds: the shrinkage that keeps "
        "thin evidence from earning many points.",
    )
    half_life_days: list[int] = Field(
        default_factory=lambda: [30, 90, 180, 365],
        description="Half-lives tried for each intent signal (the data choose, or none: no "
        "decay inside the window); a signal's own half_life_days in the ICP wins.",
    )

    @field_validator("tiers")
    @classmethod
    def _tiers_ordered(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return value
        if set(value) != {"A", "B", "C"}:
            raise ValueError("needs the thresholds of tiers A, B and C")
        if not value["A"] > value["B"] > value["C"] >= 0:
            raise ValueError("thresholds must fall from A to C: A > B > C >= 0")
        return value


class StoreSettings(_Model):
    """How the embedded DuckDB store uses the machine."""

    memory_limit: str | None = Field(
        None,
        description="DuckDB memory limit, e.g. '2GB' (default: DuckDB's, 80% of RAM). Lower "
        "it on a shared machine: big imports then spill to disk and run somewhat slower.",
    )
    threads: int | None = Field(
        None, description="Threads DuckDB may use (default: all cores).", gt=0
    )


class TamSettings(_Model):
    """When the TAM of a company universe (``icp tam``) is a poor target for the sales team."""

    too_broad: int = Field(
        10_000,
        gt=0,
        description="A TAM of more accounts than this is too broad to drive outbound: narrow "
        "the profile, or work it tier by tier.",
    )
    too_narrow: int = Field(
        500,
        ge=0,
        description="A TAM of fewer accounts than this is too narrow to fill the pipeline: "
        "widen the profile (a what-if shows what it costs in win rate).",
    )

    @model_validator(mode="after")
    def _narrow_below_broad(self) -> TamSettings:
        if self.too_narrow >= self.too_broad:
            raise ValueError(
                f"too_narrow must be below too_broad; got {self.too_narrow:,} >= {self.too_broad:,}"
            )
        return self


class Settings(_Model):
    """The whole of ``icp.yaml`` that this version understands."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = Field(SCHEMA_VERSION, description="Version of this file's layout.")
    name: str = Field("icpkit workspace", description="A name for the workspace, shown in reports.")
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    tiers: TierSettings = Field(default_factory=TierSettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    tam: TamSettings = Field(default_factory=TamSettings)


def load_settings(path: Path) -> Settings:
    """Read and validate ``icp.yaml``; errors name the file and the key path."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        lines = [f"{path}: invalid settings"]
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            lines.append(f"  {key}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("\n".join(lines)) from exc


def save_settings(settings: Settings, path: Path) -> None:
    """Write ``icp.yaml`` atomically (temporary file, then rename)."""
    data = settings.model_dump(mode="json")
    text = "# icpkit workspace settings; see docs/settings.md for every key.\n" + yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True
    )
    write_atomic(path, text)


def write_atomic(path: Path, text: str, *, overwrite: bool = True) -> None:
    """Write ``path`` whole or not at all, so a crash leaves either the old or the new file.

    With ``overwrite=False`` an existing file is never replaced (FileExistsError): the
    finished temporary file is hard-linked into place, which fails if the name is taken.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def settings_table() -> list[tuple[str, str, str]]:
    """Every setting as (dotted name, default, help), the source of docs/settings.md."""
    rows: list[tuple[str, str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{prefix}{name}.")
                continue
            default = field.get_default(call_default_factory=True)
            rows.append((f"{prefix}{name}", repr(default), field.description or ""))

    walk(Settings, "")
    return rows
