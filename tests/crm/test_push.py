"""``icp push hubspot``: the ICP's values in the CRM's company records, only what changed,
exactly once through rate limits, server errors, timeouts and a run stopped midway."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hubspot_world import TOKEN, Pulled, environ, pulled, seeded

from icpkit.crm.base import PermissionMissing, Update, WriteResult
from icpkit.crm.connectors import connector
from icpkit.crm.emulators.hubspot import ALL_SCOPES, Fault, HubSpotEmulator
from icpkit.crm.fields import FIELD_NAMES
from icpkit.crm.hubspot import HubSpotConnector
from icpkit.crm.push import push, score_accounts
from icpkit.workspace import Workspace

__all__ = ["pulled"]  # the module's fixture

TODAY = dt.date(2025, 6, 1)


def _values(hub: HubSpotEmulator) -> dict[str, dict[str, Any]]:
    """Record id -> the ICP values HubSpot holds, for the records that have any."""
    out = {}
    for rid, record in hub.objects["companies"].items():
        held = {k: record.properties.get(k) for k in FIELD_NAMES}
        if any(v is not None for v in held.values()):
            out[rid] = held
    return out


def test_pushed_values_are_what_icp_score_gives_for_the_same_accounts(
    tmp_path: Path, pulled: Pulled
) -> None:
    ws = pulled.copy(tmp_path / "ws")
    with seeded(pulled.files) as hub:
        result = ws.push("hubspot", environ=environ(hub), as_of=TODAY)
        held = _values(hub)
        domain_of = {rid: r.properties["domain"] for rid, r in hub.objects["companies"].items()}
    scored = ws.score_file(pulled.files.companies, as_of=TODAY)
    by_key = {row["account_key"]: row for row in scored.scored_rows}
    assert result.written == len(held) == pulled.files.n_company_rows and not result.refused
    compared = 0
    for rid, values in held.items():
        row = by_key.get(domain_of[rid] or "")
        if row is None:
            continue  # an account keyed by its name: compared through its domain below
        compared += 1
        assert values["icp_fit"] == str(row["fit"])
        assert values["icp_intent"] == str(row["intent"])
        assert values["icp_score"] == str(row["score"])
        assert values["icp_tier"] == row["tier"]
        assert values["icp_route"] == row["route"]
        top = "; ".join(row["top_reasons"].split("; ")[:3])
        assert (values["icp_reasons"] or "") == top  # HubSpot holds an empty text as null
        assert values["icp_version"] == str(ws.require_icp().version)
    assert compared > 0.9 * len(held)


def _scores(ws: Workspace) -> dict[str, dict[str, Any]]:
    icp = ws.require_icp()
    return {
        a.account_key: dict(a.values)
        for a in score_accounts(ws.store_path, icp, ws.settings, as_of=TODAY)
    }


def _shrink(hub: HubSpotEmulator, ws: Workspace) -> None:
    """Every 8th company becomes a two-person mining firm in the CRM, and is pulled."""
    for rid in sorted(hub.objects["companies"])[::8]:
        hub.change("companies", rid, {"numberofemployees": "2", "industry": "MINING_METALS"})
    ws.pull("hubspot", environ=environ(hub))


def test_a_second_push_writes_only_the_records_whose_values_changed(
    tmp_path: Path, pulled: Pulled
) -> None:
    ws = pulled.copy(tmp_path / "ws")
    ids = ws_record_ids(ws)
    with seeded(pulled.files) as hub:
        ws.push("hubspot", environ=environ(hub), as_of=TODAY)
        same = ws.push("hubspot", environ=environ(hub), as_of=TODAY)
        first = dict(hub.writes)
        before = _scores(ws)
        _shrink(hub, ws)
        after = _scores(ws)
        hub.writes.clear()
        again = ws.push("hubspot", environ=environ(hub), as_of=TODAY)
        rewritten = dict(hub.writes)
    moved = {k for k in before if before[k] != after[k]}
    assert 0 < len(moved) < len(before)  # the case this test is about
    assert same.written == 0 and same.unchanged == len(first)
    expected = {rid for key in moved for rid in ids.get(key, [])}
    assert set(rewritten) == expected and set(rewritten.values()) == {1}
    assert again.written == len(expected) and again.unchanged == len(first) - len(expected)


def ws_record_ids(ws: Workspace) -> dict[str, list[str]]:
    from icpkit.crm.state import SyncState

    with SyncState(ws.root) as state:
        return state.record_ids("hubspot")


def test_a_dry_run_writes_nothing_and_tells_the_tier_moves_in_words(
    tmp_path: Path, pulled: Pulled
) -> None:
    ws = pulled.copy(tmp_path / "ws")
    ids = ws_record_ids(ws)
    with seeded(pulled.files) as hub:
        first = ws.push("hubspot", environ=environ(hub), dry_run=True, as_of=TODAY)
        assert not hub.writes and "icp_tier" not in hub.properties
        ws.push("hubspot", environ=environ(hub), as_of=TODAY)
        before = _scores(ws)
        _shrink(hub, ws)
        after = _scores(ws)
        hub.writes.clear()
        dry = ws.push("hubspot", environ=environ(hub), dry_run=True, as_of=TODAY)
        assert not hub.writes
    moves: dict[tuple[str, str], int] = {}
    left = 0
    for key, new in after.items():
        old = before[key]
        if new["icp_tier"] != old["icp_tier"]:
            pair = (old["icp_tier"], new["icp_tier"])
            moves[pair] = moves.get(pair, 0) + len(ids[key])
        outside = ("disqualify", "never")
        if old["icp_route"] not in outside and new["icp_route"] in outside:
            left += len(ids[key])
    assert first.created_fields == list(FIELD_NAMES)
    n = pulled.files.n_company_rows
    assert f"{n:,} records get ICP values for the first time" in first.lines()
    assert moves  # the case this test is about
    words = dry.lines()
    for (old_tier, new_tier), count in moves.items():
        noun = "accounts" if count > 1 else "account"
        assert f"{count:,} {noun} move from {old_tier} to {new_tier}" in words
    if left:
        assert f"{left:,} account{'s' if left > 1 else ''} leave the ICP" in words
    assert any(line.endswith("records unchanged") for line in words)
    assert words[-2].startswith("dry run: nothing written")


def test_accounts_with_no_crm_record_are_counted_and_named_not_skipped_silently(
    tmp_path: Path, pulled: Pulled
) -> None:
    ws = pulled.copy(tmp_path / "ws")
    ws.ingest([_prospect(tmp_path)])
    with seeded(pulled.files) as hub:
        result = ws.push("hubspot", environ=environ(hub), dry_run=True, as_of=TODAY)
    assert [a.name for a in result.no_record] == ["Lonely Prospect Ltd"]
    assert any("1 account with no hubspot record" in line and "Lonely Prospect Ltd" in line
               for line in result.lines())  # fmt: skip


def _prospect(tmp_path: Path) -> Path:
    path = tmp_path / "prospects.csv"
    path.write_text(
        "Company name,Company Domain Name,Number of Employees,Industry,Country/Region\n"
        "Lonely Prospect Ltd,lonelyprospect.co.uk,120,Computer Software,United Kingdom\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.slow
def test_429s_500s_and_timeouts_mid_push_end_with_each_record_written_exactly_once(
    tmp_path: Path, pulled: Pulled
) -> None:
    ws = pulled.copy(tmp_path / "ws")
    update = "/crm/v3/objects/companies/batch/update"
    with seeded(pulled.files) as hub:
        hub.inject(
            Fault(status=429, count=2, path=update),
            Fault(status=500, count=2, path=update),
            Fault(delay_s=1.2, count=1, path=update),  # applied, then silent past the timeout
            Fault(status=502, count=1, path=update),
        )
        api = HubSpotConnector(TOKEN, base_url=hub.url, timeout_s=0.6, backoff_s=0.01)
        result = ws.push("hubspot", connector=api, as_of=TODAY)
        assert not hub.faults  # every fault was met
        writes = dict(hub.writes)
    assert result.written == pulled.files.n_company_rows and not result.refused
    assert writes == dict.fromkeys(writes, 1) and len(writes) == pulled.files.n_company_rows


class _Stops:
    """A connector that stops the run (as a kill would) after ``batches`` batches, the last
    one written to the CRM but never confirmed to the sync."""

    def __init__(self, inner: HubSpotConnector, batches: int) -> None:
        self.inner, self.left = inner, batches
        self.name = inner.name
        self.batch_size = inner.batch_size

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    @property
    def calls(self) -> int:
        return self.inner.calls

    def write(self, updates: list[Update]) -> WriteResult:
        result = self.inner.write(updates)
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt  # after HubSpot applied it, before the sync heard
        return result


def test_a_push_stopped_midway_and_run_again_writes_each_record_exactly_once(
    tmp_path: Path, pulled: Pulled
) -> None:
    ws = pulled.copy(tmp_path / "ws")
    with seeded(pulled.files) as hub:
        api = connector("hubspot", environ=environ(hub))
        with pytest.raises(KeyboardInterrupt):
            ws.push("hubspot", connector=_Stops(api, 3), as_of=TODAY)  # type: ignore[arg-type]
        assert sum(hub.writes.values()) == 300
        rest = ws.push("hubspot", environ=environ(hub), as_of=TODAY)
        writes = dict(hub.writes)
    assert rest.confirmed_after_stop == 100  # the batch that landed unheard: not sent again
    assert rest.written == pulled.files.n_company_rows - 300
    assert len(writes) == pulled.files.n_company_rows and set(writes.values()) == {1}


def test_a_missing_scope_is_permission_missing_and_nothing_is_written(
    tmp_path: Path, pulled: Pulled
) -> None:
    ws = pulled.copy(tmp_path / "ws")
    scopes = ALL_SCOPES - {"crm.objects.companies.write"}
    with seeded(pulled.files, tokens={TOKEN: scopes}) as hub:
        with pytest.raises(PermissionMissing, match=r"crm\.objects\.companies\.write") as raised:
            ws.push("hubspot", environ=environ(hub), as_of=TODAY)
        assert not hub.writes
        assert not hub.properties.keys() & set(FIELD_NAMES)
    assert "nothing was written" in str(raised.value.hint)


def test_the_token_never_reaches_a_message_a_log_or_a_stored_file(
    tmp_path: Path, pulled: Pulled, caplog: pytest.LogCaptureFixture
) -> None:
    ws = pulled.copy(tmp_path / "ws")
    caplog.set_level("DEBUG")
    messages = []
    with seeded(pulled.files) as hub:
        ws.pull("hubspot", environ=environ(hub))
        ws.push("hubspot", environ=environ(hub), as_of=TODAY)
        hub.inject(Fault(status=500, count=99))
        api = HubSpotConnector(TOKEN, base_url=hub.url, backoff_s=0.001)
        for call in (lambda: list(api.read("companies", None)), lambda: push(api, ws.root, [], 1)):
            try:
                call()
            except Exception as exc:  # the messages are what is judged
                messages.append(f"{exc} {getattr(exc, 'hint', '')} {exc!r}")
    assert messages
    stored = [p for p in ws.root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".sqlite" for p in stored)
    assert not [p for p in stored if TOKEN.encode() in p.read_bytes()]
    assert TOKEN not in caplog.text and not [m for m in messages if TOKEN in m]


@pytest.mark.slow
def test_a_push_process_killed_while_a_batch_lands_then_run_again_writes_each_record_once(
    tmp_path: Path, pulled: Pulled
) -> None:
    ws = pulled.copy(tmp_path / "ws")
    update = "/crm/v3/objects/companies/batch/update"
    with seeded(pulled.files) as hub:
        # Two batches answered at once; the third is applied, then answered a minute later:
        # the process is killed while HubSpot holds it and the sync has not heard.
        hub.inject(Fault(count=2, path=update), Fault(delay_s=60, path=update))
        script = (
            "import datetime, os, sys; from icpkit.workspace import Workspace; "
            "Workspace.open(sys.argv[1]).push('hubspot', as_of=datetime.date(2025, 6, 1))"
        )
        env = {**os.environ, **environ(hub)}
        child = subprocess.Popen([sys.executable, "-c", script, str(ws.root)], env=env)
        try:
            deadline = time.monotonic() + 120
            while sum(hub.writes.values()) < 300 and time.monotonic() < deadline:
                assert child.poll() is None, "the push ended before it was killed"
                time.sleep(0.05)
        finally:
            child.kill()
            child.wait()
        assert sum(hub.writes.values()) == 300
        rest = ws.push("hubspot", environ=environ(hub), as_of=TODAY)
        writes = dict(hub.writes)
    assert rest.confirmed_after_stop == 100
    assert len(writes) == pulled.files.n_company_rows and set(writes.values()) == {1}


def test_a_workspace_built_from_the_crms_exports_pushes_without_a_pull(
    tmp_path: Path, demo_workspace: Any
) -> None:
    """The export's Record IDs are HubSpot's company ids: a workspace that ingested the
    export (and never pulled) finds every record of its accounts."""
    demo = demo_workspace(800, 5, derived=True)
    ws = demo.copy(tmp_path / "ws")
    with seeded(demo.files) as hub:
        result = ws.push("hubspot", environ=environ(hub), as_of=TODAY)
        held = _values(hub)
    assert not result.no_record
    assert result.written == len(held) == demo.files.n_company_rows
