"""The workspace: a folder with ``icp.yaml`` and the DuckDB store, and what can be done to it.

``Workspace`` is the product; the ``icp`` commands are a thin face over it, so a
notebook user gets the same results::

    ws = Workspace.init("acme-icp")
    result = ws.ingest(["companies.csv", "deals.csv"])
    print(result.files[0].rows_loaded)
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import duckdb

from icpkit.collector import paused
from icpkit.config import CONFIG_NAME, Settings, load_settings, save_settings
from icpkit.errors import DiskFullError, IcpkitError, is_disk_full
from icpkit.output.files import write_atomic
from icpkit.store import STORE_NAME, connect, first_row, table_counts
from icpkit.store.db import damage, explain, failure, quietly_close, spill_directory
from icpkit.vocabulary import DIALECTS as DIALECTS

# Imported "as" themselves: what the faces show of the layers below (the words of the ICP,
# the CRM systems, the SQL dialects), named here so that they need no other door. Those
# below are loaded when first asked for: a command that does not show them (``icp
# summary``) does not import the ICP's wording or the CRMs' field tables.
_LOADED_ON_USE = {
    "describe_rule": "icpkit.icp.describe",
    "icp_json_schema": "icpkit.icp.model",
    "SYSTEM_LABELS": "icpkit.ingest.fields",
}


def __getattr__(name: str) -> Any:
    if (module := _LOADED_ON_USE.get(name)) is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


if TYPE_CHECKING:
    from icpkit.analysis.clusters import ClusterResult
    from icpkit.analysis.lift import LiftResult
    from icpkit.analysis.persona import PersonaResult, RankedContact
    from icpkit.analysis.segments import SegmentTable
    from icpkit.analysis.tiers import TierResult
    from icpkit.config import EnrichSettings
    from icpkit.crm.base import Connector
    from icpkit.crm.pull import PullResult
    from icpkit.crm.push import PushResult
    from icpkit.demo import DemoFiles, Universe, Websites
    from icpkit.demo.webserver import DemoServer
    from icpkit.engines.prospects import ScoredFile
    from icpkit.enrich.dns import Resolver
    from icpkit.enrich.model import Provider
    from icpkit.enrich.providers.files import FileProvider
    from icpkit.enrich.run import EnrichResult, ProviderTally
    from icpkit.enrich.universe import UniverseEnrichment
    from icpkit.enrich.views import Conflict
    from icpkit.export import ExportResult
    from icpkit.icp.check import CheckResult
    from icpkit.icp.describe import describe_rule as describe_rule
    from icpkit.icp.model import ICP, BuyerPersona
    from icpkit.icp.model import icp_json_schema as icp_json_schema
    from icpkit.icp.review_log import Adoption, LogEntry, ReviewStatus
    from icpkit.icp.versions import VersionStore
    from icpkit.ingest.fields import SYSTEM_LABELS as SYSTEM_LABELS
    from icpkit.ingest.problems import IngestError
    from icpkit.ingest.report import FileReport
    from icpkit.operate.alerts import AlertRun, Delivery
    from icpkit.operate.lookalike import Lookalike
    from icpkit.operate.monitor import MonitorResult
    from icpkit.operate.review import ReviewResult
    from icpkit.operate.shadow import ShadowResult, ShadowScoring
    from icpkit.operate.tam import TamResult
    from icpkit.operate.tier_changes import TierChanges
    from icpkit.serve.live import Source
    from icpkit.validate.backtest import BacktestResult

# The statistics stack (scipy, scikit-learn) and the normalizers are imported by the methods
# that need them, so scoring a file does not pay a second for them at start-up.

ENV_WORKSPACE = "ICP_WORKSPACE"
ENGINES = ("duckdb", "spark")
"""Where ``Workspace.score_file`` runs the scorecard: DuckDB here, or a Spark session."""


T = TypeVar("T")


class WorkspaceError(IcpkitError):
    """No workspace where one was expected, or one where none should be."""


@dataclass
class IngestResult:
    """What ``Workspace.ingest`` did: a report per loaded file, an error per failed one."""

    files: list[FileReport] = field(default_factory=list)
    failures: list[tuple[Path, IngestError]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every file loaded (problems set aside in the quarantine are not failures)."""
        return not self.failures

    @property
    def unrecognized(self) -> list[FileReport]:
        """Files skipped because detection could not tell what they hold (reason in each)."""
        return [r for r in self.files if r.unrecognized]

    @property
    def nothing_loaded(self) -> bool:
        """True when files were given and every one was skipped as unrecognized or failed."""
        return bool(self.files or self.failures) and all(r.unrecognized for r in self.files)


@dataclass
class DeriveResult:
    """What ``Workspace.derive`` did: the ICP now in force, its version and what moved."""

    icp: ICP
    version: int
    written: bool
    changes: list[str]
    disagreements: list[str]
    warnings: list[str]
    # When no rule passed: the one-sentence verdict and what more data would detect.
    nothing: list[str] = field(default_factory=list)


@dataclass
class DerivedBy:
    """What ``Workspace.derive_by`` did: each named ICP derived, and each value skipped and why."""

    by: str
    derived: list[tuple[str, DeriveResult]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class EnrichConflicts:
    """Fields where sources disagree: how many in all, per field, and the first few."""

    total: int
    per_field: dict[str, int]
    shown: list[Conflict]


def explain_failure(exc: BaseException) -> IcpkitError | None:
    """What a DuckDB or OS error met outside the store's own connections means (a full disk,
    memory, a damaged or read-only store or folder), when it is one of those."""
    return failure(exc) or damage(exc)


def _load_learning() -> None:
    """Import what derive runs after the frame (the lift, the windows, the model: scipy's
    optimizers among them), so that it loads on a thread while DuckDB works. pandas, where
    installed, comes first: pyarrow imports it on its first conversion to or from Python
    (0.14 s), which would otherwise fall on the frame's own thread."""
    import importlib
    from importlib.util import find_spec

    pandas = ["pandas"] if find_spec("pandas") is not None else []
    for module in (
        *pandas,
        "icpkit.analysis.lift",
        "icpkit.learn",
        "icpkit.learn.points",
        "icpkit.icp.check",
    ):
        importlib.import_module(module)


def _require_serving() -> None:
    """Say how to install the API's web stack when it is missing."""
    from importlib.util import find_spec

    if find_spec("fastapi") is None or find_spec("uvicorn") is None:
        raise WorkspaceError(
            "icp serve needs FastAPI and uvicorn, which are not installed",
            hint="pip install 'icpkit[serve]'",
        )


# --- The demo: a generated CRM with a planted ICP (see icpkit.demo) -----------------------


def make_demo_crm(
    rows: int, seed: int, out: Path, *, product_lines: int = 1, contacts: bool = False
) -> DemoFiles:
    """Write messy CRM exports of ``rows`` deals with a planted ICP into ``out`` (the ground
    truth in ``out/truth``); the same seed writes the same files. ``product_lines=2`` plants
    a second product line with its own pipeline and ICP (icpkit.demo.lines); ``contacts``
    writes contacts.csv with a planted buyer persona (icpkit.demo.contacts)."""
    from icpkit.demo import make_crm

    return make_crm(rows, seed, out, product_lines=product_lines, contacts=contacts)


def make_demo_universe(files: DemoFiles, companies: int, seed: int, out: Path) -> Universe:
    """A company universe of ``companies`` drawn from the world of the demo CRM ``files``."""
    from icpkit.demo import make_universe

    return make_universe(files, companies, seed, out)


def make_demo_websites(files: DemoFiles, out: Path) -> Websites:
    """Every demo company's website, job board and DNS records, written under ``out`` (see
    icpkit.demo.websites), for the enrichment demo."""
    from icpkit.demo import write_websites

    return write_websites(files, out)


def serve_demo_websites(websites: Websites) -> DemoServer:
    """A web and DNS server on loopback for ``websites`` (a context manager): its
    ``connect_to`` and ``dns_server`` point an enrichment run at it."""
    from icpkit.demo.webserver import serve

    return serve(websites.www)


def planted_truth_table(icp: ICP, files: DemoFiles) -> list[dict[str, str]]:
    """``icp`` next to the ICP planted in the demo CRM ``files``: a row per planted item,
    decoy and rule that matches nothing planted (see icpkit.demo.judge)."""
    import json

    from icpkit.demo.judge import truth_table

    return truth_table(icp, json.loads(files.planted_truth.read_text(encoding="utf-8")))


def _serving_state(root: Path) -> tuple[ICP, Settings]:
    """The ICP in force and the settings of the workspace at ``root``, read afresh: what
    ``icp serve`` reloads (a module function, so worker processes can be handed it)."""
    ws = Workspace.open(root)
    return ws.require_icp(), ws.settings


def _serving_versions(root: Path) -> list[dict[str, Any]]:
    """The saved ICP versions of the workspace at ``root``, as ``GET /v1/icp/versions``
    lists them."""
    from icpkit.icp.versions import VersionStore

    return [
        {
            "version": v.version,
            "derived_at": v.derived_at.isoformat(),
            "rules": v.counts,
            "data_fingerprint": v.data_fingerprint,
        }
        for v in VersionStore(root).list()
    ]


@dataclass
class Workspace:
    """A workspace folder: settings in ``icp.yaml``, data in ``workspace.duckdb``."""

    root: Path
    settings: Settings

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def store_path(self) -> Path:
        return self.root / STORE_NAME

    @classmethod
    def init(cls, root: Path | str, *, name: str | None = None) -> Workspace:
        """Create a workspace in ``root`` (kept as is when one exists already)."""
        path = Path(root).resolve()
        if path.exists() and not path.is_dir():
            raise WorkspaceError(
                f"{path} is a file, not a folder: a workspace is a folder; "
                "give icp init another name (or move the file away)"
            )
        config = path / CONFIG_NAME
        if config.exists() and not config.is_file():
            raise WorkspaceError(f"{config} is a folder: a workspace's {CONFIG_NAME} is a file")
        try:
            path.mkdir(parents=True, exist_ok=True)
            if config.exists():
                settings = load_settings(config)
            else:
                settings = Settings(name=name or path.name)
                save_settings(settings, config)
        except OSError as exc:
            raise explain(exc, exc.filename or path) from exc
        ws = cls(path, settings)
        with ws.connect():
            pass
        return ws

    @classmethod
    def open(cls, root: Path | str | None = None) -> Workspace:
        """Open the workspace at ``root``, or $ICP_WORKSPACE, or the nearest one above the cwd."""
        if root is None and os.environ.get(ENV_WORKSPACE):
            root = os.environ[ENV_WORKSPACE]
        if root is not None:
            path = Path(root).resolve()
            if not (path / CONFIG_NAME).is_file():
                raise WorkspaceError(
                    f"{path} is not an icpkit workspace (no {CONFIG_NAME}); "
                    f"create one with: icp init {root}"
                )
            return cls(path, load_settings(path / CONFIG_NAME))
        here = Path.cwd().resolve()
        for candidate in (here, *here.parents):
            if (candidate / CONFIG_NAME).is_file():
                return cls(candidate, load_settings(candidate / CONFIG_NAME))
        raise WorkspaceError(
            f"no icpkit workspace in {here} or above; run 'icp init' here, or pass --workspace DIR"
        )

    @staticmethod
    def exists(root: Path | str) -> bool:
        """Whether ``root`` holds a workspace already (its ``icp.yaml``)."""
        return (Path(root) / CONFIG_NAME).is_file()

    @staticmethod
    def check(root: Path | str | None = None) -> CheckResult:
        """Validate the ``icp.yaml`` of ``root`` (or $ICP_WORKSPACE, or the nearest one above
        the cwd) and the ICP against the data, without opening it: a broken file is reported
        problem by problem, never raised (see icpkit.icp.check)."""
        from icpkit.icp.check import check_workspace

        if root is None and os.environ.get(ENV_WORKSPACE):
            root = os.environ[ENV_WORKSPACE]
        if root is not None:
            return check_workspace(Path(root).resolve())
        here = Path.cwd().resolve()
        for candidate in (here, *here.parents):
            if (candidate / CONFIG_NAME).is_file():
                return check_workspace(candidate)
        raise WorkspaceError(f"no icpkit workspace in {here} or above; pass --workspace DIR")

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the store, closed on exit.

        Readers pass ``read_only``: any number of them share the store, and they wait (with
        a message) while an ingest writes it. DuckDB's failures inside the block come out
        as what they mean: disk full, out of memory, a damaged or read-only store.
        """
        store = self.settings.store
        spill = spill_directory(self.root, store.temp_directory)
        con = connect(self.store_path, read_only=read_only, temp_directory=spill)
        try:
            if store.memory_limit:
                con.execute("SET memory_limit = ?", [store.memory_limit])
            if store.threads:
                con.execute(f"SET threads = {int(store.threads)}")
            yield con
        except duckdb.Error as exc:
            quietly_close(con)
            known = failure(exc, self.store_path, memory_limit=store.memory_limit)
            if known is None and (known := damage(exc, self.store_path)) is None:
                raise
            raise known from exc
        finally:
            quietly_close(con)

    def ingest(
        self,
        paths: Sequence[Path | str],
        *,
        dry_run: bool = False,
        strict: bool = False,
        force: bool = False,
        encoding: str | None = None,
        sheet: str | None = None,
        progress: Callable[[Path, int], None] | None = None,
    ) -> IngestResult:
        """Load each file in its own transaction; a failed file leaves the store untouched.

        With ``strict`` the first problem of any file stops the run with its message.
        """
        from icpkit.ingest.pipeline import ingest_file
        from icpkit.ingest.problems import IngestError, Problem
        from icpkit.store.compaction import defer_compaction

        result = IngestResult()
        store = self.settings.store
        with self.connect() as con:
            if not store.memory_limit and store.ingest_memory_limit:
                # A big file's temporary tables spill to disk rather than fill the memory,
                # and what one file's steps freed goes back to the system before the next
                # reads (else the allocator keeps it: 1.0 GB held while DuckDB used 40 MB).
                con.execute("SET memory_limit = ?", [store.ingest_memory_limit])
                con.execute("SET allocator_background_threads = true")
            # Row groups part-emptied by deletes are merged only once deleted rows are a
            # fifth of a table (icpkit.store.compaction), not on every import's commit.
            defer_compaction(con)
            for raw_path in paths:
                path = Path(raw_path)
                report_progress = (lambda n, p=path: progress(p, n)) if progress else None
                try:
                    report = ingest_file(
                        con,
                        path,
                        self.settings.ingest,
                        strict=strict,
                        dry_run=dry_run,
                        force=force,
                        encoding=encoding,
                        sheet=sheet,
                        progress=report_progress,
                    )
                except IngestError as exc:
                    result.failures.append((path, exc))
                    if strict:
                        break
                    continue
                except Exception as exc:
                    if is_disk_full(exc):
                        # The file's transaction rolled back; files before it are in.
                        done = "nothing was changed"
                        if result.files:
                            done = f"nothing of {path.name} was loaded (the files before it were)"
                        raise DiskFullError(self.store_path, done=done) from exc
                    if isinstance(exc, IcpkitError | duckdb.FatalException | MemoryError):
                        raise  # the store or the machine, not this file: the next would fail too
                    # A bug met on this file: it is reported with the others and the run goes
                    # on (its transaction rolled back); the traceback stays as the cause.
                    failed = IngestError(
                        Problem(
                            path.name,
                            f"could not be loaded ({type(exc).__name__}: {exc}); nothing of it "
                            "was loaded. This is a bug in icpkit: run the command again with "
                            "--debug and report the traceback",
                            "file",
                        )
                    )
                    failed.__cause__ = exc
                    result.failures.append((path, failed))
                    if strict:
                        break
                    continue
                result.files.append(report)
            if result.files and not dry_run:
                # A re-import rewrites accounts: enriched values go back over the CRM's gaps.
                from icpkit.enrich.apply import apply

                apply(con, self.settings.enrich)
        return result

    def quarantine(
        self, *, file: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """What could not be read, with file, line, column, raw value and reason."""
        sql = 'SELECT file, line, "column", raw_value, reason, scope, import_id FROM quarantine'
        params: list[Any] = []
        if file:
            sql += " WHERE file = ?"
            params.append(Path(file).name)
        sql += " ORDER BY file, line NULLS FIRST"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self.connect(read_only=True) as con:
            cur = con.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    @paused()  # its rows and their statistics: many objects, no cycles (icpkit.collector)
    def lift(self) -> LiftResult:
        """Won versus lost for every attribute value, classed (see icpkit.analysis.lift)."""
        from icpkit.analysis.frame import build_frame, tier_codes
        from icpkit.analysis.lift import lift_table

        # The customers' tiers are read on a connection of their own while the frame is counted.
        with ThreadPoolExecutor(max_workers=1) as pool:
            tiering = pool.submit(lambda: self.tiers().tier_of())
            with self.connect(read_only=True) as con:
                frame = build_frame(con, self.settings.analysis)
            frame.tiers = tier_codes(frame.account_keys, tiering.result())
        result = lift_table(frame, self.settings.analysis)
        if (kept := frame.unanalyzed_note()) is not None:
            result.warnings.append(kept)
        result.warnings += frame.history.warnings()
        return result

    def segments(self, by: str) -> SegmentTable:
        """The segment table of one attribute (see icpkit.analysis.segments)."""
        return self.segment_tables([by])[0]

    def segment_tables(self, names: Sequence[str]) -> list[SegmentTable]:
        """The segment tables of several attributes, on one reading of the closed deals."""
        from icpkit.analysis.frame import discover_attributes, prepare
        from icpkit.analysis.segments import ALIASES, SegmentError, segment_tables
        from icpkit.attributes import definition_of

        analysis = self.settings.analysis
        # Only the definitions the names belong to are asked for their attributes; a name
        # none of them has is told apart from all the workspace's attributes.
        owners = [definition_of(ALIASES.get(name, name)) for name in names]
        known = [owner for owner in owners if owner is not None]
        with self.connect(read_only=True) as con:
            prepare(con)
            if len(known) == len(owners):
                asked = discover_attributes(con, analysis, known)
                try:
                    return segment_tables(con, asked, names, analysis)
                except SegmentError:
                    pass
            return segment_tables(con, discover_attributes(con, analysis), names, analysis)

    def clusters(self) -> ClusterResult:
        """Won customers grouped on head count, industry and stack: candidate ICPs, each with
        its traits, win rate, ACV, churn and whether it deserves an ICP of its own
        (icpkit.analysis.clusters)."""
        from icpkit.analysis.clusters import accounts_from_store, cluster_customers

        with self.connect(read_only=True) as con:
            accounts, outcomes = accounts_from_store(con)
        return cluster_customers(accounts, outcomes)

    def persona(self, *, icp: str | None = None) -> PersonaResult:
        """Which roles, seniorities and departments are present in won deals more than in
        lost ones, and the buying committee's effect (docs/analysis.md, buyer persona); with
        ``icp``, on the deals of that named ICP only."""
        from icpkit.analysis.persona import analyze_persona, load_deal_contacts

        where, expansion = "TRUE", False
        if icp is not None:
            from icpkit.icp.named import deal_condition, find_named

            deals = find_named(self.settings, icp).deals
            where, expansion = deal_condition(deals), deals.motion == "expansion"
        with self.connect(read_only=True) as con:
            deal_contacts = load_deal_contacts(con, where, expansion=expansion)
        return analyze_persona(deal_contacts, self.settings.analysis)

    def _read_beside(self, read: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """``read`` run on a read-only connection of its own, for work beside another."""
        with self.connect(read_only=True) as con:
            return read(con)

    def _learn_persona(self) -> BuyerPersona | None:
        """The ICP's persona from the contacts, and the persona scoring uses set from it
        unless one was set by hand."""
        from icpkit.learn.persona import persona_of, scoring_persona
        from icpkit.store.db import scalar

        with self.connect(read_only=True) as con:
            known = scalar(con, "SELECT count(*) FROM contacts") > 0
        # Without contacts there is no persona (persona_of says None): the deals are not read.
        persona = persona_of(self.persona()) if known else None
        scoring = self.settings.scoring
        scoring.persona = scoring_persona(scoring.persona, persona)
        return persona

    def ranked_contacts(self, account: str, *, icp: str | None = None) -> list[RankedContact]:
        """The contacts of ``account`` (its key, e.g. a domain, or its name), persona roles
        first: whom to reach first (by the persona of the named ICP ``icp`` when given)."""
        from icpkit.analysis.persona import account_contacts, rank_contacts

        ranked_by = self.current_icp() if icp is None else self.named_icp(icp)
        if ranked_by is not None and ranked_by.persona is not None:
            roles = [(r.seniority, r.department) for r in ranked_by.persona.roles]
        else:
            roles = [(r.seniority, r.department) for r in self.settings.scoring.persona.roles]
        with self.connect(read_only=True) as con:
            contacts = account_contacts(con, account)
        if contacts is None:
            raise WorkspaceError(
                f"no account {account!r} in the workspace: give its key (a domain, as in "
                "`icp score` output) or its name"
            )
        return rank_contacts(contacts, roles)

    def tiers(self) -> TierResult:
        """Every customer's tier (see icpkit.analysis.tiers)."""
        from icpkit.analysis.tiers import assign_tiers

        with self.connect(read_only=True) as con:
            return assign_tiers(con, self.settings.tiers)

    @property
    def versions(self) -> VersionStore:
        """The saved ICP versions of this workspace (``.icp/versions``)."""
        from icpkit.icp.versions import VersionStore

        return VersionStore(self.root)

    def diff(self, a: int, b: int, *, icp: str | None = None) -> list[str]:
        """What changed from saved version ``a`` to ``b`` (of the named ICP ``icp``), a line
        a change (none: no lines)."""
        from icpkit.icp.diff import diff_icps, format_diff

        versions = self.versions if icp is None else self.named_versions(icp)
        return format_diff(diff_icps(versions.load(a), versions.load(b)))

    def tier_changes(
        self, old_version: int, new_version: int, *, as_of: dt.date | None = None
    ) -> TierChanges:
        """The workspace's accounts scored with saved versions ``old_version`` and
        ``new_version`` (as of ``as_of``, default today): how many changed tier, and which
        moved most (see icpkit.operate.tier_changes)."""
        from icpkit.operate.tier_changes import tier_changes

        old, new = self.versions.load(old_version), self.versions.load(new_version)
        with self.connect(read_only=True) as con:
            return tier_changes(con, old, new, self.settings, as_of=as_of or dt.date.today())

    def current_icp(self) -> ICP | None:
        """The ICP in ``icp.yaml`` (with the human edits), else the latest saved version."""
        from icpkit.icp.model import load_icp

        data = self.settings.icp
        if data:
            return load_icp(data, source=f"{self.config_path}: icp")
        return self.versions.latest()

    @paused()  # the lift, the rules and their evidence: many objects, no cycles
    def derive(self, *, note: str | None = None) -> DeriveResult:
        """Derive the ICP from the data, keep human decisions, save a version if anything moved.

        Deriving twice on unchanged data changes nothing: no new version, no spurious diff.
        """
        from functools import partial

        from icpkit.analysis.frame import (
            build_frame,
            no_usable_deals_reason,
            read_frame_signal_ages,
        )
        from icpkit.attributes.extra import read_account_columns

        analysis = self.settings.analysis
        with self.connect(read_only=True) as con:
            # Nothing to learn from is an error, never an empty version.
            if (reason := no_usable_deals_reason(con)) is not None:
                from icpkit.learn.derive import NoUsableDeals

                raise NoUsableDeals(f"cannot derive an ICP: {reason}")
        # What does not wait on another step runs beside it: the modules of the lift and the
        # model load (scipy's a third of a second) while DuckDB prepares the frame; the
        # accounts' unmapped columns and the persona are read on connections of their own
        # meanwhile (the persona is in the settings before the points are learned, which
        # weigh it); and the lift table is computed from the frame while the connection
        # reads the signals' ages and the deals the points are fitted on. The customers'
        # tiers are not read: the lift's Tier 1 shares are reported by `icp analyze lift`
        # and the report, and decide no rule.
        with ThreadPoolExecutor(max_workers=3) as pool:
            loading = pool.submit(_load_learning)
            learning = pool.submit(self._learn_persona)
            columns = pool.submit(self._read_beside, partial(read_account_columns, hold=True))
            # One connection for the frame and the points: the deals it prepared serve both.
            with self.connect(read_only=True) as con:
                frame = build_frame(con, analysis, ages=False, account_columns=columns.result)
                loading.result()
                from icpkit.analysis.lift import lift_table
                from icpkit.icp.check import unknown_extra_columns
                from icpkit.learn import learn_icp
                from icpkit.learn.derive import data_fingerprint, detectable
                from icpkit.learn.fit import one_blas_thread
                from icpkit.learn.points import closed_deals

                # Entered once scipy is loaded: the limit reaches the BLAS libraries loaded.
                with one_blas_thread():
                    lifting = pool.submit(lift_table, frame, analysis)
                    # The signals' ages are read here and sorted on a thread while the
                    # connection reads the deals.
                    sorting = pool.submit(read_frame_signal_ages(con, frame))
                    deals = closed_deals(
                        con, prepared=frame.prepared, keys=False, accounts=frame.deal_accounts
                    )
                    frame.signal_ages = sorting.result()
                    result = lifting.result()
                    persona = learning.result()
                    # The data's fingerprint is read on a connection of its own while the
                    # model is fitted (on one core), and set on the ICP learned.
                    reading = pool.submit(self._read_beside, data_fingerprint)
                    # Human edits live in icp.yaml; what counts as a change is measured
                    # against the latest saved version, so an edit by hand is versioned by
                    # the next derive.
                    learned = learn_icp(
                        con, frame, result, self.settings, self.current_icp(),
                        fingerprint="", deals=deals,
                    )  # fmt: skip
        icp = learned.icp.model_copy(
            update={"persona": persona, "data_fingerprint": reading.result()}
        )
        warnings = learned.warnings
        # A hand-made rule on a column no ingested file reported.
        warnings += unknown_extra_columns(icp, set(frame.extra_keys))
        saved = self._save(icp, note, learned.disagreements, warnings)
        if icp.empty:
            saved.nothing = detectable(result, analysis).sentences()
        return saved

    def calibrate(self, *, note: str | None = None) -> DeriveResult:
        """Refit the current ICP's points on the outcomes in the store, criteria unchanged,
        and save a version when they moved: the quarterly review in one call."""
        from icpkit.learn.derive import data_fingerprint
        from icpkit.learn.points import learn

        current = self.current_icp()
        if current is None:
            raise WorkspaceError("no ICP yet: run `icp derive` first")
        with self.connect(read_only=True) as con:
            icp = learn(con, current, self.settings)
            icp = icp.model_copy(update={"data_fingerprint": data_fingerprint(con)})
        return self._save(icp, note or "calibrated", [], [])

    def derive_named(self, name: str, *, note: str | None = None) -> DeriveResult:
        """Derive the named ICP ``name`` (``icps:`` in icp.yaml) from the closed deals its
        ``deals`` filter selects, keeping its human decisions; a version of its own is saved
        when anything moved (see icpkit.icp.named)."""
        from icpkit.icp.named import find_named, named_icp, save_named
        from icpkit.learn.derive import detectable
        from icpkit.learn.named import learn_named

        named = find_named(self.settings, name)
        with self.connect(read_only=True) as con:
            got = learn_named(con, self.settings, named, named_icp(self.settings, name))
        learned = got.learned
        saved = save_named(self.root, self.settings, name, learned.icp, note)
        result = DeriveResult(
            saved.icp, saved.version, saved.written, saved.changes,
            learned.disagreements, learned.warnings,
        )  # fmt: skip
        if learned.icp.empty:
            result.nothing = detectable(got.lift, self.settings.analysis).sentences()
        return result

    def derive_by(self, by: str, *, note: str | None = None) -> DerivedBy:
        """One named ICP per value of ``by`` (``pipeline``, or ``motion``: new business vs
        expansion) with enough closed deals, declared in icp.yaml and derived; the values
        skipped say why. The main ICP is left as it is."""
        from icpkit.icp.named import declare, split_by

        with self.connect(read_only=True) as con:
            splits, skipped = split_by(con, by, self.settings)
        declare(self.settings, splits)
        result = DerivedBy(by, skipped=skipped)
        for split in splits:
            result.derived.append((split.name, self.derive_named(split.name, note=note)))
        return result

    def named_versions(self, name: str) -> VersionStore:
        """The saved versions of the named ICP ``name`` (``.icp/icps/<name>/versions``)."""
        from icpkit.icp.named import find_named, versions_of

        return versions_of(self.root, find_named(self.settings, name).name)

    def named_icp(self, name: str) -> ICP:
        """The named ICP ``name`` in force, with fitted points, or a clear error."""
        from icpkit.icp.named import named_icp

        icp = named_icp(self.settings, name)
        if icp is None or icp.scoring is None:
            raise WorkspaceError(
                f"the ICP {name!r} is declared but not derived yet: run `icp derive --icp {name}`"
            )
        return icp

    def require_icp(self) -> ICP:
        """The current ICP, or a clear error when none was derived yet."""
        icp = self.current_icp()
        if icp is None:
            raise WorkspaceError("no ICP yet: run `icp derive` first")
        if icp.scoring is None:
            raise WorkspaceError(
                "the ICP has no fitted points yet: run `icp calibrate` (or `icp derive`)"
            )
        return icp

    def score_file(
        self,
        path: Path | str,
        *,
        engine: str = "duckdb",
        as_of: dt.date | None = None,
        out: Path | str | None = None,
        encoding: str | None = None,
        sheet: str | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> ScoredFile:
        """Score the accounts of a file with the current ICP (see icpkit.engines.prospects);
        with ``out`` the rows stream to that file instead of coming back.

        ``engine="spark"`` runs the same compiled SELECT on a Spark session (needs
        icpkit[spark]): Parquet in the input layout in, the Parquet folder ``out`` out, the
        rows left there and only their counts coming back."""
        from icpkit.engines.prospects import score_file
        from icpkit.enrich.evidence import sourced_reasons
        from icpkit.icp.named import scored_icps

        if engine not in ENGINES:
            raise WorkspaceError(
                f"unknown scoring engine {engine!r}: one of {', '.join(ENGINES)}",
                hint="duckdb scores here; spark runs the same SELECT on a Spark session",
            )
        if engine == "spark":
            return self._score_on_spark(Path(path), out, as_of)
        icp = self.require_icp()
        day = as_of or dt.date.today()
        try:
            return score_file(
                Path(path),
                icp,
                self.settings,
                self.store_path,
                as_of=day,
                out=Path(out) if out is not None else None,
                encoding=encoding,
                sheet=sheet,
                progress=progress,
                # Reasons resting on an enriched value name its source and day.
                annotate=sourced_reasons(icp, self.settings, day),
                # Named ICPs (icps: in icp.yaml) add their scores and the best fit.
                named=scored_icps(self.settings),
            )
        except (duckdb.Error, OSError) as exc:
            limit = self.settings.store.memory_limit
            known = failure(exc, memory_limit=limit, writing=out)
            if known is None:
                raise
            raise known from exc

    def _score_on_spark(
        self, path: Path, out: Path | str | None, as_of: dt.date | None
    ) -> ScoredFile:
        """``score_file`` on Spark: the rows written to ``out``, their tiers and routes
        counted there."""
        from icpkit.engines.prospects import ScoredFile
        from icpkit.engines.scorecard import build_scorecard
        from icpkit.engines.spark import score_on_spark

        if out is None or Path(out).suffix.lower() != ".parquet":
            raise WorkspaceError(
                f"{out or path}: the Spark engine reads and writes Parquet: "
                "give out a .parquet path"
            )
        target = Path(out)
        icp = self.require_icp()
        day = as_of or dt.date.today()
        from icpkit.icp.named import scored_icps

        with self.connect(read_only=True) as con:
            total = score_on_spark(
                icp, self.settings, con, path, target, as_of=day, named=scored_icps(self.settings)
            )
        counted = duckdb.connect()
        try:
            rows = counted.execute(
                "SELECT tier, route, count(*) FROM read_parquet(?) GROUP BY ALL",
                [f"{target.as_posix()}/*.parquet"],
            ).fetchall()
        finally:
            counted.close()
        tiers: dict[str, int] = {}
        routes: dict[str, int] = {}
        for tier, route, n in rows:
            tiers[tier] = tiers.get(tier, 0) + n
            routes[route] = routes.get(route, 0) + n
        card = build_scorecard(icp, self.settings.scoring)
        # The SELECT ran on Spark, against views of its own (see icpkit.engines.spark).
        return ScoredFile(path, card, day, "", total, tiers, routes, out=target)

    def sql(
        self,
        dialect: str = "duckdb",
        *,
        accounts: str = "accounts",
        signals: str = "signals",
        contacts: str = "contacts",
        as_of: dt.date | None = None,
        icp: str | None = None,
        all_icps: bool = False,
    ) -> str:
        """The current ICP's scorecard as one SQL SELECT in ``dialect`` (one of ``DIALECTS``)
        over the named tables, for a warehouse job or a dbt model; without ``as_of`` it
        scores as of the engine's current date. ``icp`` compiles the named ICP of that name
        instead; ``all_icps`` the main ICP with every named one, as ``score_file`` scores
        (best_icp and the per-ICP columns, see icpkit.engines.multi)."""
        if dialect not in DIALECTS:
            raise WorkspaceError(f"unknown SQL dialect {dialect!r}: one of {', '.join(DIALECTS)}")
        if icp is not None and all_icps:
            raise WorkspaceError("give a named ICP or all of them, not both")
        from icpkit.engines.sql import Tables, compile_scorecard

        tables = Tables(accounts, signals, contacts)
        named = self._scored_named() if all_icps else []
        if named:
            from icpkit.engines.multi import compile_multi

            main = self.require_icp()
            return compile_multi(
                main, named, self.settings, dialect=dialect, tables=tables, as_of=as_of
            )
        chosen = self.require_icp() if icp is None else self.named_icp(icp)
        return compile_scorecard(chosen, self.settings, dialect=dialect, tables=tables, as_of=as_of)

    def _scored_named(self) -> list[tuple[str, ICP]]:
        """Every named ICP with fitted points (what scoring adds), or an error saying none
        is derived yet."""
        from icpkit.icp.named import scored_icps

        named = scored_icps(self.settings)
        if not named:
            declared = ", ".join(n.name for n in self.settings.icps)
            raise WorkspaceError(
                "no named ICP is derived yet"
                + (f" (declared: {declared})" if declared else " (none declared)"),
                hint="run `icp derive --by pipeline`, or `icp derive --icp NAME`",
            )
        return named

    def export(
        self,
        target: str,
        out: Path | str | None = None,
        *,
        as_of: dt.date | None = None,
        dialect: str = "duckdb",
        source: str | None = None,
        columns: Mapping[str, str] | None = None,
        fmt: str = "json",
        icp: str | None = None,
    ) -> ExportResult:
        """Write the current ICP for another tool (``target``: clay, sheets, dbt or
        prospecting, see icpkit.export) into the folder ``out`` (default
        ``exports/<target>`` in the workspace), stamped with the ICP's version. ``icp``
        exports the named ICP of that name instead (default folder
        ``exports/<target>-<icp>``); without it the dbt model carries every named ICP too,
        as ``icp score`` does."""
        from icpkit.export import TARGETS
        from icpkit.export.targets import export_icp
        from icpkit.icp.named import named_icp, scored_icps

        if target not in TARGETS:
            raise WorkspaceError(f"unknown export {target!r}: one of {', '.join(TARGETS)}")
        # Filters need the ICP's rules only; formulas and SQL need its points too.
        if icp is not None:
            chosen = named_icp(self.settings, icp)  # an unknown name is refused, listing all
            if chosen is None or (target != "prospecting" and chosen.scoring is None):
                chosen = self.named_icp(icp)  # not derived yet: says so
        elif target == "prospecting":
            chosen = self.current_icp()
        else:
            chosen = self.require_icp()
        if chosen is None:
            raise WorkspaceError("no ICP yet: run `icp derive` first")
        named = scored_icps(self.settings) if icp is None and target == "dbt" else []
        place = target if icp is None else f"{target}-{icp}"
        folder = Path(out) if out is not None else self.root / "exports" / place
        return export_icp(
            target,
            chosen,
            self.settings,
            folder,
            as_of=as_of,
            dialect=dialect,
            source=source,
            columns=columns,
            fmt=fmt,
            name=icp,
            named=named,
        )

    def serving_app(self, connectors: Callable[[str], Any] | None = None) -> Any:
        """The scoring API (an ASGI app, FastAPI inside) over this workspace, for ``icp
        serve`` or any ASGI server; needs icpkit[serve] (see icpkit.serve). Webhook scores
        are written back through ``connectors(crm)`` (default: the CRM's own connector)."""
        self.require_icp()  # no ICP to serve is said now, not at the first request
        _require_serving()
        from icpkit.serve.app import create_app

        return create_app(self._serving_source(), connectors)

    def serve(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        workers: int | None = None,
        log_level: str = "info",
    ) -> None:
        """Serve the scoring API on uvicorn until stopped (defaults: ``serve:`` of
        icp.yaml); a new ICP version, data or token is picked up without a restart."""
        self.require_icp()
        _require_serving()
        from icpkit.serve.server import run

        settings = self.settings.serve
        run(
            self._serving_source(),
            host=host or settings.host,
            port=port if port is not None else settings.port,
            workers=workers or settings.workers,
            log_level=log_level,
        )

    def _serving_source(self) -> Source:
        from functools import partial

        from icpkit.serve.live import Source

        store = self.store_path
        watched = (
            self.config_path,
            self.versions.versions_dir,
            store,
            store.with_name(store.name + ".wal"),
        )
        return Source(
            self.root,
            partial(_serving_state, self.root),
            partial(_serving_versions, self.root),
            watched,
            store,
        )

    def create_token(self, name: str, scope: str = "score") -> tuple[dict[str, Any], str]:
        """A new API token named ``name`` with ``scope`` (``score`` or ``read``): what
        ``tokens()`` lists of it, and the token itself, shown once and stored nowhere (only
        its salted HMAC is kept, in ``.icp/tokens.json``)."""
        from icpkit.serve.tokens import TokenStore, describe

        record, token = TokenStore(self.root).create(name, scope)
        return describe(record), token

    def tokens(self) -> list[dict[str, Any]]:
        """The API tokens: name, scope, id, created, revoked (never a token or its hash)."""
        from icpkit.serve.tokens import TokenStore, describe

        return [describe(r) for r in TokenStore(self.root).records()]

    def webhook_queue(self, state: str | None = None) -> dict[str, Any]:
        """The webhook queue of ``icp serve``: events per state, and the events in ``state``
        (default: the dead letters) with their last error (see icpkit.serve.queue)."""
        from icpkit.serve.queue import STATES, Queue

        if state is not None and state not in STATES:
            raise WorkspaceError(f"no queue state {state!r}; one of {', '.join(STATES)}")
        with Queue.of(self.root) as queue:
            return {"counts": queue.counts(), "events": queue.events(state or "dead")}  # type: ignore[arg-type]

    def retry_webhooks(self, ids: Sequence[int] | None = None) -> int:
        """Send dead webhook events (``ids``, or all) back to the queue; a running server
        takes them at its next poll. Returns how many."""
        from icpkit.serve.queue import Queue

        with Queue.of(self.root) as queue:
            return queue.retry_dead(ids)

    def revoke_token(self, name: str) -> dict[str, Any]:
        """Revoke the active token ``name``: a running server refuses it from its next
        request."""
        from icpkit.serve.tokens import TokenStore, describe

        return describe(TokenStore(self.root).revoke(name))

    def tam(
        self,
        universe: Path | str,
        *,
        as_of: dt.date | None = None,
        widen: Mapping[str, tuple[float, float]] | None = None,
        icp: str | None = None,
    ) -> TamResult:
        """Size the TAM of a company universe with the current ICP (or the named ICP
        ``icp``), and a what-if with ``widen`` (see icpkit.operate.tam)."""
        from icpkit.operate.tam import size_tam

        chosen = self.require_icp() if icp is None else self.named_icp(icp)
        try:
            return size_tam(
                chosen,
                self.settings,
                self.root,
                self.store_path,
                Path(universe),
                as_of=as_of,
                widen=widen,
            )
        except (duckdb.Error, OSError) as exc:
            known = failure(exc, memory_limit=self.settings.store.memory_limit)
            if known is None:
                raise
            raise known from exc

    def lookalikes(
        self,
        universe: Path | str,
        *,
        top: int,
        k: int = 5,
        warnings: list[str] | None = None,
        icp: str | None = None,
    ) -> list[Lookalike]:
        """The companies of a universe most like the Tier 1 customers (see
        icpkit.operate.lookalike); with ``icp``, those of the named ICP: the Tier 1
        customers that won one of its deals, and its rules."""
        from icpkit.operate.lookalike import find_lookalikes

        chosen = self.current_icp() if icp is None else self.named_icp(icp)
        if chosen is None:
            raise WorkspaceError("no ICP yet: run `icp derive` first")
        tier1 = [key for key, tier in self.tiers().tier_of().items() if tier == 1]
        if icp is not None:
            from icpkit.icp.named import won_accounts

            with self.connect(read_only=True) as con:
                theirs = won_accounts(con, self.settings, icp)
            tier1 = [key for key in tier1 if key in theirs]
        return find_lookalikes(
            chosen,
            tier1,
            self.settings,
            self.root,
            self.store_path,
            Path(universe),
            top=top,
            k=k,
            warnings=warnings,
        )

    def enrich(
        self,
        providers: Sequence[str] | None = None,
        *,
        tier: str | None = None,
        domains: Path | str | None = None,
        files: Sequence[tuple[Path | str, str | None]] = (),
        refresh: bool = False,
        dry_run: bool = False,
        budget: float | None = None,
        connect_to: Sequence[str] = (),
        allow_private: bool | None = None,
        dns_server: str | None = None,
        progress: Callable[[ProviderTally, int], None] | None = None,
        resolver: Resolver | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> EnrichResult:
        """Enrich the workspace's accounts (all, the ICP tier ``tier``, or the domains listed
        in the file ``domains``) with ``providers`` (default: ``enrich.providers`` of
        icp.yaml) and the enrichment ``files`` given as (path, provider name), store every
        value with its provenance and apply the waterfall (see icpkit.enrich)."""
        from icpkit.enrich.providers.files import file_notes
        from icpkit.enrich.run import enrich, targets_of

        settings, secrets, chosen, given = self._enrich_providers(
            providers, files, connect_to, allow_private, dns_server, environ
        )
        with self.connect() as con:
            keys = self._enrich_scope(con, tier, domains)
            targets = targets_of(con, keys)
            result = enrich(
                con,
                [*chosen, *given],
                targets,
                settings,
                secrets=secrets,
                refresh=refresh,
                dry_run=dry_run,
                budget=budget,
                progress=progress,
                resolver=resolver,
            )
        held = {t.domain for t in targets if t.domain}
        for provider in given:
            result.notes.extend(file_notes(provider, held))
        return result

    def enrich_universe(
        self,
        universe: Path | str,
        out: Path | str | None,
        providers: Sequence[str] | None = None,
        *,
        files: Sequence[tuple[Path | str, str | None]] = (),
        refresh: bool = False,
        dry_run: bool = False,
        budget: float | None = None,
        connect_to: Sequence[str] = (),
        allow_private: bool | None = None,
        dns_server: str | None = None,
        progress: Callable[[ProviderTally, int], None] | None = None,
        resolver: Resolver | None = None,
        environ: Mapping[str, str] | None = None,
        encoding: str | None = None,
        sheet: str | None = None,
    ) -> UniverseEnrichment:
        """Enrich a company universe (read as ``tam`` reads one) into the file ``out``
        (.parquet or .csv, in the input layout), with the options of :meth:`enrich`; its
        companies are cached by domain and never become accounts (see
        icpkit.enrich.universe). ``out`` may be None for a dry run."""
        from icpkit.enrich import universe as enriching
        from icpkit.enrich.run import enrich
        from icpkit.operate.universe import scratch
        from icpkit.output.files import temp_folder

        source = Path(universe)
        if out is None and not dry_run:
            raise WorkspaceError(f"{source}: name the enriched file to write (.parquet or .csv)")
        target = None if out is None else enriching.check_out(Path(out), source)
        settings, secrets, chosen, given = self._enrich_providers(
            providers, files, connect_to, allow_private, dns_server, environ
        )
        icp = self.current_icp()
        with temp_folder(self.root) as tmp:
            view = scratch(self.settings.store, self.root)
            try:
                read = enriching.read(
                    source, self.settings, self.store_path, icp, view,
                    workdir=tmp, encoding=encoding, sheet=sheet,
                )  # fmt: skip
                with self.connect() as con:
                    targets, by_key, rows, without = enriching.gather(view, con)
                    run = enrich(
                        con,
                        [*chosen, *given],
                        targets,
                        settings,
                        secrets=secrets,
                        refresh=refresh,
                        dry_run=dry_run,
                        budget=budget,
                        progress=progress,
                        resolver=resolver,
                        needing=enriching.needing(by_key),
                    )
                    keys = [t.account_key for t in targets]
                    known = {} if dry_run else enriching.known_values(con, settings, keys)
                result = enriching.UniverseEnrichment(
                    source, target, run, rows=rows, without_domain=without, domains=len(targets),
                    accounts=enriching.shared(targets),
                    warnings=read.warnings(),
                )  # fmt: skip
                if target is not None and not dry_run:
                    enriching.write(view, known, targets, target, result)
            finally:
                view.close()
        held = {t.domain for t in targets if t.domain}
        for provider in given:
            run.notes.extend(enriching.file_notes(provider, held))
        return result

    def _enrich_providers(
        self,
        providers: Sequence[str] | None,
        files: Sequence[tuple[Path | str, str | None]],
        connect_to: Sequence[str],
        allow_private: bool | None,
        dns_server: str | None,
        environ: Mapping[str, str] | None,
    ) -> tuple[EnrichSettings, dict[str, str], list[Provider], list[FileProvider]]:
        """A run's settings (icp.yaml's with the options given), its keys, the providers
        named (default: ``enrich.providers``) and the files given as providers."""
        from icpkit.enrich import make_provider, read_secrets
        from icpkit.enrich.providers.files import FileProvider
        from icpkit.enrich.providers.research import local_endpoint

        settings = self.settings.enrich
        update: dict[str, Any] = {"connect_to": [*settings.connect_to, *connect_to]}
        if allow_private is not None:
            update["allow_private"] = allow_private
        if dns_server is not None:
            update["dns_server"] = dns_server
        settings = settings.model_copy(update=update)
        secrets = read_secrets(settings, environ)
        names = list(providers) if providers is not None else list(settings.providers)
        if files and providers is None:
            names = []  # a file given alone is the run
        if "research" in names:
            settings = settings.model_copy(
                update={"connect_to": [*settings.connect_to, *local_endpoint(settings)]}
            )
        chosen = [make_provider(name, settings, secrets) for name in dict.fromkeys(names)]
        given = [FileProvider(Path(path), name) for path, name in files]
        return settings, dict(secrets), chosen, given

    def _enrich_scope(
        self, con: duckdb.DuckDBPyConnection, tier: str | None, domains: Path | str | None
    ) -> list[str] | None:
        """The account keys an enrichment run covers (None: all)."""
        from icpkit.enrich.scope import accounts_of_domains

        keys: list[str] | None = None
        if domains is not None:
            keys = accounts_of_domains(con, Path(domains))
        if tier is not None:
            from icpkit.operate.tier_changes import account_tiers

            tiers = account_tiers(con, self.require_icp(), self.settings, as_of=dt.date.today())
            wanted = tier.strip().upper()
            if wanted not in set(tiers.values()) | {"A", "B", "C", "D"}:
                raise WorkspaceError(f"no ICP tier {tier!r}", hint="tiers are A, B, C and D")
            in_tier = [k for k, t in tiers.items() if t == wanted]
            keys = in_tier if keys is None else sorted(set(keys) & set(in_tier))
        return keys

    def enrichment(self, account: str) -> dict[str, Any]:
        """What enrichment knows of ``account`` (its key or domain): the account's values,
        every provider's answer and every observation with its provenance."""
        from icpkit.enrich.views import lookups, provenance

        with self.connect(read_only=True) as con:
            row = con.execute(
                "SELECT account_key, name, domain FROM accounts "
                "WHERE account_key = ? OR domain = lower(?) ORDER BY account_key LIMIT 1",
                [account, account.strip()],
            ).fetchone()
            if row is None:
                raise WorkspaceError(f"no account {account!r} in the workspace")
            key = str(row[0])
            return {
                "account_key": key,
                "name": row[1],
                "domain": row[2],
                "lookups": lookups(con, key),
                "observations": provenance(con, key),
            }

    def enrichment_conflicts(self, *, limit: int | None = 20) -> EnrichConflicts:
        """Accounts where the CRM and the providers disagree, per field (the waterfall kept
        one value; the others are shown, not hidden)."""
        from icpkit.enrich.views import conflicts

        with self.connect(read_only=True) as con:
            total, per_field, shown = conflicts(con, self.settings.enrich.min_confidence, limit)
        return EnrichConflicts(total, per_field, shown)

    def pull(
        self,
        crm: str,
        *,
        full: bool = False,
        environ: Mapping[str, str] | None = None,
        connector: Connector | None = None,
    ) -> PullResult:
        """Read the CRM's companies, deals and contacts changed since the last pull (all with
        ``full``) through its API into the store, as an export is ingested (see
        icpkit.crm.pull); credentials from ``environ`` (default: the environment) or the
        secrets file."""
        from icpkit.crm.connectors import connector as make_connector
        from icpkit.crm.pull import pull

        api = connector or make_connector(crm, environ=environ)
        return pull(api, self.root, self.settings, self.connect, full=full)

    def push(
        self,
        crm: str,
        *,
        dry_run: bool = False,
        as_of: dt.date | None = None,
        environ: Mapping[str, str] | None = None,
        connector: Connector | None = None,
        per_icp: bool = False,
    ) -> PushResult:
        """Write the current ICP's scores of the workspace's accounts into their CRM records,
        only those that changed since the last push (see icpkit.crm.push); ``dry_run`` says
        what would change and writes nothing. With named ICPs derived the best fit is
        written too, and with ``per_icp`` each named ICP's fit and tier."""
        from icpkit.crm.connectors import connector as make_connector
        from icpkit.crm.fields import FIELDS, named_fields
        from icpkit.crm.push import exported_record_ids, push, score_accounts
        from icpkit.icp.named import scored_icps

        icp = self.require_icp()
        named = scored_icps(self.settings)
        if per_icp and not named:
            raise WorkspaceError(
                "--per-icp writes each named ICP's fit and tier, and no named ICP is derived",
                hint="derive them first: `icp derive --by pipeline` or `icp derive --icp NAME`",
            )
        names = [n for n, _ in named]
        fields = (*FIELDS, *named_fields(names, per_icp=per_icp)) if named else FIELDS
        api = connector or make_connector(crm, environ=environ)
        day = as_of or dt.date.today()
        scored = score_accounts(
            self.store_path, icp, self.settings, as_of=day, named=named, per_icp=per_icp
        )
        exported = exported_record_ids(self.store_path, crm)
        return push(
            api,
            self.root,
            scored,
            icp.version,
            dry_run=dry_run,
            exported_ids=exported,
            fields=fields,
        )

    def backtest(
        self,
        *,
        cutoff: dt.date | None = None,
        test_share: float = 0.3,
        allow_leaks: bool = False,
        reference: dict[str, float] | None = None,
        challengers: bool = True,
        n_boot: int = 500,
    ) -> BacktestResult:
        """Derive and fit on older deals, judge on newer (see icpkit.validate.backtest)."""
        from icpkit.validate.backtest import run_backtest

        with self.connect(read_only=True) as con:
            return run_backtest(
                con,
                self.settings,
                self.current_icp(),
                cutoff=cutoff,
                test_share=test_share,
                allow_leaks=allow_leaks,
                reference=reference,
                challengers=challengers,
                n_boot=n_boot,
            )

    def alerts(self, *, dry_run: bool = False, as_of: dt.date | None = None) -> AlertRun:
        """Run the alert rules of ``icp.yaml``: score the accounts with the current ICP (as
        of ``as_of``, default today), find what changed since the last run, record it and
        post what is pending, at most once per event; a dry run posts and records nothing
        (see icpkit.operate.alerts)."""
        from icpkit.operate.alerts import run_alerts

        icp = self.require_icp()
        return run_alerts(
            self.root,
            self.settings,
            icp,
            lambda: self.connect(read_only=True),
            as_of=as_of or dt.date.today(),
            dry_run=dry_run,
            monitor=lambda: self.monitor(as_of=as_of),
        )

    def alert_deliveries(
        self, *, limit: int | None = 50, statuses: Sequence[str] | None = None
    ) -> list[Delivery]:
        """The alert deliveries recorded, latest change first: sent, pending, failed and
        uncertain ones (``statuses`` narrows them)."""
        from icpkit.operate.alerts import AlertBook

        return AlertBook(self.root).deliveries(limit=limit, statuses=statuses)

    def monitor(
        self, *, period: str = "month", since: dt.date | None = None, as_of: dt.date | None = None
    ) -> MonitorResult:
        """Is the current ICP still working? Its deals since it was fitted (or ``since``), by
        month or quarter, against its fitting window; ``as_of`` replays the check as of a
        past day (see icpkit.operate.monitor)."""
        from icpkit.operate.monitor import PERIODS, run_monitor

        if period not in PERIODS:
            raise WorkspaceError(f"unknown period {period!r}: one of {', '.join(PERIODS)}")
        icp = self.require_icp()
        with self.connect(read_only=True) as con:
            return run_monitor(con, self.settings, icp, period=period, since=since, as_of=as_of)

    def score_shadow(
        self,
        challenger: int,
        path: Path | str | None = None,
        *,
        as_of: dt.date | None = None,
        out: Path | str | None = None,
        encoding: str | None = None,
        sheet: str | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> ShadowScoring:
        """Score with the ICP in force and saved version ``challenger`` side by side, and
        record both scores of every keyed account in ``.icp/shadow.sqlite`` to judge them
        later (:meth:`shadow_monitor`). With ``path`` its accounts are scored as
        :meth:`score_file` scores them, the challenger's columns added with a ``shadow_``
        prefix; without it the workspace's own accounts are (see icpkit.operate.shadow)."""
        from icpkit.operate.shadow import (
            ShadowBook,
            ShadowScoring,
            challenger_of,
            shadow_step,
            tier_counts,
        )

        icp = self.require_icp()
        saved = self.versions.numbers()
        other = self.versions.load(challenger) if challenger in saved else None
        candidate = challenger_of(icp, other, challenger, saved)
        day = as_of or dt.date.today()
        book = ShadowBook(self.root)
        if path is None:
            from icpkit.operate.shadow import Recorded
            from icpkit.operate.tier_changes import score_entities, store_accounts

            with self.connect(read_only=True) as con:
                keys = [key for key, _ in store_accounts(con, day)]
                a = score_entities(con, icp, self.settings)
                b = score_entities(con, candidate, self.settings)
            kept = [
                Recorded(k, int(sa), int(sb), str(ta), str(tb))
                for k, sa, sb, ta, tb in zip(
                    keys,
                    a.score.tolist(),
                    b.score.tolist(),
                    a.tier.tolist(),
                    b.tier.tolist(),
                    strict=True,
                )
            ]
            source, scored, file = "workspace accounts", len(keys), None
        else:
            from icpkit.engines.prospects import score_file
            from icpkit.enrich.evidence import sourced_reasons

            kept = []
            step = shadow_step(
                icp, candidate, self.settings, day, sourced_reasons(icp, self.settings, day), kept
            )
            try:
                file = score_file(
                    Path(path),
                    icp,
                    self.settings,
                    self.store_path,
                    as_of=day,
                    out=Path(out) if out is not None else None,
                    encoding=encoding,
                    sheet=sheet,
                    progress=progress,
                    annotate=step,
                )
            except (duckdb.Error, OSError) as exc:
                known = failure(exc, memory_limit=self.settings.store.memory_limit, writing=out)
                if known is None:
                    raise
                raise known from exc
            source, scored = Path(path).name, file.total
        recorded = book.record(
            kept, day=day, champion=icp.version, challenger=challenger, source=source
        )
        return ShadowScoring(
            icp.version, challenger, day, source, scored, recorded, book.path,
            tier_counts(kept), file,
        )  # fmt: skip

    def shadow_monitor(self, *, as_of: dt.date | None = None, seed: int = 0) -> ShadowResult:
        """Which version ranks better on the deals created after the accounts were scored
        in shadow (:meth:`score_shadow`): each recorded pair's AUCs on the closed ones and
        their difference with a paired account-bootstrap interval; ``as_of`` replays the
        judgement as of a past day (see icpkit.operate.shadow)."""
        from icpkit.operate.shadow import judge_shadow

        with self.connect(read_only=True) as con:
            return judge_shadow(con, self.root, self.settings, as_of=as_of, seed=seed)

    def review(
        self, *, note: str | None = None, as_of: dt.date | None = None, dry_run: bool = False
    ) -> ReviewResult:
        """The quarterly review: re-derive the ICP on the latest window and save it as a
        version without putting it in force, set it beside the version in force (rules
        gained, lost and moved; accounts that change tier, scored as of ``as_of``, default
        today), compare the two on the newest quarter neither was fitted on and recommend
        adopt or keep. The review is logged; the next is due ``review.every_days`` later. A
        ``dry_run`` saves and logs nothing (see icpkit.operate.review)."""
        from icpkit.icp.diff import diff_icps
        from icpkit.icp.review_log import LogEntry, ReviewLog, now, today, who
        from icpkit.learn.derive import data_fingerprint
        from icpkit.operate.review import ReviewResult, compare, propose
        from icpkit.operate.tier_changes import tier_changes

        current = self.require_icp()
        with self.connect(read_only=True) as con:
            proposal = propose(con, self.settings, current, data_fingerprint(con))
            comparison, unjudged = compare(con, self.settings, current)
            diff = diff_icps(current, proposal.icp)
            version = None
            # An empty proposal (no rule passed on the window) is no version to adopt.
            if not (diff.is_empty or dry_run or proposal.icp.empty):
                version = self._save_proposal(current, proposal.icp, note)
            moved = None
            if not diff.is_empty:
                day = as_of or dt.date.today()
                moved = tier_changes(con, current, proposal.icp, self.settings, as_of=day)
        next_review = today() + dt.timedelta(days=self.settings.review.every_days)
        if dry_run and (status := self.review_status()) is not None:
            next_review = status.due_on  # a dry run is no review: the clock runs on
        result = ReviewResult(
            current.version, version, proposal, diff_icps(current, proposal.icp), comparison,
            unjudged, moved, next_review, notes=proposal.warnings,
        )  # fmt: skip
        if dry_run:
            return result
        entry = LogEntry(
            "review", now(), who(), current.version, proposal=version,
            recommendation=result.recommendation, why=result.reason,
        )  # fmt: skip
        ReviewLog(self.root).append(entry)
        return result

    def _save_proposal(self, current: ICP, icp: ICP, note: str | None) -> int:
        """Save a review's proposal as a version, not in force; a proposal the same as the
        newest saved version (not in force) is that version, not a new one."""
        from icpkit.icp.diff import diff_icps

        latest = self.versions.latest()
        if latest is not None and latest.version != current.version:
            same = diff_icps(latest, icp)
            if same.is_empty and not same.data_changed:
                icp.version = latest.version
                return latest.version
        version = self.versions.save(icp)
        if latest is not None:
            proposed = f"Proposed by icp review (version {current.version} stays in force)."
            self.versions.append_changelog(
                diff_icps(latest, icp), f"{proposed} {note}" if note else proposed
            )
        return version

    def adopt(self, version: int, *, why: str | None = None, by: str | None = None) -> Adoption:
        """Put the saved ICP ``version`` in force: icp.yaml rewritten as ``derive`` writes it
        (a running ``icp serve`` reloads it), the adoption logged with who, when and why.
        Edits by hand to the ICP in force are saved as a version first, so nothing is lost
        and ``rollback`` returns to them."""
        from icpkit.icp.review_log import Adoption

        target = self._saved(version)
        current = self.current_icp()
        if current is not None and current.version == version and not self._hand_edited(current):
            return Adoption(version, version, False)
        return self._put_in_force(target, current, "adopt", why, by)

    def rollback(self, *, why: str | None = None, by: str | None = None) -> Adoption:
        """Put back in force the version that was in force before the last adoption not yet
        rolled back (adoptions stack); refused when none was adopted, or when the version in
        force is no longer the adopted one (``icp derive`` replaced it since)."""
        from icpkit.icp.review_log import ReviewLog

        last = ReviewLog(self.root).adoption_to_undo()
        if last is None or last.previous is None:
            raise WorkspaceError(
                "nothing to roll back: no version was adopted in this workspace",
                hint="icp adopt VERSION puts a saved version in force (icp history lists them)",
            )
        current = self.current_icp()
        if current is None or current.version != last.version:
            now_in_force = f"version {current.version}" if current is not None else "no ICP"
            raise WorkspaceError(
                f"{now_in_force} is in force, not version {last.version}, which was adopted "
                f"last (replaced since, e.g. by icp derive): a rollback would skip that change",
                hint="put the version you want in force with icp adopt VERSION",
            )
        return self._put_in_force(self._saved(last.previous), current, "rollback", why, by)

    def review_history(self) -> list[LogEntry]:
        """Every review, adoption and rollback of the ICP in force, oldest first, with who,
        when and why (``.icp/reviews.json``)."""
        from icpkit.icp.review_log import ReviewLog

        return ReviewLog(self.root).entries()

    def _saved(self, version: int) -> ICP:
        """Saved version ``version``, or a clear refusal naming the saved ones."""
        numbers = self.versions.numbers()
        if version not in numbers:
            saved = f"saved: {numbers[0]}-{numbers[-1]}" if numbers else "none saved yet"
            raise WorkspaceError(
                f"no saved ICP version {version} ({saved})", hint="icp history lists them"
            )
        return self.versions.load(version)

    def _hand_edited(self, icp: ICP) -> bool:
        """Whether ``icp`` (from icp.yaml) has rules that its saved version has not."""
        from icpkit.icp.diff import diff_icps

        if icp.version not in self.versions.numbers():
            return True
        return not diff_icps(self.versions.load(icp.version), icp).is_empty

    def _put_in_force(
        self,
        target: ICP,
        current: ICP | None,
        event: Literal["adopt", "rollback"],
        why: str | None,
        by: str | None,
    ) -> Adoption:
        """Write ``target`` into icp.yaml, log the event and add it to the changelog."""
        from icpkit.icp.diff import diff_icps, format_diff
        from icpkit.icp.model import dump_icp
        from icpkit.icp.review_log import Adoption, LogEntry, ReviewLog, changelog_entry, now, who

        edits = None
        previous = current.version if current is not None else None
        if current is not None and self._hand_edited(current):
            edited = current.version
            edits = self.versions.save(current)
            self.versions.append_changelog(
                diff_icps(self.versions.load(edited), current)
                if edited in self.versions.numbers()
                else diff_icps(target, current),
                f"Edits by hand to version {edited}, saved before version {target.version} "
                "was put in force.",
            )
            previous = edits
        old = self.settings.icp
        self.settings.icp = dump_icp(target)
        try:
            save_settings(self.settings, self.config_path)
        except OSError as exc:
            self.settings.icp = old
            if is_disk_full(exc):
                raise DiskFullError(
                    exc.filename or self.config_path, done="the ICP in force was not changed"
                ) from exc
            raise
        default = "put in force by hand" if event == "adopt" else "rolled back by hand"
        entry = LogEntry(
            event, now(), by or who(), target.version, previous=previous, why=why or default
        )
        ReviewLog(self.root).append(entry)
        self.versions.append_entry(changelog_entry(entry))
        changes = format_diff(diff_icps(current, target)) if current is not None else []
        return Adoption(target.version, previous, True, edits, changes)

    def report(
        self,
        out: Path | str | None = None,
        *,
        fmt: str = "html",
        universe: Path | str | None = None,
        widen: Mapping[str, tuple[float, float]] | None = None,
        as_of: dt.date | None = None,
        backtest: BacktestResult | bool = True,
        challengers: bool = True,
    ) -> Path:
        """Write the ICP report (one self-contained HTML page, or Markdown with ``fmt="md"``)
        from this workspace's results; ``universe`` adds the TAM and lookalikes, and a
        ``backtest`` already run is reused (``False`` leaves it out). Returns the path."""
        from icpkit.attributes.extra import profiles_read_once
        from icpkit.report.build import Sources, default_path, gather, write_report
        from icpkit.report.view import LOOKALIKES

        if fmt not in ("html", "md"):
            raise WorkspaceError(f"unknown report format {fmt!r}: use html or md")
        icp = self.current_icp()
        can_score = icp is not None and icp.scoring is not None
        src = Sources(
            self.settings.name or self.root.name,
            self.settings,
            icp,
            self.versions,
            self.lift,
            self.segment_tables,
            self.tiers,
            self.summary,
            lambda: self.connect(read_only=True),
            backtest=(lambda: self.backtest(challengers=challengers)) if backtest is True else None,
            tier_changes=lambda a, b: self.tier_changes(a, b, as_of=as_of),
            monitor=(lambda: self.monitor(as_of=as_of)) if can_score else None,
        )
        if universe is not None and can_score:
            src.tam = lambda: self.tam(universe, as_of=as_of, widen=widen)
            src.lookalikes = lambda: self.lookalikes(universe, top=LOOKALIKES, k=3)
        # The store is only read: every section's connections share one read of its
        # unmapped columns' profiles (seven reads otherwise: 31 s at 1,000 columns).
        with profiles_read_once():
            data = gather(src, backtest=backtest if not isinstance(backtest, bool) else None)
        path = Path(out) if out is not None else default_path(self.root, fmt)
        return write_report(data, path, fmt)

    def _save(
        self, icp: ICP, note: str | None, disagreements: list[str], warnings: list[str]
    ) -> DeriveResult:
        """Save ``icp`` as a new version (and in icp.yaml) unless nothing moved."""
        from icpkit.icp.diff import diff_icps, format_diff
        from icpkit.icp.model import dump_icp

        latest = self.versions.latest()
        if latest is not None:
            diff = diff_icps(latest, icp)
            if diff.is_empty and not diff.data_changed:
                in_force = self.current_icp()
                if in_force is not None and in_force.version != latest.version:
                    # The newest version is a review's proposal, not in force: derive puts it.
                    self._put_in_force(latest, in_force, "adopt", "icp derive found it again", None)
                    put = [f"version {latest.version}, proposed by icp review, put in force"]
                    return DeriveResult(latest, latest.version, True, put, disagreements, warnings)
                return DeriveResult(latest, latest.version, False, [], disagreements, warnings)
            changes = format_diff(diff)
            if diff.data_changed:
                changes.append(f"data changed: {latest.data_fingerprint} -> {icp.data_fingerprint}")
        else:
            changes = ["first derivation"]
        log = self.versions.changelog_path
        old_log = log.read_text(encoding="utf-8") if log.is_file() else None
        old_icp = self.settings.icp
        version = self.versions.save(icp)
        try:
            if latest is not None:
                # Diffed again now that the new ICP carries its version number.
                self.versions.append_changelog(diff_icps(latest, icp), note)
            self.settings.icp = dump_icp(icp)
            save_settings(self.settings, self.config_path)
        except OSError as exc:
            # All or nothing: no version is kept without the icp.yaml that holds it.
            self.settings.icp = old_icp
            self.versions.path(version).unlink(missing_ok=True)
            with suppress(OSError):
                if old_log is None:
                    log.unlink(missing_ok=True)
                elif log.read_text(encoding="utf-8") != old_log:
                    write_atomic(log, old_log)
            if is_disk_full(exc):
                raise DiskFullError(
                    exc.filename or self.config_path, done="nothing was changed"
                ) from exc
            raise
        return DeriveResult(icp, version, True, changes, disagreements, warnings)

    def summary(self) -> dict[str, Any]:
        """Counts of what the store holds: tables, deal outcomes, imports, and what each
        enrichment provider answered."""
        from icpkit.enrich.lookups import status as enrichment_status

        with self.connect(read_only=True) as con:
            counts = table_counts(con)
            outcomes = dict(
                con.execute("SELECT outcome, count(*) FROM deals GROUP BY 1 ORDER BY 1").fetchall()
            )
            linked = first_row(
                con, "SELECT count(*) FILTER (WHERE account_key IS NOT NULL), count(*) FROM deals"
            )
            imports = con.execute(
                "SELECT import_id, file_name, entity, system, rows_read, rows_loaded, "
                "rows_quarantined, cells_quarantined, imported_at FROM imports ORDER BY import_id"
            ).fetchall()
            enrichment = enrichment_status(con)
        return {
            "counts": counts,
            "outcomes": outcomes,
            "deals_linked": int(linked[0]) if linked else 0,
            "imports": imports,
            "enrichment": enrichment,
            "review": self.review_status(),
        }

    def review_status(self, today: dt.date | None = None) -> ReviewStatus | None:
        """When the next review of the ICP in force is due (``review.every_days`` after the
        last review or adoption, or its derivation), and whether it is due ``today``
        (default: today, UTC); None without an ICP. Reads two small files, nothing more."""
        from icpkit.icp.review_log import ReviewLog, derived_day
        from icpkit.icp.review_log import today as utc_today

        derived = derived_day(self.settings.icp)
        if derived is None:
            return None
        every = self.settings.review.every_days
        return ReviewLog(self.root).status(derived, every, today or utc_today())
