"""``icp push``: the ICP's scores written into the CRM's company records.

The workspace's accounts are scored by the compiled scorecard on the store, as ``icp score``
scores a file (the reasons worded the same way, enriched values naming their source), with
the ICP in force. With named ICPs derived (icpkit.engines.multi) it also writes the ICP each
account fits best and, when asked, each named ICP's fit and tier. An account is written to
the CRM record its companies were pulled from (the sync state keeps the ids), and only when
its values differ from the ones the CRM last confirmed (a fingerprint per record).

Exactly once, even when stopped: each batch is noted as pending before it is sent and
confirmed when the CRM answers; a later run first reads back what the CRM holds for the
pending records, so a batch that landed before the run was killed is not sent again. A
record the CRM refuses is reported with its reason and tried again by the next push.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icpkit.config import Settings
from icpkit.crm.base import Connector, FieldSpec, Update
from icpkit.crm.fields import FIELDS, named_values, same, values_of
from icpkit.crm.state import SyncState, fingerprint
from icpkit.icp.model import ICP
from icpkit.vocabulary import TIERS

OUTSIDE_ROUTES = frozenset({"disqualify", "never"})
"""Routes of an account outside the ICP (``never``: excluded, ``disqualify``: too far)."""


@dataclass(frozen=True)
class ScoredAccount:
    """An account of the store and the values the push writes for it."""

    account_key: str
    name: str | None
    values: Mapping[str, Any]


@dataclass
class PushResult:
    """A push (or its dry run): what was written, unchanged, refused, and the diff in words."""

    crm: str
    dry_run: bool
    icp_version: int
    accounts: int = 0
    written: int = 0
    unchanged: int = 0
    refused: dict[str, str] = field(default_factory=dict)
    confirmed_after_stop: int = 0
    changed: int = 0
    created_fields: list[str] = field(default_factory=list)
    no_record: list[ScoredAccount] = field(default_factory=list)
    moves: Counter[tuple[str, str]] = field(default_factory=Counter)
    new: int = 0
    left_icp: int = 0
    entered_icp: int = 0
    calls: int = 0

    def lines(self) -> list[str]:
        """The push in words."""
        out: list[str] = []
        if self.created_fields:
            verb = "would be created" if self.dry_run else "created"
            out.append(f"fields {verb}: {', '.join(self.created_fields)}")
        for (old, new), n in sorted(
            self.moves.items(), key=lambda kv: (TIERS.index(kv[0][0]), TIERS.index(kv[0][1]))
        ):
            out.append(f"{_n(n, 'account')} move from {old} to {new}")
        if self.new:
            out.append(f"{_n(self.new, 'record')} get ICP values for the first time")
        if self.left_icp:
            out.append(f"{_n(self.left_icp, 'account')} leave the ICP")
        if self.entered_icp:
            out.append(f"{_n(self.entered_icp, 'account')} enter the ICP")
        other = self.changed - sum(self.moves.values()) - self.new
        if other > 0:
            out.append(f"{_n(other, 'account')} keep their tier with new values")
        out.append(f"{_n(self.unchanged, 'record')} unchanged")
        if self.no_record:
            shown = ", ".join(a.name or a.account_key for a in self.no_record[:5])
            more = f" and {len(self.no_record) - 5:,} more" if len(self.no_record) > 5 else ""
            out.append(
                f"{_n(len(self.no_record), 'account')} with no {self.crm} record (neither pulled "
                f"from it nor in an export of it), not written: {shown}{more}"
            )
        if self.dry_run:
            out.append(f"dry run: nothing written ({_n(self.changed, 'record')} would be)")
        else:
            line = f"{_n(self.written, 'record')} written, {len(self.refused):,} refused"
            if self.confirmed_after_stop:
                line += (
                    f", {self.confirmed_after_stop:,} found already written by a run that "
                    "was stopped"
                )
            out.append(line)
            for rid, why in list(self.refused.items())[:5]:
                out.append(f"refused: record {rid}: {why}")
        out.append(f"{self.calls:,} API calls")
        return out


def _n(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def score_accounts(
    store: Path,
    icp: ICP,
    settings: Settings,
    *,
    as_of: dt.date,
    named: Sequence[tuple[str, ICP]] = (),
    per_icp: bool = False,
) -> list[ScoredAccount]:
    """Every account of the store scored with ``icp`` as of ``as_of``: the compiled SELECT and
    the wording of reasons ``icp score`` uses, so both give the same values. With ``named``
    ICPs each account's values also hold its best fit (and with ``per_icp`` each named
    ICP's fit and tier, see icpkit.crm.fields.named_fields)."""
    from icpkit.engines.multi import named_columns
    from icpkit.engines.sql import SEPARATOR, Tables, compile_scorecard
    from icpkit.enrich.evidence import sourced_reasons
    from icpkit.store.db import attach_read_only, connect

    con = connect(":memory:")
    try:
        attach_read_only(con, store)
        tables = Tables("ws.accounts", "ws.signals", "ws.contacts")
        more = ""
        if named:
            from icpkit.engines.multi import compile_with_named

            sql = compile_with_named(con, icp, named, settings, tables=tables, as_of=as_of, keep=())
            more = "".join(f", s.{c}" for c in ["best_icp", *named_columns([n for n, _ in named])])
        else:
            sql = compile_scorecard(icp, settings, tables=tables, as_of=as_of)
        con.execute(f"CREATE OR REPLACE TEMP VIEW scored AS {sql}")
        view = sourced_reasons(icp, settings, as_of)(con, "scored", "ws.")
        cur = con.execute(
            f"SELECT s.account_key, a.name, s.fit, s.intent, s.score, s.tier, s.route, "
            f"s.top_reasons{more} FROM {view} s LEFT JOIN ws.accounts a USING (account_key) "
            "ORDER BY s.account_key"
        )
        columns = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    names = [n for n, _ in named]
    out = []
    for found in rows:
        row = dict(zip(columns, found, strict=True))
        row["icp_version"] = icp.version
        values = values_of(row, SEPARATOR)
        if named:
            values.update(named_values(row, names, per_icp=per_icp))
        out.append(ScoredAccount(str(row["account_key"]), row["name"], values))
    return out


def exported_record_ids(store: Path, crm: str) -> dict[str, list[str]]:
    """Account key -> the record ids of ``crm`` that the workspace's exports of that CRM
    carried (HubSpot's ``Record ID``, Salesforce's ``Account ID``, Pipedrive's ``Organization -
    ID``): a workspace built from exports can be pushed without a pull first."""
    from icpkit.store.db import attach_read_only, connect

    con = connect(":memory:")
    try:
        attach_read_only(con, store)
        rows = con.execute(
            "SELECT account_key, source_id FROM ws.account_ids WHERE system = ? "
            "ORDER BY account_key, source_id",
            [crm],
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[str]] = {}
    for key, rid in rows:
        out.setdefault(str(key), []).append(str(rid))
    return out


def push(
    connector: Connector,
    root: Path,
    scored: Sequence[ScoredAccount],
    icp_version: int,
    *,
    dry_run: bool = False,
    batch_size: int | None = None,
    after_batch: Callable[[int], None] | None = None,
    exported_ids: Mapping[str, Sequence[str]] | None = None,
    fields: Sequence[FieldSpec] = FIELDS,
) -> PushResult:
    """Write the ``scored`` accounts' values that changed since the last push into the CRM
    records of the workspace at ``root``; with ``dry_run`` only say what would change.
    ``after_batch`` is called after each batch is recorded (records written so far).
    ``exported_ids`` (account key -> record ids read from the CRM's own exports) finds the
    records of accounts that were ingested from an export rather than pulled. ``fields``
    are the fields checked and created first (the named ICPs' after the main ICP's)."""
    crm = connector.name
    size = batch_size or int(getattr(connector, "batch_size", 100))
    result = PushResult(crm, dry_run, icp_version, accounts=len(scored))
    start_calls = connector.calls
    with SyncState(root) as state:
        result.created_fields = connector.ensure_fields(fields, dry_run=dry_run)
        if not dry_run:
            result.confirmed_after_stop = _settle_pending(connector, state)
        ids = state.record_ids(crm)
        pushed = state.pushed(crm)
        todo: list[tuple[str, str, Mapping[str, Any]]] = []
        for account in scored:
            records = ids.get(account.account_key) or (exported_ids or {}).get(account.account_key)
            if not records:
                result.no_record.append(account)
                continue
            fp = fingerprint(account.values)
            for rid in records:
                last = pushed.get(rid)
                if last is not None and last[0] == fp:
                    result.unchanged += 1
                    continue
                _count_change(result, last[1] if last else None, account.values)
                todo.append((rid, fp, account.values))
        result.changed = len(todo)
        if not dry_run:
            for start in range(0, len(todo), size):
                batch = todo[start : start + size]
                state.sending(crm, batch)
                written = connector.write([Update(rid, vals) for rid, _, vals in batch])
                state.confirmed(crm, written.written, dropped=written.refused)
                result.written += len(written.written)
                result.refused.update(written.refused)
                if after_batch is not None:
                    after_batch(result.written)
    result.calls = connector.calls - start_calls
    return result


def _count_change(
    result: PushResult, old: Mapping[str, Any] | None, new: Mapping[str, Any]
) -> None:
    if old is None:
        result.new += 1
        return
    before, after = str(old.get("icp_tier")), str(new.get("icp_tier"))
    if before != after and before in TIERS and after in TIERS:
        result.moves[(before, after)] += 1
    was_in = old.get("icp_route") not in OUTSIDE_ROUTES
    is_in = new.get("icp_route") not in OUTSIDE_ROUTES
    if was_in and not is_in:
        result.left_icp += 1
    elif is_in and not was_in:
        result.entered_icp += 1


def _settle_pending(connector: Connector, state: SyncState) -> int:
    """Records a stopped run sent without hearing back: the ones the CRM holds the values of
    are confirmed (not sent again), the others stay to be written. Returns how many."""
    pending = state.pending(connector.name)
    if not pending:
        return 0
    held: list[str] = []
    ids = list(pending)
    records = {r.id: r for r in connector.read_ids("companies", ids)}
    for rid, (_fp, values) in pending.items():
        record = records.get(rid)
        if record is not None and all(same(record.properties.get(k), v) for k, v in values.items()):
            held.append(rid)
    state.confirmed(connector.name, held, dropped=[r for r in ids if r not in held])
    return len(held)
