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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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
    revenue_unit: Literal["auto", "units", "thousands", "millions"] = Field(
        "auto",
        description="Unit of plain revenue numbers. 'auto' loads them as written and warns "
        "when their scale against employee counts suggests thousands or millions.",
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
        default_factory=list, description="Hand-made column mappings, first match wins."
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


class Settings(_Model):
    """The whole of ``icp.yaml`` that this version understands."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = Field(SCHEMA_VERSION, description="Version of this file's layout.")
    name: str = Field("icpkit workspace", description="A name for the workspace, shown in reports.")
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    tiers: TierSettings = Field(default_factory=TierSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)


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
