"""The ICP as data: typed criteria, intent signals and exclusions, and their YAML form.

The ICP is kept as code that people review and edit, so its YAML form is
deterministic (stable key order, plain YAML types, evidence rounded) and a bad
edit is reported with the path of the key it broke.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from functools import cache
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from icpkit.errors import IcpkitError
from icpkit.output.versions import ICP as ICP_SCHEMA_VERSION
from icpkit.vocabulary import Dimension

SCHEMA_ID = "https://icpkit.dev/schema/icp-1.json"
LISTS: tuple[str, ...] = ("boundary", "fit", "intent", "exclusions")
SIGNIFICANT_DIGITS = 4

Source = Literal["derived", "human"]
Direction = Literal["positive", "negative"]
ExclusionKind = Literal["disqualifier", "churn", "human"]

_SLUG = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")


class ICPError(IcpkitError):
    """An ICP cannot be read or does not validate; each problem names the path of its key."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems if problems is not None else [message]


def slugify(text: str) -> str:
    """A criterion id made from free text; text without letters or digits gives 'item'.

    >>> slugify("tech:HubSpot"), slugify("Employees 51-200"), slugify("!!")
    ('tech-hubspot', 'employees-51-200', 'item')
    """
    return "-".join(re.findall(r"[a-z0-9]+", text.lower())) or "item"


def format_number(value: float) -> str:
    """A number as people write it: 50 rather than 50.0.

    >>> format_number(50.0), format_number(2.5), format_number(1e6)
    ('50', '2.5', '1000000')
    """
    if math.isfinite(value) and value.is_integer():
        return str(int(value))
    return f"{value:g}"


# --- field types -------------------------------------------------------------------------


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise PydanticCustomError(
            "slug",
            "must be a slug of lowercase letters, digits and '-', e.g. 'industry-software' "
            "(got {value})",
            {"value": repr(value)},
        )
    return value


def _round_stat(value: float) -> float:
    # Rounded when built, so a file shows evidence rather than float noise and a loaded ICP
    # equals the one that was saved.
    if math.isnan(value):
        raise PydanticCustomError("nan", "must be a number, not NaN")
    if math.isinf(value) or value == 0:
        return value
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _as_text(value: Any) -> Any:
    # YAML 1.1 reads bare no/yes/on/off as booleans, 10 as an int and 2024-01-01 as a date;
    # an attribute value is always text (country NO is Norway, not False).
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    return value


def _texts(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_as_text(v) for v in value]
    if value is None or isinstance(value, dict):
        return value
    return [_as_text(value)]  # a single bare value means a list of one


def _not_bool(value: Any) -> Any:
    # Pydantic would read true as 1; in a bound that is always a typing slip.
    if isinstance(value, bool):
        raise PydanticCustomError(
            "number_type", "must be a number, not {value}", {"value": str(value).lower()}
        )
    return value


def _compact(value: float) -> float | int:
    # Whole bounds are written as 50, not 50.0, as people write them.
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _nan_is_unknown(value: Any) -> Any:
    # An optional statistic that could not be computed arrives as NaN; it is simply unknown.
    return None if isinstance(value, float) and math.isnan(value) else value


def _share(value: float) -> float:
    if not 0 <= value <= 1:
        raise PydanticCustomError(
            "share", "is a share; allowed: 0 to 1; got {value}", {"value": format_number(value)}
        )
    return value


Stat = Annotated[float, AfterValidator(_round_stat)]
OptionalStat = Annotated[Stat | None, BeforeValidator(_nan_is_unknown)]
Share = Annotated[
    float,
    AfterValidator(_round_stat),
    AfterValidator(_share),
    Field(json_schema_extra={"minimum": 0, "maximum": 1}),
]
OptionalShare = Annotated[Share | None, BeforeValidator(_nan_is_unknown)]
Number = Annotated[
    float,
    BeforeValidator(_not_bool),
    Field(allow_inf_nan=False),
    PlainSerializer(_compact, return_type=float),
]
Texts = Annotated[list[str], BeforeValidator(_texts), Field(min_length=1)]
RuleId = Annotated[
    str,
    AfterValidator(_slug),
    Field(description="Stable slug, unique within the ICP, e.g. 'employees-51-200'."),
]
Rationale = Annotated[str, Field(description="Why the rule is in the ICP, in plain words.")]
SourceField = Annotated[
    Source, Field(description="'derived' from the data, or 'human' (added or overridden by hand).")
]
Locked = Annotated[
    bool, Field(description="Kept as is when the ICP is derived again (needs a reason).")
]
Reason = Annotated[
    str | None,
    Field(
        validate_default=True,
        description="Why a human added, locked or overrode the rule; required when source is "
        "'human' or locked is true.",
    ),
]
Points = Annotated[
    Number | None,
    Field(description="Points set by hand for the scoring model; they win over learned ones."),
]
Weight = Annotated[
    OptionalStat,
    Field(
        description="Learned log-odds of the rule in the scoring model (set by derive and "
        "calibrate); points are scaled from it."
    ),
]
DimensionField = Annotated[
    Dimension | None,
    Field(
        description="Scoring dimension (default: firmographic, technographic for tech and "
        "stack, behavioral for intent, deal_potential for persona)."
    ),
]


def _reason_given(value: str | None, info: ValidationInfo) -> str | None:
    missing = value is None or not value.strip()
    if missing and (info.data.get("source") == "human" or info.data.get("locked") is True):
        raise PydanticCustomError(
            "reason_missing", "is required when source is 'human' or locked is true: say why"
        )
    return value


def _max_not_below_min(value: float | None, info: ValidationInfo) -> float | None:
    low = info.data.get("min")
    if value is not None and low is not None and value < low:
        raise PydanticCustomError(
            "range",
            "must be >= min (got {max} < {min})",
            {"max": format_number(value), "min": format_number(low)},
        )
    return value


def _check_condition(values: list[str] | None, low: float | None, high: float | None) -> None:
    if values is None and low is None and high is None:
        raise PydanticCustomError(
            "no_condition", "needs `values` (a list) or `min`/`max` (a numeric range)"
        )
    if values is not None and (low is not None or high is not None):
        raise PydanticCustomError(
            "both_conditions", "has both `values` and `min`/`max`; a rule uses one or the other"
        )


# --- models ------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Evidence(_Model):
    """The statistics behind a derived rule, rounded to what the data can tell."""

    n_closed: int = Field(ge=0, description="Closed deals (won + lost) in the cut.")
    wins: int = Field(ge=0, description="Won deals in the cut.")
    win_rate: Share = Field(description="Won share of the closed deals in the cut.")
    win_rate_ci: tuple[Stat, Stat] | None = Field(
        None, description="95% confidence interval of the win rate (low, high)."
    )
    base_rate: Share = Field(description="Win rate of all closed deals, for comparison.")
    lift: OptionalStat = Field(
        None,
        description="Win rate of the cut over the rest; for a rule chosen by its win-rate "
        "test, the selection-adjusted (median-unbiased) estimate.",
    )
    lift_ci: tuple[Stat, Stat] | None = Field(
        None,
        description="95% confidence interval of the lift (low, high); for a rule chosen by "
        "its win-rate test, adjusted for that selection.",
    )
    lift_observed: OptionalStat = Field(
        None,
        description="Lift as measured on the data that chose the rule, before the selection "
        "adjustment; absent when the lift is not adjusted.",
    )
    lift_observed_ci: tuple[Stat, Stat] | None = Field(
        None, description="95% confidence interval of lift_observed, not adjusted for selection."
    )
    q_value: OptionalShare = Field(
        None, description="False-discovery-rate adjusted p-value (Benjamini-Hochberg)."
    )
    woe: OptionalStat = Field(None, description="Weight of evidence, ln(share won / share lost).")
    iv: OptionalStat = Field(None, description="Information value of the attribute as a whole.")
    share_won: OptionalShare = Field(None, description="Share of all won deals in the cut.")
    share_lost: OptionalShare = Field(None, description="Share of all lost deals in the cut.")
    churn_rate: OptionalShare = Field(None, description="Share of won customers in the cut lost.")
    n_accounts: int | None = Field(None, ge=0, description="Distinct accounts in the cut.")
    test: str | None = Field(
        None, description="Statistical test used: 'z (cluster-robust)' or 'permutation (accounts)'."
    )

    @field_validator("wins")
    @classmethod
    def _wins_within_closed(cls, value: int, info: ValidationInfo) -> int:
        closed = info.data.get("n_closed")
        if closed is not None and value > closed:
            raise PydanticCustomError(
                "wins",
                "must be <= n_closed (got {wins} > {closed})",
                {"wins": value, "closed": closed},
            )
        return value

    @field_validator("win_rate_ci", "lift_ci", "lift_observed_ci")
    @classmethod
    def _interval_ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] > value[1]:
            raise PydanticCustomError(
                "interval",
                "must be [low, high] with low <= high (got [{low}, {high}])",
                {"low": format_number(value[0]), "high": format_number(value[1])},
            )
        return value


EvidenceField = Annotated[
    Evidence | None,
    Field(description="The statistics behind the rule when derived from data."),
]


class Criterion(_Model):
    """A fit criterion or boundary condition: a set of attribute values or a numeric range."""

    id: RuleId
    attribute: str = Field(
        min_length=1,
        description="Attribute judged, e.g. 'employees', 'industry', 'country', 'tech:HubSpot'.",
    )
    values: Texts | None = Field(
        None, description="Values that match (categorical attributes); always text."
    )
    min: Number | None = Field(None, description="Lowest matching value, inclusive (numeric).")
    max: Number | None = Field(None, description="Highest matching value, inclusive (numeric).")
    missing: bool = Field(
        False,
        description="True: matches accounts whose value of the attribute is unknown (the "
        "Missing bin, no `values` or `min`/`max`); its weight is learned without a sign "
        "bound and it is kept even at 0 points.",
    )
    direction: Direction = Field(
        "positive", description="'positive' if a match wins more often, 'negative' if less."
    )
    evidence: EvidenceField = None
    rationale: Rationale = ""
    source: SourceField
    locked: Locked = False
    reason: Reason = None
    points: Points = None
    weight: Weight = None
    dimension: DimensionField = None

    _check_reason = field_validator("reason")(_reason_given)
    _check_range = field_validator("max")(_max_not_below_min)

    @model_validator(mode="after")
    def _values_or_range(self) -> Self:
        if not self.missing:
            _check_condition(self.values, self.min, self.max)
        elif self.values is not None or self.min is not None or self.max is not None:
            raise PydanticCustomError(
                "missing_condition",
                "has `missing: true` and a condition; the rule on unknown values has no "
                "`values` or `min`/`max`",
            )
        return self


class IntentSignal(_Model):
    """A buying signal (funding round, job posting, ...) that predicts a deal for a while."""

    id: RuleId
    signal: str = Field(min_length=1, description="Signal type, e.g. 'funding_round'.")
    detail_in: Annotated[list[str], BeforeValidator(_texts)] = Field(
        default_factory=list,
        description="Signal details that count, e.g. ['Series A', 'Series B'] (empty: any).",
    )
    window_days: tuple[int, int] = Field(
        description="Days after the signal during which it predicts, as [from, to]."
    )
    evidence: EvidenceField = None
    rationale: Rationale = ""
    source: SourceField
    locked: Locked = False
    reason: Reason = None
    points: Points = None
    weight: Weight = None
    dimension: DimensionField = None
    half_life_days: int | None = Field(
        None,
        gt=0,
        description="Days after the window opens for the points to halve (none: full points "
        "throughout the window); learned where the data allow.",
    )
    window_start_ci: tuple[int, int] | None = Field(
        None,
        description="95% interval of the window's first day, as [low, high] (account "
        "bootstrap of the estimated window); none for a window set by hand.",
    )
    window_end_ci: tuple[int, int] | None = Field(
        None,
        description="95% interval of the window's last day, as [low, high]; 3650 stands for "
        "a window that does not close.",
    )
    half_life_ci: tuple[int, int | None] | None = Field(
        None,
        description="Half-lives the data cannot tell from the learned one (95% profile "
        "likelihood), as [shortest, longest]; longest none: no decay fits as well.",
    )

    _check_reason = field_validator("reason")(_reason_given)

    @field_validator("window_start_ci", "window_end_ci", "half_life_ci")
    @classmethod
    def _interval_ordered(cls, value: tuple[int, int | None] | None) -> Any:
        if value is not None:
            low, high = value
            if low < 0 or (high is not None and high < low):
                raise PydanticCustomError(
                    "interval",
                    "must be [low, high] with 0 <= low <= high (got [{low}, {high}])",
                    {"low": low, "high": high},
                )
        return value

    @field_validator("window_days")
    @classmethod
    def _window_ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        start, end = value
        if not 0 <= start < end:
            raise PydanticCustomError(
                "window",
                "must be [from, to] with 0 <= from < to (got [{start}, {end}])",
                {"start": start, "end": end},
            )
        return value


class Exclusion(_Model):
    """An account to leave out: a disqualifier, a churn risk, or a human decision."""

    id: RuleId
    attribute: str = Field(
        min_length=1, description="Attribute judged, e.g. 'industry', 'employees'."
    )
    values: Texts | None = Field(
        None, description="Values that exclude (categorical attributes); always text."
    )
    min: Number | None = Field(None, description="Lowest excluded value, inclusive (numeric).")
    max: Number | None = Field(None, description="Highest excluded value, inclusive (numeric).")
    kind: ExclusionKind = Field(
        description="'disqualifier' (rarely wins), 'churn' (wins but churns) or 'human'."
    )
    evidence: EvidenceField = None
    rationale: Rationale = ""
    source: SourceField
    locked: Locked = False
    reason: Reason = None
    points: Points = None
    weight: Weight = None
    dimension: DimensionField = None

    _check_reason = field_validator("reason")(_reason_given)
    _check_range = field_validator("max")(_max_not_below_min)

    @model_validator(mode="after")
    def _values_or_range(self) -> Self:
        _check_condition(self.values, self.min, self.max)
        return self


Rule = Criterion | IntentSignal | Exclusion


class ScoringModel(_Model):
    """How the rules' weights were learned: the model behind the points."""

    method: str = Field(description="How the weights were fitted, in words.")
    intercept: Stat = Field(description="Log-odds of winning for an account matching no rule.")
    deals: int = Field(ge=0, description="Closed deals the weights were fitted on.")
    wins: int = Field(ge=0, description="Won deals among them.")
    closed_from: date | None = Field(None, description="Creation date of the oldest deal used.")
    closed_to: date | None = Field(None, description="Creation date of the newest deal used.")
    auc: OptionalShare = Field(None, description="ROC AUC on the deals fitted (in sample).")
    persona_weight: OptionalStat = Field(
        None, description="Learned log-odds of having a contact matching the buyer persona."
    )
    tiers: dict[str, float] | None = Field(
        None, description="Lowest combined score of tiers A, B and C, learned with the weights."
    )

    @field_validator("wins")
    @classmethod
    def _wins_within_deals(cls, value: int, info: ValidationInfo) -> int:
        deals = info.data.get("deals")
        if deals is not None and value > deals:
            raise PydanticCustomError(
                "wins",
                "must be <= deals; allowed: 0 to {deals}; got {wins}",
                {"wins": value, "deals": deals},
            )
        return value

    @field_validator("closed_to")
    @classmethod
    def _dates_ordered(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("closed_from")
        if value is not None and start is not None and value < start:
            raise PydanticCustomError(
                "range",
                "must not be before closed_from; got {end} < {start}",
                {"end": value.isoformat(), "start": start.isoformat()},
            )
        return value


class PersonaRole(_Model):
    """A role of the buyer persona: a seniority in a department, present in won deals more
    often than in lost ones (counted by account, contacts known before each deal closed)."""

    seniority: str = Field(min_length=1, description="Seniority read from titles, e.g. 'VP'.")
    department: str = Field(min_length=1, description="Department, e.g. 'Sales'.")
    evidence: EvidenceField = None
    rationale: Rationale = ""


class Committee(_Model):
    """The buying committee: contacts an account had by the close, and what more of them did."""

    larger_from: int = Field(ge=1, description="Contacts from which a committee counts larger.")
    win_rate_larger: OptionalShare = Field(None, description="Win rate of larger committees.")
    win_rate_smaller: OptionalShare = Field(None, description="Win rate of smaller ones.")
    difference_ci: tuple[Stat, Stat] | None = Field(
        None, description="95% interval of the win-rate difference, larger minus smaller."
    )
    p_value: OptionalShare = Field(None, description="Test of no difference (by account).")
    median_cycle_larger: OptionalStat = Field(
        None, description="Median days to close of won deals with larger committees."
    )
    median_cycle_smaller: OptionalStat = Field(
        None, description="Median days to close of won deals with smaller committees."
    )


class BuyerPersona(_Model):
    """The persona inside the ICP, learned from contacts: whom to reach first."""

    roles: list[PersonaRole] = Field(
        default_factory=list, description="Roles that win, strongest first (empty: none found)."
    )
    committee: Committee | None = Field(None, description="Buying-committee size and effect.")
    rationale: str = Field("", description="What the contacts show, in plain words.")


def _plain(value: Any) -> Any:
    """``value`` as plain YAML/JSON data: text keys, lists for tuples, ISO text for dates."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return _iso_utc(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float):
        return value
    raise PydanticCustomError(
        "plain", "must hold plain data only (got {type})", {"type": type(value).__name__}
    )


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


def _iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class ICP(_Model):
    """An Ideal Customer Profile: who to sell to, when, and who to leave out, with evidence."""

    schema_version: int = Field(
        ICP_SCHEMA_VERSION,
        description="Version of this document's layout.",
        json_schema_extra={"const": ICP_SCHEMA_VERSION},
    )
    version: int = Field(0, ge=0, description="Sequential number, set when saved (0: unsaved).")
    derived_at: datetime = Field(description="When the ICP was derived, UTC (ISO 8601, 'Z').")
    data_fingerprint: str = Field(description="Fingerprint of the data it was derived from.")
    method: dict[str, Any] = Field(
        default_factory=dict,
        description="Settings used to derive it, e.g. alpha, min_closed_deals.",
    )
    boundary: list[Criterion] = Field(
        default_factory=list, description="Conditions that define the market served at all."
    )
    fit: list[Criterion] = Field(
        default_factory=list, description="Attributes that set winning accounts apart."
    )
    intent: list[IntentSignal] = Field(
        default_factory=list, description="Signals that an account is ready to buy now."
    )
    exclusions: list[Exclusion] = Field(
        default_factory=list, description="Accounts to leave out, and why."
    )
    notes: list[str] = Field(default_factory=list, description="Free-form notes for readers.")
    empty: bool = Field(
        False,
        description="True when derived with no rule passing: no ICP can be derived from the "
        "data, every account scores the same (written only when true).",
    )
    scoring: ScoringModel | None = Field(
        None, description="The fitted scoring model (weights live on each rule)."
    )
    persona: BuyerPersona | None = Field(
        None,
        description="The buyer persona learned from contacts (`icp analyze persona`); absent "
        "when the workspace has no contacts.",
    )

    @field_validator("schema_version")
    @classmethod
    def _known_schema(cls, value: int) -> int:
        if value != ICP_SCHEMA_VERSION:
            raise PydanticCustomError(
                "schema_version",
                "this icpkit reads ICP schema version {known}; got {value} (upgrade icpkit?)",
                {"known": ICP_SCHEMA_VERSION, "value": value},
            )
        return value

    @field_validator("derived_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # A time without a zone is taken as UTC, the zone the file is written in.
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @field_validator("method")
    @classmethod
    def _plain_method(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Plain, key-sorted data, so the settings read back exactly as they were written.
        result: dict[str, Any] = _sorted_keys(_plain(value))
        return result

    @field_serializer("derived_at", when_used="json")
    def _derived_at_z(self, value: datetime) -> str:
        return _iso_utc(value)

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: dict[str, str] = {}
        for name in LISTS:
            for i, item in enumerate(getattr(self, name)):
                where = f"{name}[{i}]"
                if item.id in seen:
                    raise PydanticCustomError(
                        "duplicate_id",
                        "duplicate id {id} in {first} and {second}; ids must be unique",
                        {"id": repr(item.id), "first": seen[item.id], "second": where},
                    )
                seen[item.id] = where
        return self

    def rules(self) -> list[tuple[str, Rule]]:
        """Every criterion, signal and exclusion with the name of its list, in file order."""
        return [(name, item) for name in LISTS for item in getattr(self, name)]


# --- plain data and YAML -----------------------------------------------------------------

_OWN_ERRORS = {
    "slug",
    "nan",
    "number_type",
    "reason_missing",
    "range",
    "no_condition",
    "both_conditions",
    "missing_condition",
    "wins",
    "interval",
    "window",
    "plain",
    "schema_version",
    "duplicate_id",
    "share",
}


def _key_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _problem(err: Any, source: str) -> str:
    path = _key_path(tuple(err["loc"]))
    kind = err["type"]
    if kind == "missing":
        message = "is required"
    elif kind == "extra_forbidden":
        message = "is not a known key (a typo?)"
    else:
        message = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        if kind not in _OWN_ERRORS and isinstance(value, str | int | float | bool | None):
            message += f" (got {value!r})"
    return f"{source}: {path}: {message}" if path else f"{source}: {message}"


def load_icp(data: Any, *, source: str = "icp.yaml") -> ICP:
    """Validate plain data (as read from YAML) into an ICP; errors name the key path."""
    if not isinstance(data, dict):
        message = f"{source}: expected a mapping with an ICP, got {type(data).__name__}"
        raise ICPError(message)
    try:
        return ICP.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(err, source) for err in exc.errors()]
        raise ICPError("\n".join(problems), problems) from None


def _drop_none(item: dict[str, Any]) -> dict[str, Any]:
    # Unset optional keys are left out, so a hand-written rule and a dumped one look alike.
    return {k: v for k, v in item.items() if v is not None and not (k == "rationale" and v == "")}


def dump_icp(icp: ICP) -> dict[str, Any]:
    """The ICP as plain data in a stable key order, ready for YAML or JSON."""
    data: dict[str, Any] = _plain(icp.model_dump(mode="python"))
    for name in LISTS:
        items = []
        for item in data[name]:
            if item.get("evidence") is not None:
                item["evidence"] = _drop_none(item["evidence"])
            if item.get("missing") is False:
                del item["missing"]  # written only for the rule on unknown values
            items.append(_drop_none(item))
        data[name] = items
    if not data.get("empty"):
        data.pop("empty", None)  # files of ICPs with rules read as they always did
    if data.get("scoring") is None:
        data.pop("scoring", None)
    else:
        data["scoring"] = _drop_none(data["scoring"])
    if data.get("persona") is None:
        data.pop("persona", None)  # ICPs learned without contacts read as they always did
    else:
        persona = data["persona"]
        persona["roles"] = [
            _drop_none({**r, "evidence": _drop_none(r["evidence"]) if r.get("evidence") else None})
            for r in persona["roles"]
        ]
        persona["committee"] = _drop_none(persona["committee"]) if persona["committee"] else None
        data["persona"] = _drop_none(persona)
    return data


class _Dumper(yaml.SafeDumper):
    """Block mappings, short scalar lists in flow style, and no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    # [Software, SaaS] and [0.21, 0.35] read best on one line; notes and rules do not.
    short = all(
        v is None or isinstance(v, int | float) or (isinstance(v, str) and len(v) <= 40)
        for v in data
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=short)


_Dumper.add_representer(list, _represent_list)

HEADER = (
    f"# yaml-language-server: $schema={SCHEMA_ID}\n"
    "# Ideal Customer Profile derived by icpkit. Edit by hand with source: human or\n"
    "# locked: true and a reason, so the change survives the next derivation.\n"
)


def icp_to_yaml(icp: ICP) -> str:
    """The ICP as YAML text, the same bytes for the same ICP."""
    body = yaml.dump(
        dump_icp(icp),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=4096,  # long rationales stay on one line, so diffs show one changed line
    )
    return HEADER + body


DRAFT = "https://json-schema.org/draft/2020-12/schema"

# Rules the models check in code, restated so editors flag them too.
_REASON_WHEN_HUMAN_OR_LOCKED: list[dict[str, Any]] = [
    {
        "if": {"properties": {"source": {"const": "human"}}, "required": ["source"]},
        "then": {"required": ["reason"]},
    },
    {
        "if": {"properties": {"locked": {"const": True}}, "required": ["locked"]},
        "then": {"required": ["reason"]},
    },
]
_VALUES_OR_RANGE: dict[str, Any] = {
    "anyOf": [{"required": ["values"]}, {"required": ["min"]}, {"required": ["max"]}]
}
_MISSING_BIN: dict[str, Any] = {
    "required": ["missing"],
    "properties": {"missing": {"const": True}},
}


def icp_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an ICP document, built from the models."""
    body = ICP.model_json_schema(mode="validation")
    definitions = body.get("$defs", {})
    for name in ("Criterion", "IntentSignal", "Exclusion"):
        rules = list(_REASON_WHEN_HUMAN_OR_LOCKED)
        if name == "Criterion":
            rules.append({"anyOf": [*_VALUES_OR_RANGE["anyOf"], _MISSING_BIN]})
        elif name == "Exclusion":
            rules.append(_VALUES_OR_RANGE)
        definitions[name]["allOf"] = rules
    return {"$schema": DRAFT, "$id": SCHEMA_ID, **body}


@cache
def _schema() -> dict[str, Any]:
    return icp_json_schema()


def _parse(text: str, source: str) -> Any:
    # Strict: one document, no repeated key; where the schema expects text, the text written.
    from icpkit.yamlfile import YamlProblem, parse_yaml

    try:
        return parse_yaml(text, _schema()).data
    except YamlProblem as exc:
        raise ICPError(f"{source}, {exc}") from None


def icp_from_yaml(text: str, *, source: str = "icp.yaml") -> ICP:
    """Read an ICP from YAML text; every problem is reported as 'source: key.path: message'."""
    return load_icp(_parse(text, source), source=source)
