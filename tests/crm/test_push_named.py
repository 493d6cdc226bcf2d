"""``icp push`` with named ICPs: each account's best-fitting ICP written beside the main
ICP's fields, and with ``--per-icp`` each named ICP's fit and tier, the values ``icp score``
gives for the same accounts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hubspot_world import environ, seeded
from typer.testing import CliRunner

from helpers import DemoWorkspace
from icpkit.cli.main import app
from icpkit.config import save_settings
from icpkit.crm.emulators.hubspot import HubSpotEmulator
from icpkit.crm.fields import FIELD_NAMES
from icpkit.errors import IcpkitError
from icpkit.workspace import Workspace
from two_lines import two_line_workspace

TODAY = dt.date(2025, 6, 1)

pytestmark = pytest.mark.slow  # the two-product-line workspace takes ~30 s to build


@dataclass
class Pulled:
    """The two-product-line workspace after a pull from HubSpot (read only: copy it)."""

    root: Path
    lines: DemoWorkspace

    def copy(self, dest: Path) -> Workspace:
        import shutil

        shutil.copytree(self.root, dest)
        return Workspace.open(dest)


@pytest.fixture(scope="module")
def pulled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pulled]:
    lines = two_line_workspace(tmp_path_factory)
    ws = lines.copy(tmp_path_factory.mktemp("named-push") / "ws")
    with seeded(lines.files) as hub:
        result = ws.pull("hubspot", environ=environ(hub))
    assert result.objects[0].loaded == lines.files.n_company_rows, result.lines()
    yield Pulled(ws.root, lines)


def _held(hub: HubSpotEmulator, names: list[str]) -> dict[str, dict[str, Any]]:
    """Record id -> the domain and the named-ICP fields HubSpot holds."""
    wanted = ["icp_best_icp", "icp_tier", *names]
    return {
        rid: {"domain": r.properties.get("domain"), **{k: r.properties.get(k) for k in wanted}}
        for rid, r in hub.objects["companies"].items()
    }


def _expected(ws: Workspace, pulled: Pulled) -> dict[str, dict[str, Any]]:
    scored = ws.score_file(pulled.lines.files.companies, as_of=TODAY)
    return {row["account_key"]: row for row in scored.rows()}


def test_push_writes_each_accounts_best_icp_as_icp_score_gives_it(
    tmp_path: Path, pulled: Pulled
) -> None:
    ws = pulled.copy(tmp_path / "ws")
    with seeded(pulled.lines.files) as hub:
        first = ws.push("hubspot", environ=environ(hub), as_of=TODAY)
        again = ws.push("hubspot", environ=environ(hub), as_of=TODAY)
        held = _held(hub, [])
    assert first.created_fields == [*FIELD_NAMES, "icp_best_icp"]  # no per-ICP field unasked
    assert first.written == pulled.lines.files.n_company_rows and not first.refused
    assert again.written == 0  # the best fit is part of what a record last confirmed
    expected = _expected(ws, pulled)
    compared, best = 0, set()
    for values in held.values():
        row = expected.get(values["domain"] or "")
        if row is None:
            continue  # an account keyed by its name
        compared += 1
        assert (values["icp_best_icp"] or None) == row["best_icp"]  # empty is held as null
        assert values["icp_tier"] == row["tier"]  # the main ICP's fields as before
        best.add(row["best_icp"])
    assert compared > 0.9 * len(held)
    assert {n.name for n in ws.settings.icps} <= best  # both ICPs take some accounts


def test_per_icp_push_writes_each_named_icps_fit_and_tier(tmp_path: Path, pulled: Pulled) -> None:
    ws = pulled.copy(tmp_path / "ws")
    names = [n.name for n in ws.settings.icps]
    columns = [f"icp_{c}_{n}" for n in names for c in ("fit", "tier")]
    with seeded(pulled.lines.files) as hub:
        result = ws.push("hubspot", environ=environ(hub), as_of=TODAY, per_icp=True)
        held = _held(hub, columns)
        options = {n: hub.properties[f"icp_tier_{n}"] for n in names}
    assert result.created_fields == [*FIELD_NAMES, "icp_best_icp", *columns]
    assert all(spec["type"] == "enumeration" for spec in options.values())
    expected = _expected(ws, pulled)
    compared = 0
    for values in held.values():
        row = expected.get(values["domain"] or "")
        if row is None:
            continue
        compared += 1
        for name in names:
            assert values[f"icp_fit_{name}"] == str(row[f"fit_{name}"])
            assert values[f"icp_tier_{name}"] == row[f"tier_{name}"]
    assert compared > 0.9 * len(held)


def test_per_icp_without_named_icps_is_refused_in_words(tmp_path: Path, pulled: Pulled) -> None:
    ws = pulled.copy(tmp_path / "ws")
    ws.settings.icps = []
    save_settings(ws.settings, ws.config_path)
    with pytest.raises(IcpkitError, match="no named ICP is derived"):
        Workspace.open(ws.root).push("hubspot", environ={}, per_icp=True)


def test_push_dry_run_with_per_icp_names_the_fields_it_would_create(
    tmp_path: Path, pulled: Pulled
) -> None:
    ws = pulled.copy(tmp_path / "ws")
    names = [n.name for n in ws.settings.icps]
    with seeded(pulled.lines.files) as hub:
        result = CliRunner().invoke(
            app,
            [
                "push",
                "hubspot",
                "--dry-run",
                "--per-icp",
                "--as-of",
                str(TODAY),
                "-w",
                str(ws.root),
            ],
            env={**environ(hub), "COLUMNS": "400"},
        )
        assert not hub.writes
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("fields would be created"))
    assert "icp_best_icp" in line and all(f"icp_tier_{n}" in line for n in names)


SF_TOKEN = "00Dx0000000sync!AQ4AQFakeSessionTokenOfTheSyncTests"
PD_TOKEN = "0123456789abcdef0123456789abcdefsync0000"


def _salesforce(ws: Workspace, pulled: Pulled, names: list[str]) -> list[dict[str, Any]]:
    """Push to the loopback Salesforce (after a pull from it) twice; each Account's website
    and named-ICP fields."""
    from icpkit.crm.emulators.salesforce import SalesforceEmulator

    with SalesforceEmulator(token=SF_TOKEN) as sf:
        sf.seed_demo(pulled.lines.files)
        env = {"SALESFORCE_INSTANCE_URL": sf.url, "SALESFORCE_ACCESS_TOKEN": SF_TOKEN,
               "ICPKIT_SECRETS_FILE": "/nonexistent/secrets.env"}  # fmt: skip
        ws.pull("salesforce", environ=env)
        first = ws.push("salesforce", environ=env, as_of=TODAY, per_icp=True)
        second = ws.push("salesforce", environ=env, as_of=TODAY, per_icp=True)
        accounts = list(sf.records["Account"].values())
    assert first.written == len(accounts) and not first.refused and second.written == 0
    held = []
    for a in accounts:
        values = {"domain": a.get("Website"), "best": a.get("ICP_Best_ICP__c")}
        for name in names:
            title = "_".join(p.capitalize() for p in name.split("_"))
            values[f"fit_{name}"] = a.get(f"ICP_Fit_{title}__c")
            values[f"tier_{name}"] = a.get(f"ICP_Tier_{title}__c")
        held.append(values)
    return held


def _pipedrive(ws: Workspace, pulled: Pulled, names: list[str]) -> list[dict[str, Any]]:
    """Push to the loopback Pipedrive (after a pull from it) twice; each organization's
    website and named-ICP fields (options as their labels)."""
    from icpkit.crm.emulators.pipedrive import PipedriveEmulator

    with PipedriveEmulator(token=PD_TOKEN) as pd:
        pd.seed_demo(pulled.lines.files)
        env = {"PIPEDRIVE_API_TOKEN": PD_TOKEN, "ICPKIT_PIPEDRIVE_URL": pd.url,
               "ICPKIT_SECRETS_FILE": "/nonexistent/secrets.env"}  # fmt: skip
        ws.pull("pipedrive", environ=env)
        first = ws.push("pipedrive", environ=env, as_of=TODAY, per_icp=True)
        second = ws.push("pipedrive", environ=env, as_of=TODAY, per_icp=True)
        orgs = list(pd.records["organization"].values())
        fields = {f["name"]: f for f in pd.fields["organization"]}
        website = pd.field_key("organization", "Website")
    assert first.written == len(orgs) and not first.refused and second.written == 0

    def value(org: dict[str, Any], label: str) -> Any:
        field = fields[label]
        options = {o["id"]: o["label"] for o in field.get("options") or []}
        raw = org.get(field["key"])
        return options.get(raw, raw)

    held = []
    for org in orgs:
        values = {"domain": org.get(website), "best": value(org, "ICP best fit")}
        for name in names:
            values[f"fit_{name}"] = value(org, f"ICP fit {name}")
            values[f"tier_{name}"] = value(org, f"ICP tier {name}")
        held.append(values)
    return held


@pytest.mark.parametrize("crm", ["salesforce", "pipedrive"])
def test_salesforce_and_pipedrive_hold_the_named_icps_values_too(
    tmp_path: Path, pulled: Pulled, crm: str
) -> None:
    ws = pulled.copy(tmp_path / "ws")
    names = [n.name for n in ws.settings.icps]
    held = (_salesforce if crm == "salesforce" else _pipedrive)(ws, pulled, names)
    expected = _expected(ws, pulled)
    compared = 0
    for values in held:
        domain = str(values["domain"] or "").removeprefix("https://").removeprefix("www.")
        row = expected.get(domain.rstrip("/"))
        if row is None:
            continue
        compared += 1
        assert (values["best"] or None) == row["best_icp"]
        for name in names:
            assert float(values[f"fit_{name}"]) == float(row[f"fit_{name}"])
            assert values[f"tier_{name}"] == row[f"tier_{name}"]
    assert compared > 0.9 * len(held)
