"""Champion/challenger (shadow) scoring: the ICP in force and a saved candidate version score
the same accounts side by side, both scores are recorded, and once the deals created after
the recording have closed the two versions are judged on them.

The record lives in ``.icp/shadow.sqlite`` (never in the store, which scoring only reads):
one row per account, scoring day and pair of versions, with both scores and tiers. A deal
is judged by the scores its account was given at the latest recording before the deal was
created (so a score never saw the deal it is judged on). Both versions are judged on the
same closed deals: the AUC of each, and their difference with a 95% interval from one
account bootstrap shared by both (paired), since deals of one account are not independent.
The verdict is the challenger or the champion ranking better when the interval excludes
zero, "no difference shown" when it does not, and "not enough closed deals yet" below
``monitor.min_closed_deals``::

    ws.score_shadow(3, "prospects.csv", out="scored.csv")   # champion and version 3
    ws.shadow_monitor().comparisons[0].summary()
    # 'version 3 ranks better than version 2 (in force when scored): AUC 0.712 vs 0.641, ...'
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import duckdb
import numpy as np
import pyarrow as pa

from icpkit.config import Settings
from icpkit.engines.sql import OUTPUT_COLUMNS, Tables, compile_scorecard
from icpkit.errors import IcpkitError
from icpkit.icp.model import ICP
from icpkit.store.db import identifier

if TYPE_CHECKING:
    from icpkit.engines.prospects import ScoredFile
    from icpkit.validate.metrics import MetricCI

BOOK_FILE = Path(".icp") / "shadow.sqlite"
PREFIX = "shadow_"
SHADOW_COLUMNS = ("fit", "intent", "score", "tier", "route")
"""The challenger's columns a shadow-scored row carries, each with the ``shadow_`` prefix
(after ``shadow_version``); the champion's columns are those of a plain scoring."""
N_BOOT = 1000
"""Account-bootstrap resamples behind the AUCs and their difference."""

Annotate = Callable[[duckdb.DuckDBPyConnection, str, str], str]
Verdict = Literal["challenger", "champion", "no difference", "too few"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS shadow_scores (
    account_key TEXT NOT NULL,
    day TEXT NOT NULL,
    champion INTEGER NOT NULL,
    challenger INTEGER NOT NULL,
    champion_score INTEGER NOT NULL,
    challenger_score INTEGER NOT NULL,
    champion_tier TEXT NOT NULL,
    challenger_tier TEXT NOT NULL,
    source TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (account_key, day, champion, challenger)
) WITHOUT ROWID;
"""


class ShadowError(IcpkitError):
    """Shadow scoring cannot run: no such saved version, the version in force itself, or a
    record that cannot be read."""


@dataclass(frozen=True)
class Recorded:
    """One account scored by both versions: its key, both scores and both tiers."""

    account_key: str
    champion_score: int
    challenger_score: int
    champion_tier: str
    challenger_tier: str


@dataclass(frozen=True)
class Pair:
    """A champion and a challenger scored side by side, and what the record holds of them."""

    champion: int
    challenger: int
    accounts: int
    first_day: dt.date
    last_day: dt.date


@dataclass
class ShadowScoring:
    """What one shadow scoring did: the versions, the day, the accounts scored and recorded
    (an account without a key cannot be judged later and is not recorded), and how many
    accounts sit in each (champion tier, challenger tier)."""

    champion: int
    challenger: int
    as_of: dt.date
    source: str
    scored: int
    recorded: int
    book: Path
    tiers: dict[tuple[str, str], int] = field(default_factory=dict)
    file: ScoredFile | None = None

    @property
    def unkeyed(self) -> int:
        """Accounts scored but not recorded: no account key (nor a domain that names one)."""
        return self.scored - self.recorded

    @property
    def changed(self) -> int:
        """Accounts the two versions put in different tiers."""
        return sum(n for (a, b), n in self.tiers.items() if a != b)


class ShadowBook:
    """The shadow record of the workspace at ``root``: ``.icp/shadow.sqlite``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = self.root / BOOK_FILE

    def connect(self) -> sqlite3.Connection:
        """A connection in autocommit mode (transactions are explicit), the table made; the
        caller closes it. Write-ahead logging lets the API and the command line append at
        once; a commit is not synced to disk before the next checkpoint (a power cut may
        lose the last recordings, never corrupt the record)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise ShadowError(f"{self.path}: cannot open the shadow record ({exc})") from None
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            con.close()
            raise ShadowError(
                f"{self.path}: not a readable shadow record ({exc}); move it away to "
                "start a new one"
            ) from None
        return con

    @contextmanager
    def open(self) -> Iterator[sqlite3.Connection]:
        """:meth:`connect`, closed on exit."""
        with closing(self.connect()) as con:
            yield con

    def record(
        self,
        rows: Iterable[Recorded],
        *,
        day: dt.date,
        champion: int,
        challenger: int,
        source: str,
        con: sqlite3.Connection | None = None,
    ) -> int:
        """Record ``rows`` scored as of ``day`` in one transaction (on ``con`` when given, a
        connection kept open by a server); an account scored again the same day by the same
        pair keeps the latest scores. Returns the rows recorded."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        when = day.isoformat()
        values = [
            (r.account_key, when, champion, challenger, r.champion_score, r.challenger_score,
             r.champion_tier, r.challenger_tier, source, now)
            for r in rows
        ]  # fmt: skip
        if not values:
            return 0
        with closing(self.connect()) if con is None else nullcontext(con) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT OR REPLACE INTO shadow_scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return len(values)

    def pairs(self) -> list[Pair]:
        """Every (champion, challenger) recorded, the latest recording first."""
        if not self.path.is_file():
            return []
        with self.open() as con:
            rows = con.execute(
                "SELECT champion, challenger, count(DISTINCT account_key), min(day), max(day) "
                "FROM shadow_scores GROUP BY 1, 2 ORDER BY max(recorded_at) DESC, 2 DESC"
            ).fetchall()
        return [
            Pair(int(a), int(b), int(n), dt.date.fromisoformat(lo), dt.date.fromisoformat(hi))
            for a, b, n, lo, hi in rows
        ]

    def scores(self, champion: int, challenger: int) -> pa.Table:
        """The recorded scores of one pair: account_key, day, champion_score,
        challenger_score."""
        with self.open() as con:
            rows = con.execute(
                "SELECT account_key, day, champion_score, challenger_score FROM shadow_scores "
                "WHERE champion = ? AND challenger = ?",
                (champion, challenger),
            ).fetchall()
        keys, days, a, b = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [], [])
        return pa.table(
            {
                "account_key": pa.array(keys, pa.string()),
                "day": pa.array([dt.date.fromisoformat(d) for d in days], pa.date32()),
                "champion_score": pa.array(a, pa.float64()),
                "challenger_score": pa.array(b, pa.float64()),
            }
        )


def challenger_of(champion: ICP, challenger: ICP | None, version: int, saved: Sequence[int]) -> ICP:
    """The saved version to score beside the champion, or why it cannot be."""
    if challenger is None:
        listed = ", ".join(map(str, saved)) or "none"
        raise ShadowError(
            f"no saved ICP version {version} to score in shadow (saved: {listed})",
            hint="icp versions lists them; a candidate is saved by icp derive or icp calibrate",
        )
    if challenger.version == champion.version:
        raise ShadowError(
            f"version {version} is the version in force: shadow scoring sets another saved "
            "version beside it"
        )
    if challenger.scoring is None:
        raise ShadowError(f"ICP version {version} has no fitted points: it cannot score")
    return challenger


def tier_counts(rows: Iterable[Recorded]) -> dict[tuple[str, str], int]:
    """Accounts per (champion tier, challenger tier)."""
    out: dict[tuple[str, str], int] = {}
    for r in rows:
        key = (r.champion_tier, r.challenger_tier)
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


# --- scoring a file with both versions ----------------------------------------------------


def shadow_step(
    champion: ICP,
    challenger: ICP,
    settings: Settings,
    day: dt.date,
    then: Annotate | None,
    kept: list[Recorded],
) -> Annotate:
    """The step after the compiled SELECT of a scored file (see
    icpkit.engines.prospects.score_file's ``annotate``) that scores the same input rows with
    ``challenger`` too: the rows are numbered once, both SELECTs run over them and are joined
    row by row, the champion's columns unchanged (``then`` applied to them) and the
    challenger's beside them with the ``shadow_`` prefix. The keyed rows' scores are appended
    to ``kept`` for the record."""

    def step(con: duckdb.DuckDBPyConnection, view: str, schema: str) -> str:
        columns = [r[0] for r in con.execute(f"DESCRIBE {view}").fetchall()]
        keep = tuple(c for c in columns if c not in OUTPUT_COLUMNS)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE shadow_input AS "
            "SELECT (row_number() OVER () - 1)::BIGINT AS shadow_row, * FROM score_input"
        )
        tables = Tables("shadow_input", f"{schema}signals", f"{schema}contacts")
        first = compile_scorecard(
            champion, settings, tables=tables, as_of=day, keep=("shadow_row", *keep)
        )
        con.execute(f"CREATE OR REPLACE TEMP VIEW shadow_champion AS {first}")
        shown = then(con, "shadow_champion", schema) if then is not None else "shadow_champion"
        second = compile_scorecard(
            challenger, settings, tables=tables, as_of=day, keep=("shadow_row",)
        )
        con.execute(f"CREATE OR REPLACE TEMP VIEW shadow_challenger AS {second}")
        extra = ", ".join(f"s.{identifier(c)} AS {identifier(PREFIX + c)}" for c in SHADOW_COLUMNS)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE shadow_scored AS
                SELECT c.* EXCLUDE (shadow_row), {int(challenger.version)} AS shadow_version,
                       {extra}
                FROM {identifier(shown)} c JOIN shadow_challenger s USING (shadow_row)
                ORDER BY c.shadow_row"""
        )
        rows = con.execute(
            "SELECT account_key, score, shadow_score, tier, shadow_tier FROM shadow_scored "
            "WHERE account_key IS NOT NULL"
        ).fetchall()
        kept.extend(Recorded(str(k), int(a), int(b), str(t), str(u)) for k, a, b, t, u in rows)
        return "shadow_scored"

    return step


# --- judging the versions on the deals that came after ----------------------------------


@dataclass(frozen=True)
class Comparison:
    """One pair of versions judged on the closed new-business deals created after their
    accounts were scored in shadow. ``difference`` is the challenger's AUC minus the
    champion's, with its paired account-bootstrap interval."""

    champion: int
    challenger: int
    recorded_accounts: int
    first_day: dt.date
    last_day: dt.date
    deals: int  # created after a recording of their account, open or closed
    closed: int
    wins: int
    accounts: int  # accounts of the closed deals
    champion_auc: MetricCI
    challenger_auc: MetricCI
    difference: MetricCI
    min_closed: int

    @property
    def enough(self) -> bool:
        """Enough closed deals, won and lost, to judge the versions on."""
        return self.closed >= self.min_closed and 0 < self.wins < self.closed

    @property
    def verdict(self) -> Verdict:
        """Which version ranks better, if the interval on the difference excludes zero."""
        d = self.difference
        if not self.enough or not all(map(math.isfinite, (d.value, d.low, d.high))):
            return "too few"
        if d.low > 0:
            return "challenger"
        if d.high < 0:
            return "champion"
        return "no difference"

    def summary(self) -> str:
        """One sentence: which version ranks better and by how much, or why none is named."""
        champion = f"version {self.champion} (in force when scored)"
        challenger = f"version {self.challenger}"
        verdict = self.verdict
        if verdict == "too few":
            return (
                f"not enough closed deals yet to compare {challenger} with {champion}: "
                f"{self.closed:,} closed ({self.wins:,} won) of the {self.deals:,} deals created "
                f"after their accounts were scored in shadow; {self.min_closed} needed, won "
                "and lost (monitor.min_closed_deals)"
            )
        d = self.difference
        on = f"on {self.closed:,} closed deals of {self.accounts:,} accounts"
        if verdict == "no difference":
            return (
                f"no difference shown between {challenger} and {champion}: AUC "
                f"{self.challenger_auc.value:.3f} vs {self.champion_auc.value:.3f}, difference "
                f"{d.value:+.3f} (95% interval {d.low:+.3f} to {d.high:+.3f}) {on}"
            )
        if verdict == "challenger":
            better, worse = challenger, champion
            aucs = (self.challenger_auc.value, self.champion_auc.value)
            gap = (d.value, d.low, d.high)
        else:
            better, worse = champion, challenger
            aucs = (self.champion_auc.value, self.challenger_auc.value)
            gap = (-d.value, -d.high, -d.low)
        return (
            f"{better} ranks better than {worse}: AUC {aucs[0]:.3f} vs {aucs[1]:.3f}, "
            f"difference {gap[0]:.3f} (95% interval {gap[1]:.3f} to {gap[2]:.3f}) {on}"
        )


@dataclass
class ShadowResult:
    """Every pair of versions the workspace scored in shadow, judged (latest first)."""

    as_of: dt.date | None
    comparisons: list[Comparison]

    def summary(self) -> str:
        """The latest pair's sentence, or that nothing was scored in shadow yet."""
        if not self.comparisons:
            return (
                "no shadow scoring recorded yet: score with `icp score --shadow VERSION` "
                "first, then judge once deals created after it have closed"
            )
        return self.comparisons[0].summary()


def paired_auc(
    y: np.ndarray,
    champion: np.ndarray,
    challenger: np.ndarray,
    accounts: np.ndarray,
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> tuple[MetricCI, MetricCI, MetricCI]:
    """The AUC of each score on the same deals, and the challenger's minus the champion's,
    each with a 95% percentile interval over ``n_boot`` resamples of whole accounts, the same
    resamples for both scores (so the interval on the difference is paired)."""
    from icpkit.validate.metrics import auc_difference_with_ci, auc_with_ci

    keys = np.asarray(accounts).astype(str)
    a = auc_with_ci(y, champion, keys, n_boot=n_boot, seed=seed)
    b = auc_with_ci(y, challenger, keys, n_boot=n_boot, seed=seed)
    diff = auc_difference_with_ci(y, champion, challenger, keys, n_boot=n_boot, seed=seed)
    return a, b, diff


def judge_pair(
    con: duckdb.DuckDBPyConnection,
    book: ShadowBook,
    pair: Pair,
    settings: Settings,
    *,
    as_of: dt.date | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Comparison:
    """Judge one pair on the new-business deals created after a recording of their account
    (as they stood on ``as_of``: created by then, closed only if closed by then), each deal
    with the scores of its account's latest recording before its creation day."""
    from icpkit.validate.metrics import MetricCI

    con.register("shadow_records", book.scores(pair.champion, pair.challenger))
    try:
        if as_of is not None:
            day = f"DATE '{as_of.isoformat()}'"
            known = f"created_at::DATE <= {day}"
            closed = f"outcome IN ('won', 'lost') AND closed_at::DATE <= {day}"
        else:
            known, closed = "true", "outcome IN ('won', 'lost')"
        rows = con.execute(
            f"""SELECT d.account_key, d.closed, d.won, r.champion_score, r.challenger_score
                FROM (SELECT account_key, created_at::DATE AS day,
                             coalesce({closed}, false) AS closed,
                             coalesce(outcome = 'won', false) AS won
                      FROM deals
                      WHERE NOT is_expansion AND account_key IS NOT NULL
                        AND created_at IS NOT NULL AND {known}) d
                ASOF JOIN shadow_records r
                  ON d.account_key = r.account_key AND d.day > r.day"""
        ).fetchnumpy()
    finally:
        con.unregister("shadow_records")
    done = np.asarray(rows["closed"], dtype=bool)
    won = np.asarray(rows["won"], dtype=bool)[done]
    keys = np.asarray(rows["account_key"]).astype(str)[done]
    a = np.asarray(rows["champion_score"], dtype=float)[done]
    b = np.asarray(rows["challenger_score"], dtype=float)[done]
    min_closed = settings.monitor.min_closed_deals
    nan = MetricCI(math.nan, math.nan, math.nan)
    wins = int(won.sum())
    if won.size >= min_closed and 0 < wins < won.size:
        auc_a, auc_b, diff = paired_auc(won, a, b, keys, n_boot=n_boot, seed=seed)
    else:
        auc_a = auc_b = diff = nan
    return Comparison(
        pair.champion,
        pair.challenger,
        pair.accounts,
        pair.first_day,
        pair.last_day,
        int(done.size),
        int(won.size),
        wins,
        int(np.unique(keys).size),
        auc_a,
        auc_b,
        diff,
        min_closed,
    )


def judge_shadow(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    settings: Settings,
    *,
    as_of: dt.date | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> ShadowResult:
    """Every pair of versions recorded in the workspace at ``root``, judged (see
    :func:`judge_pair`), the latest recorded first."""
    book = ShadowBook(root)
    return ShadowResult(
        as_of,
        [
            judge_pair(con, book, pair, settings, as_of=as_of, n_boot=n_boot, seed=seed)
            for pair in book.pairs()
        ],
    )
