"""The workspace settings held in ``icp.yaml``: typed models, defaults, loading and saving.

``icp.yaml`` is the single source of truth of a workspace: the settings and, under
``icp:``, the ICP in force. It is read strictly: an unknown key (a typo) is an error
with a suggestion, a repeated key is an error, and every problem names the file, the
line and the key path.
"""

from __future__ import annotations

import difflib
import itertools
import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from icpkit.errors import IcpkitError
from icpkit.output.files import write_atomic as write_atomic  # importable from here too
from icpkit.output.versions import SETTINGS as SCHEMA_VERSION
from icpkit.vocabulary import DIMENSIONS as DIMENSIONS
from icpkit.vocabulary import Dimension as Dimension
from icpkit.vocabulary import Route as Route
from icpkit.yamlfile import Document, Loc, YamlProblem, key_path, object_keys, parse_yaml

CONFIG_NAME = "icp.yaml"

Entity = Literal["deals", "companies", "signals", "contacts"]
Outcome = Literal["won", "lost", "open"]


class ConfigError(IcpkitError):
    """``icp.yaml`` cannot be read or does not validate; each problem names line and key path."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems if problems is not None else [message]


def _increasing(name: str, values: list[int] | list[float]) -> None:
    """Upper bounds of buckets or bins must be positive and rise strictly."""
    shown = "[" + ", ".join(f"{v:g}" for v in values) + "]"
    if not values:
        raise PydanticCustomError(
            "bounds", "{name} is empty; allowed: one or more rising upper bounds", {"name": name}
        )
    if values[0] <= 0 or any(b <= a for a, b in itertools.pairwise(values)):
        raise PydanticCustomError(
            "bounds",
            "{name} must be positive upper bounds in rising order (buckets would overlap); "
            "allowed: e.g. [10, 50, 200]; got {got}",
            {"name": name, "got": shown},
        )


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
    missing_rows: Literal["keep", "retire"] = Field(
        "keep",
        description="Records an earlier export of the same file loaded that a newer export "
        "of it no longer has: 'keep' leaves them in the store (the import's notes count "
        "them), 'retire' removes them (an account only when nothing points to it).",
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
        json_schema_extra={"minItems": 1, "items": {"exclusiveMinimum": 0}},
    )
    revenue_buckets: list[float] = Field(
        default_factory=lambda: [1e6, 1e7, 5e7, 1e8, 1e9],
        description="Upper bounds of the annual revenue buckets, in currency units.",
        json_schema_extra={"minItems": 1, "items": {"exclusiveMinimum": 0}},
    )
    signal_windows: list[int] = Field(
        default_factory=lambda: [30, 90, 180, 365, 540, 730],
        description="Upper bounds (days before the deal was created) of the signal recency "
        "bins; intent windows are unions of adjacent bins.",
        json_schema_extra={"minItems": 1, "items": {"exclusiveMinimum": 0}},
    )
    alpha: float = Field(
        0.05, gt=0, lt=1, description="False-discovery rate (Benjamini-Hochberg) of the tests."
    )
    min_closed_deals: int = Field(
        30, ge=1, description="Cuts with fewer closed deals are flagged as too thin to tell."
    )
    min_accounts: int = Field(
        10,
        ge=1,
        description="A cut with fewer distinct accounts than this, inside it or in the rest of "
        "its attribute, is too thin to tell whatever its deal count: deals of one account are "
        "not independent evidence.",
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

    @field_validator("employee_buckets", "revenue_buckets", "signal_windows")
    @classmethod
    def _bounds_rise(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        _increasing(str(info.field_name), value)
        return value

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
        json_schema_extra={
            "propertyNames": {"enum": ["acv", "fast_cycle", "expansion", "nps", "usage"]},
            "additionalProperties": {"type": "number", "minimum": 0},
        },
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
        negative = {k: v for k, v in value.items() if v < 0}
        if negative:
            raise PydanticCustomError(
                "weights",
                "trait weights are points a customer earns; allowed: 0 or more; got {got}",
                {"got": ", ".join(f"{k}={v:g}" for k, v in negative.items())},
            )
        return value

    @field_validator("acv_threshold", "cycle_days_threshold", "usage_threshold")
    @classmethod
    def _threshold_not_negative(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and value < 0:
            raise PydanticCustomError(
                "threshold",
                "{name} is an amount or a number of days; allowed: 0 or more; got {got}",
                {"name": info.field_name, "got": f"{value:g}"},
            )
        return value

    @model_validator(mode="after")
    def _tier1_reachable(self) -> TierSettings:
        total = sum(self.weights.values())
        if self.tier1_min_points > total:
            raise PydanticCustomError(
                "tier1",
                "tier1_min_points is more than all trait weights add up to, so no customer "
                "could be Tier 1; allowed: at most {total}; got {got}",
                {"total": f"{total:g}", "got": f"{self.tier1_min_points:g}"},
            )
        return self


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

    @model_validator(mode="after")
    def _low_below_high(self) -> RoutingSettings:
        if self.fit_low is not None and self.fit_high is not None and self.fit_low >= self.fit_high:
            raise PydanticCustomError(
                "fit_bands",
                "fit_low must be below fit_high (fit between them is medium); "
                "allowed: fit_low < fit_high; got fit_low={low}, fit_high={high}",
                {"low": f"{self.fit_low:g}", "high": f"{self.fit_high:g}"},
            )
        return self


class PersonaRoleSetting(_Model):
    """One role of the buyer persona: a seniority in a department, as read from titles."""

    seniority: str = Field(min_length=1, description="Seniority, e.g. 'VP'.")
    department: str = Field(min_length=1, description="Department, e.g. 'Sales'.")


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
    roles: list[PersonaRoleSetting] = Field(
        default_factory=list,
        description="(seniority, department) roles any of which matches, e.g. [{seniority: VP, "
        "department: Sales}]; `icp derive` writes the roles it finds here (with learned: "
        "true) unless a persona was set by hand.",
    )
    learned: bool = Field(
        False,
        description="True when `icp derive` wrote this persona from contacts; the next derive "
        "replaces it. Set by hand, a persona is never replaced.",
    )

    def is_set(self) -> bool:
        """Whether any condition is given (an empty persona matches nobody)."""
        return bool(self.seniorities or self.departments or self.titles or self.roles)


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
        json_schema_extra={
            "additionalProperties": {"type": "number", "minimum": 0, "maximum": 100}
        },
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
        json_schema_extra={"items": {"type": "integer", "minimum": 1}},
    )

    @field_validator("tiers")
    @classmethod
    def _tiers_ordered(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return value
        if set(value) != {"A", "B", "C"}:
            raise ValueError("needs the thresholds of tiers A, B and C")
        if not 100 >= value["A"] > value["B"] > value["C"] >= 0:
            raise PydanticCustomError(
                "tiers",
                "thresholds must fall from A to C on the 0-100 score; "
                "allowed: 100 >= A > B > C >= 0; got A={a}, B={b}, C={c}",
                {"a": f"{value['A']:g}", "b": f"{value['B']:g}", "c": f"{value['C']:g}"},
            )
        return value

    @field_validator("caps")
    @classmethod
    def _caps_make_sense(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not 0 <= v <= 100}
        if bad:
            raise PydanticCustomError(
                "caps",
                "a cap is the most points a dimension gives; allowed: 0 to 100; got {got}",
                {"got": ", ".join(f"{k}={v:g}" for k, v in bad.items())},
            )
        if value and sum(value.values()) <= 0:
            raise PydanticCustomError(
                "caps", "every cap is 0, so no account could earn a point; allowed: some cap > 0"
            )
        return value

    @field_validator("half_life_days")
    @classmethod
    def _half_lives_positive(cls, value: list[int]) -> list[int]:
        bad = [v for v in value if v <= 0]
        if bad:
            raise PydanticCustomError(
                "half_life",
                "a half-life is a number of days; allowed: 1 or more; got {got}",
                {"got": ", ".join(str(v) for v in bad)},
            )
        return value

    @model_validator(mode="after")
    def _tier_shares_ordered(self) -> ScoringSettings:
        if self.tier_ab_wins >= self.tier_abc_wins:
            raise PydanticCustomError(
                "tier_shares",
                "tiers A to C hold more wins than A and B; allowed: tier_ab_wins < "
                "tier_abc_wins; got tier_ab_wins={ab}, tier_abc_wins={abc}",
                {"ab": f"{self.tier_ab_wins:g}", "abc": f"{self.tier_abc_wins:g}"},
            )
        return self


# Written without flags, so the JSON Schema's "pattern" is the same expression.
_MEMORY = re.compile(
    r"^\s*\d+(\.\d+)?\s*([KkMmGgTt][Ii]?[Bb]|[Bb]|[Bb][Yy][Tt][Ee][Ss]|[KkMmGgTt])?\s*$"
)


class StoreSettings(_Model):
    """How the embedded DuckDB store uses the machine."""

    memory_limit: str | None = Field(
        None,
        description="DuckDB memory limit, e.g. '2GB' (default: DuckDB's, 80% of RAM). Lower "
        "it on a shared machine: big imports then spill to disk and run somewhat slower.",
        json_schema_extra={"pattern": _MEMORY.pattern},
    )
    threads: int | None = Field(
        None, description="Threads DuckDB may use (default: all cores).", gt=0
    )
    ingest_memory_limit: str | None = Field(
        "1GB",
        description="DuckDB memory limit while ingesting when memory_limit is not set, so a "
        "big import spills its temporary tables to temp_directory instead of holding them "
        "in memory (null: DuckDB's default, 80% of RAM).",
        json_schema_extra={"pattern": _MEMORY.pattern},
    )
    temp_directory: str | None = Field(
        None,
        description="Folder for DuckDB's spill files when a query outgrows memory_limit "
        "(relative to the workspace; default: .icp/tmp in the workspace).",
    )

    @field_validator("memory_limit", "ingest_memory_limit")
    @classmethod
    def _memory_size(cls, value: str | None) -> str | None:
        if value is not None and not _MEMORY.match(value):
            raise PydanticCustomError(
                "memory_limit",
                "memory_limit is a size; allowed: a number and a unit, e.g. '512MB', '2GB', "
                "'1.5GiB'; got {got}",
                {"got": repr(value)},
            )
        return value


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


class MonitorSettings(_Model):
    """When ``icp monitor`` calls the ICP's drift a warning or a reason to act."""

    alpha: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="False-alarm level of the drift tests (AUC decline, criteria whose lift "
        "moved), controlled across all the tests of one run (Benjamini-Hochberg).",
    )
    psi_warning: float = Field(
        0.1,
        gt=0,
        description="Population stability index from which a shift of an attribute or of the "
        "score between the fitting window and the new pipeline is a warning.",
    )
    psi_action: float = Field(
        0.25,
        gt=0,
        description="Population stability index from which a shift of the score is a reason "
        "to act (re-derive): the pipeline is no longer the one the ICP was fitted on.",
    )
    min_closed_deals: int = Field(
        30,
        ge=1,
        description="Closed deals a period needs for its AUC to be tested; fewer are shown "
        "but not judged.",
    )
    bins: int = Field(
        10, ge=2, description="Equal-count bins of the fitting window's scores for the score's PSI."
    )
    min_new_deals: int = Field(
        200,
        ge=1,
        description="New deals the PSI needs before a shift is judged: on n deals a PSI of "
        "about bins/n is noise alone.",
    )
    n_boot: int = Field(
        200, ge=50, description="Account-bootstrap resamples behind each AUC and lift interval."
    )

    @model_validator(mode="after")
    def _warning_below_action(self) -> MonitorSettings:
        if self.psi_warning >= self.psi_action:
            warning, action = self.psi_warning, self.psi_action
            raise ValueError(f"psi_warning must be below psi_action; got {warning} >= {action}")
        return self


class ReviewSettings(_Model):
    """The quarterly review (``icp review``): how often, on which window, judged how."""

    every_days: int = Field(
        90,
        ge=1,
        description="Days between reviews: `icp summary` says a review is due this long after "
        "the last review or adoption (or the ICP's derivation).",
    )
    window_days: int | None = Field(
        365,
        ge=30,
        description="The review re-derives on the deals created in this many days up to the "
        "newest one (the latest window); null: on every deal.",
    )
    min_closed_deals: int = Field(
        100,
        ge=20,
        description="Closed deals the newest quarter needs for the two versions to be compared "
        "on it; with fewer the review keeps the version in force and says so (exit 1).",
    )
    n_boot: int = Field(
        500,
        ge=100,
        description="Account-bootstrap resamples behind the interval on the AUC difference.",
    )


class ResearchQuestion(_Model):
    """One question the AI researcher answers for every account, from its fetched pages."""

    key: str = Field(
        ...,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="The answer's attribute name (`answer:<key>` in rules and reports).",
    )
    ask: str = Field(..., min_length=3, description="The question, as a person would ask it.")
    answers: list[str] | None = Field(
        None,
        description="The answers allowed (an enum in the answer's JSON schema); none: yes/no.",
    )


class ResearchSettings(_Model):
    """The AI researcher: questions answered from each account's pages by a model behind an
    OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp, or a hosted one)."""

    endpoint: str | None = Field(
        None,
        description="Base URL of the OpenAI-compatible API, e.g. http://localhost:11434/v1; "
        "none: research is off.",
    )
    model: str = Field("llama3.1", description="The model name the endpoint serves.")
    api_key_env: str = Field(
        "OPENAI_API_KEY",
        description="The environment variable holding the endpoint's key (none needed locally).",
    )
    questions: list[ResearchQuestion] = Field(
        default_factory=list, description="What to ask about every account."
    )
    max_tokens: int = Field(
        50_000, ge=1, description="Token budget of one run, prompts and answers together."
    )
    max_page_chars: int = Field(
        6_000, ge=200, description="Characters of each page's text sent to the model."
    )


class EnrichSettings(_Model):
    """`icp enrich`: which providers run, in which order per field, and how politely and
    safely pages and APIs are fetched."""

    providers: list[str] = Field(
        default_factory=lambda: ["website", "technographics", "hiring"],
        description="Providers `icp enrich` runs when none are named: website, "
        "technographics, hiring, edgar, pdl, apollo, clearbit, research, or a file "
        "provider's name.",
    )
    waterfall: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per field, the providers in the order their values win (`crm` is the "
        "export's own value); the next is asked only on a miss. Unlisted fields: the CRM "
        "first, then the providers in the order above.",
    )
    min_confidence: float = Field(
        0.5, ge=0, le=1, description="Confidence below which a value does not win a field."
    )
    ttl_days: dict[str, float] = Field(
        default_factory=dict,
        description="Days an answer stays fresh, per provider (default: each provider's own).",
    )
    budget: float | None = Field(
        None, ge=0, description="Credits one run may spend on keyed providers (none: no cap)."
    )
    concurrency: int = Field(64, ge=1, description="Requests in flight at once, in all.")
    per_host: int = Field(2, ge=1, description="Requests in flight at once to one host.")
    processes: int | None = Field(
        None,
        ge=1,
        description="Processes the keyless providers run in (each takes a share of the "
        "domains); none: one per core, up to 4, from 500 accounts on.",
    )
    host_rate: float = Field(5.0, gt=0, description="Requests per second to one host at most.")
    host_rates: dict[str, float] = Field(
        default_factory=lambda: {
            "boards-api.greenhouse.io": 50.0,
            "api.lever.co": 50.0,
            "api.ashbyhq.com": 50.0,
            "apply.workable.com": 50.0,
            "api.smartrecruiters.com": 50.0,
            "www.sec.gov": 10.0,
            "data.sec.gov": 10.0,
            "efts.sec.gov": 10.0,
        },
        description="Requests per second to a named host, over host_rate: public APIs every "
        "company shares (job boards; SEC EDGAR asks for at most 10/s).",
    )
    timeout_s: float = Field(10.0, gt=0, description="Seconds one request may take, in all.")
    retries: int = Field(2, ge=0, description="Retries of a 429, a 5xx or a dropped connection.")
    max_bytes: int = Field(
        2_000_000, ge=1_000, description="Bytes read of one response at most; the rest is cut."
    )
    max_redirects: int = Field(5, ge=0, description="Redirects followed at most.")
    user_agent: str = Field(
        "icpkit-enrich/0.1 (+https://github.com/icpkit/icpkit)",
        description="The User-Agent every request sends (and robots.txt is read for).",
    )
    respect_robots: bool = Field(True, description="Skip pages robots.txt disallows.")
    allow_private: bool = Field(
        False,
        description="Allow private, loopback and link-local addresses (an intranet). "
        "Cloud metadata addresses stay forbidden.",
    )
    connect_to: list[str] = Field(
        default_factory=list,
        description="curl-like HOST:PORT:ADDRESS:PORT mappings (an empty HOST or PORT matches "
        "any): connect there instead of resolving HOST; a target named here is allowed even "
        "on loopback.",
    )
    ca_bundle: str | None = Field(
        None,
        description="A PEM file of certificate authorities trusted beside the system's "
        "(a corporate proxy's).",
    )
    dns_server: str | None = Field(
        None,
        description="ADDRESS[:PORT] of the DNS server asked for TXT and MX records (none: "
        "the system's).",
    )
    fingerprints: str | None = Field(
        None,
        description="A folder of Wappalyzer-format fingerprint files loaded beside icpkit's own.",
    )
    research: ResearchSettings = Field(default_factory=ResearchSettings)

    @field_validator("connect_to")
    @classmethod
    def _mappings(cls, values: list[str]) -> list[str]:
        for value in values:
            if value.count(":") < 3:
                raise ValueError(
                    f"connect_to {value!r}: expected HOST:PORT:ADDRESS:PORT "
                    "(e.g. example.com:443:127.0.0.1:8443, or ::127.0.0.1:8080 for every host)"
                )
        return values


class WebhookSettings(_Model):
    """CRM webhooks received by ``icp serve``: the URL the CRM signs, the Salesforce orgs
    accepted, and how the queue retries (secrets are never here: HUBSPOT_CLIENT_SECRET comes
    from the environment or the secrets file)."""

    public_url: str | None = Field(
        None,
        description="The server's address as the CRM calls it (https://icp.example.com) when "
        "a proxy stands in front: HubSpot signs the URL it called (none: the request's own).",
    )
    salesforce_org_ids: list[str] = Field(
        default_factory=list,
        description="Salesforce organization ids whose outbound messages are accepted (none: "
        "every message is refused).",
    )
    max_attempts: int = Field(
        6, ge=1, le=100, description="Tries of a queued event before it becomes a dead letter."
    )
    retry_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="Wait before the first retry, in seconds, doubled at each further one "
        "(at most an hour).",
    )
    lease_s: float = Field(
        120.0,
        ge=1,
        le=86400,
        description="How long a taken event is held for the worker that took it; a server "
        "stopped mid-drain frees its events after this.",
    )
    batch: int = Field(
        100, ge=1, le=1000, description="Most events read, scored and written back at once."
    )
    poll_ms: int = Field(
        500, ge=10, description="How often, in milliseconds, an idle server looks for events."
    )
    keep_done_days: float = Field(
        30.0,
        ge=1,
        description="How long done events are kept: a webhook delivered again within this "
        "time is recognized as a duplicate.",
    )


class ServeSettings(_Model):
    """How ``icp serve`` answers: where it listens, how many accounts and bytes a request may
    carry, and how soon it sees a new ICP version or token."""

    host: str = Field(
        "127.0.0.1",
        description="Address to listen on; 127.0.0.1 answers this machine only (put a TLS "
        "proxy in front before listening on another address).",
    )
    port: int = Field(8080, ge=1, le=65535, description="Port to listen on.")
    workers: int = Field(
        1,
        ge=1,
        description="Server processes; each keeps its own scorecard in memory and scores on "
        "its own core.",
    )
    max_batch: int = Field(
        1000, ge=1, description="Most accounts one POST /v1/score may carry (more: 422)."
    )
    max_body_bytes: int = Field(
        2_000_000, ge=1024, description="Largest request body accepted, in bytes (more: 413)."
    )
    batch_window_ms: float = Field(
        1.0,
        ge=0,
        le=100,
        description="How long an idle server waits after a request for others to score in "
        "the same query (one query costs about the same for 1 or 100 accounts); up to four "
        "times as long while fewer than half as many as in the last query have come.",
    )
    reload_ms: int = Field(
        1000,
        ge=50,
        description="How often, in milliseconds, the server looks for a new ICP version, "
        "changed settings or new data; a change is compiled off the request path (tokens are "
        "checked on every request).",
    )
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)


class AlertRule(_Model):
    """One alert rule: which event, which accounts, and the webhook it is posted to, signed
    with a secret read from the environment (see docs/alerts.md)."""

    name: str = Field(
        ...,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="The rule's name, unique in the file; part of every event's id.",
    )
    event: Literal["tier_entered", "intent_signal", "left_icp", "monitor"] = Field(
        ...,
        description="tier_entered: an account enters one of `tiers`; intent_signal: a fresh "
        "signal on an account in `tiers`; left_icp: an account inside the ICP falls outside "
        "its boundary or is excluded; monitor: `icp monitor`'s verdict reaches `verdict`.",
    )
    tiers: list[Literal["A", "B", "C", "D"]] | None = Field(
        None,
        description="tier_entered: the tiers entered (default [A]); intent_signal: the tiers "
        "of the accounts (default [A, B]); left_icp: the tiers the accounts were in (default: "
        "any).",
    )
    signals: list[str] = Field(
        default_factory=list,
        description="intent_signal: the signal types that count, e.g. [funding_round] (empty: "
        "the ICP's intent signals, or any type when it has none).",
    )
    max_age_days: int = Field(
        30, ge=1, description="intent_signal: a signal observed longer ago is not fresh."
    )
    verdict: Literal["warning", "action"] = Field(
        "warning", description="monitor: the lowest verdict that alerts."
    )
    url: str | None = Field(
        None, description="The webhook to POST to (http:// or https://); or `url_env`."
    )
    url_env: str | None = Field(
        None,
        description="The environment variable holding the webhook URL, for URLs that are "
        "secrets themselves (a Slack incoming webhook).",
    )
    format: Literal["slack", "generic"] = Field(
        "generic", description='slack: {"text": ...} in words; generic: the event as JSON.'
    )
    secret_env: str = Field(
        ...,
        description="The NAME of the environment variable holding the signing secret (never "
        "the secret itself).",
    )
    max_per_run: int = Field(
        20,
        ge=1,
        description="Most events one run posts one by one; more become one digest message.",
    )
    max_attempts: int = Field(
        5, ge=1, description="Runs that try a delivery before it is dropped and listed."
    )
    timeout_s: float = Field(10.0, gt=0, description="Seconds one POST may take.")

    @field_validator("secret_env", "url_env")
    @classmethod
    def _variable_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Never echo the value: a secret pasted here by mistake must not reach a message.
        if value is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
            raise PydanticCustomError(
                "env_name",
                "{name} is the NAME of an environment variable (letters, digits and _), e.g. "
                "ICP_ALERT_SECRET; got something else (not shown: it may be a secret)",
                {"name": info.field_name},
            )
        return value

    @field_validator("url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise PydanticCustomError(
                "url",
                "url is a webhook address; allowed: http://... or https://...; got {got}",
                {"got": repr(value)},
            )
        return value

    @model_validator(mode="after")
    def _one_destination(self) -> AlertRule:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url and url_env (where the alert is posted)")
        misplaced = [
            key
            for key, given, kinds in (
                ("tiers", self.tiers is not None, ("tier_entered", "intent_signal", "left_icp")),
                ("signals", bool(self.signals), ("intent_signal",)),
            )
            if given and self.event not in kinds
        ]
        if misplaced:
            raise ValueError(f"{', '.join(misplaced)} does not apply to {self.event} rules")
        return self


SegmentColumn = Literal[
    "industry", "industry_sector", "country", "funding_stage", "lifecycle_stage"
]
"""Account columns a named ICP's ``deals.segment`` may select deals by."""


class DealFilter(_Model):
    """The closed deals a named ICP learns from: every condition given holds (docs/multi-icp.md)."""

    pipeline: list[str] | None = Field(
        None, description="Deals in one of these pipelines (as the CRM names them)."
    )
    deal_type: list[str] | None = Field(
        None, description="Deals of one of these deal types (as the CRM names them)."
    )
    motion: Literal["new_business", "expansion"] = Field(
        "new_business",
        description="new_business: first deals of an account; expansion: deals of existing "
        "customers (upsell, cross-sell).",
    )
    segment: dict[SegmentColumn, list[str]] = Field(
        default_factory=dict,
        description="Deals of accounts in a segment: account column -> values, e.g. "
        "{industry: [Software]}.",
    )


class NamedIcp(_Model):
    """An ICP of its own beside the main one (a product line, segment or motion): the deals it
    learns from, and the ICP in force, written by `icp derive --icp NAME` or `--by`."""

    name: str = Field(
        ...,
        pattern=r"^[a-z][a-z0-9_]{0,39}$",
        description="The ICP's name: lower-case letters, digits and _ (it names score columns).",
    )
    deals: DealFilter = Field(default_factory=DealFilter)
    icp: dict[str, Any] | None = Field(
        None, description="This ICP in force, written by `icp derive --icp NAME`."
    )


class Settings(_Model):
    """The whole of ``icp.yaml``: every section, and the ICP in force under ``icp``."""

    schema_version: int = Field(
        SCHEMA_VERSION,
        description="Version of this file's layout.",
        json_schema_extra={"const": SCHEMA_VERSION},
    )
    name: str = Field("icpkit workspace", description="A name for the workspace, shown in reports.")
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    tiers: TierSettings = Field(default_factory=TierSettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    tam: TamSettings = Field(default_factory=TamSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    enrich: EnrichSettings = Field(default_factory=EnrichSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    alerts: list[AlertRule] = Field(
        default_factory=list,
        description="Alert rules `icp alerts run` posts, signed, to Slack-compatible or "
        "generic webhooks, at most once per event (see docs/alerts.md).",
    )
    icp: dict[str, Any] | None = Field(
        None,
        description="The ICP in force, written by `icp derive` and edited by hand "
        "(`icp schema` prints its JSON Schema); checked when the file is read.",
    )
    icps: list[NamedIcp] = Field(
        default_factory=list,
        description="Named ICPs beside the main one, each learned from its own deals (a "
        "pipeline, deal type, motion or segment); see docs/multi-icp.md.",
    )

    @field_validator("alerts")
    @classmethod
    def _rule_names_unique(cls, value: list[AlertRule]) -> list[AlertRule]:
        names = [rule.name for rule in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"alert rule names must be unique; given twice: {', '.join(twice)}")
        return value

    @field_validator("icps")
    @classmethod
    def _icp_names_unique(cls, value: list[NamedIcp]) -> list[NamedIcp]:
        names = [named.name for named in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"ICP names must be unique; given twice: {', '.join(twice)}")
        return value

    @field_validator("schema_version")
    @classmethod
    def _known_layout(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise PydanticCustomError(
                "schema_version",
                "this icpkit reads icp.yaml layout {known}; allowed: {known}; got {value} "
                "(written by a newer icpkit?)",
                {"known": SCHEMA_VERSION, "value": value},
            )
        return value


def load_settings(path: Path) -> Settings:
    """Read and validate ``icp.yaml``; every problem names the file, line and key path."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return parse_settings(raw, source=str(path))


def parse_settings(raw: bytes | str, *, source: str = CONFIG_NAME) -> Settings:
    """Validate the text of an ``icp.yaml``: strict YAML, known keys only, sensible values.

    Raises ConfigError with one line per problem: ``source, line L, column C: key.path: what``.
    """
    text = _decode(raw, source) if isinstance(raw, bytes) else raw
    try:
        doc = parse_yaml(text, settings_schema())
    except YamlProblem as exc:
        problems = [f"{source}, {line}" for line in str(exc).splitlines()]
        raise ConfigError("\n".join(problems), problems) from None
    if doc.data is None:
        raise ConfigError(
            f"{source}: is empty (or only comments); expected the workspace settings, "
            "e.g. 'name: Acme' (`icp init` in a new folder writes every default)"
        )
    if not isinstance(doc.data, dict):
        got = "a list" if isinstance(doc.data, list) else f"the single value {doc.data!r}"
        raise ConfigError(
            f"{source}, line 1: expected a mapping of settings ('key: value' lines), got {got}"
        )
    try:
        settings = Settings.model_validate(doc.data)
        if settings.icp is not None:
            from icpkit.icp.model import ICP

            try:
                ICP.model_validate(settings.icp)
            except ValidationError as exc:
                problems = [_problem(err, ("icp",), doc, source) for err in exc.errors()]
                raise ConfigError("\n".join(problems), problems) from None
        for i, named in enumerate(settings.icps):
            if named.icp is not None:
                from icpkit.icp.model import ICP

                try:
                    ICP.model_validate(named.icp)
                except ValidationError as exc:
                    at = ("icps", i, "icp")
                    problems = [_problem(err, at, doc, source) for err in exc.errors()]
                    raise ConfigError("\n".join(problems), problems) from None
    except ValidationError as exc:
        problems = [_problem(err, (), doc, source) for err in exc.errors()]
        raise ConfigError("\n".join(problems), problems) from None
    return settings


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"{source}, line {line}, column {column}: not UTF-8 text (byte "
            f"0x{raw[exc.start]:02x}); save the file as UTF-8"
        ) from None


SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "icp.schema.json"
SETTINGS_SCHEMA_ID = "https://icpkit.dev/schema/icp-yaml-1.json"


def settings_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the whole ``icp.yaml``, the ICP under ``icp`` included.

    Built from the models; the copy shipped in ``icpkit/schemas/icp.schema.json`` is this,
    written by ``scripts/gen_docs.py``. Cross-field rules (fit_low < fit_high, rising
    buckets) are checked by the models only.
    """
    from icpkit.icp.model import DRAFT, icp_json_schema

    body = Settings.model_json_schema(mode="validation")
    definitions: dict[str, Any] = body.setdefault("$defs", {})
    icp = icp_json_schema()
    for name, part in icp.pop("$defs", {}).items():
        if name in definitions and definitions[name] != part:
            raise ValueError(f"schema definition {name} is defined twice")
        definitions[name] = part
    for key in ("$schema", "$id"):
        icp.pop(key, None)
    definitions["ICP"] = icp
    description = body["properties"]["icp"].get("description", "")
    body["properties"]["icp"] = {
        "anyOf": [{"$ref": "#/$defs/ICP"}, {"type": "null"}],
        "default": None,
        "description": description,
    }
    return {"$schema": DRAFT, "$id": SETTINGS_SCHEMA_ID, **body}


def settings_schema_text() -> str:
    """The shipped schema file's text: the schema as indented JSON, keys in model order."""
    return json.dumps(settings_json_schema(), indent=2, ensure_ascii=False) + "\n"


@cache
def settings_schema() -> dict[str, Any]:
    """The JSON Schema of the whole ``icp.yaml``: the shipped copy, which
    tests/icp/test_schema.py holds equal to the models' own (reading it takes a
    millisecond where building it from the models takes tens), else built from them."""
    try:
        shipped: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return settings_json_schema()
    return shipped


def _problem(err: Any, prefix: Loc, doc: Document, source: str) -> str:
    loc: Loc = (*prefix, *(p for p in err["loc"] if isinstance(p, str | int)))
    mark = doc.where(loc)
    where = f"{source}, line {mark[0]}, column {mark[1]}" if mark else source
    path = key_path(loc)
    if err["type"] == "extra_forbidden":
        return f"{where}: {_unknown_key(loc)}"
    if err["type"] == "missing":
        message = "is required"
    else:
        message = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        if "got " not in message and (value is None or isinstance(value, str | int | float)):
            message += f" (got {value!r})"
    return f"{where}: {path}: {message}" if path else f"{where}: {message}"


def _unknown_key(loc: Loc) -> str:
    parent, key = loc[:-1], str(loc[-1])
    allowed = object_keys(settings_schema(), parent)
    at = "at the top level" if not parent else f"in {key_path(parent)}"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if not close:
        close = [a for a in allowed if a.lower() == key.lower()]
    if close:
        return f"unknown key {key!r} {at}; did you mean {close[0]!r}?"
    return f"unknown key {key!r} {at}; allowed: {', '.join(allowed)}"


def save_settings(settings: Settings, path: Path) -> None:
    """Write ``icp.yaml`` atomically (temporary file, then rename)."""
    data = settings.model_dump(mode="json")
    if data.get("icp") is None:
        data.pop("icp", None)
    if not data.get("icps"):
        data.pop("icps", None)  # a workspace of one ICP reads as it always did
    text = "# icpkit workspace settings; see docs/settings.md for every key.\n" + yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True
    )
    write_atomic(path, text)


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
