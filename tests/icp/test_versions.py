"""Saved ICP versions: numbered in order, never overwritten, listed, and logged in a changelog."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from icpkit.icp.diff import diff_icps
from icpkit.icp.model import ICP, ICPError, icp_to_yaml
from icpkit.icp.versions import VersionExistsError, VersionStore


def test_versions_are_numbered_in_sequence_from_one(tmp_path: Path, sample_icp: ICP) -> None:
    store = VersionStore(tmp_path)
    assert store.save(sample_icp) == 1
    assert sample_icp.version == 1
    assert store.save(sample_icp) == 2
    assert sorted(p.name for p in (tmp_path / ".icp" / "versions").iterdir()) == [
        "v0001.yaml",
        "v0002.yaml",
    ]


def test_saved_file_holds_its_version_number(tmp_path: Path, sample_icp: ICP) -> None:
    store = VersionStore(tmp_path)
    store.save(sample_icp)
    store.save(sample_icp)
    assert store.load(1).version == 1
    assert store.load(2).version == 2
    assert store.path(2).read_text(encoding="utf-8") == icp_to_yaml(sample_icp)


def test_an_existing_version_is_never_overwritten(
    tmp_path: Path,
    sample_icp: ICP,
    make_icp: Callable[..., ICP],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = VersionStore(tmp_path)
    store.save(sample_icp)
    before = store.path(1).read_bytes()
    # Another process saw no versions either, and picks 1 again.
    monkeypatch.setattr(store, "numbers", lambda: [])
    other = make_icp(data_fingerprint="sha256:other")
    with pytest.raises(VersionExistsError, match="never overwritten"):
        store.save(other)
    assert store.path(1).read_bytes() == before
    assert other.version == 0
    assert [p.name for p in store.versions_dir.iterdir()] == ["v0001.yaml"]


def test_a_gap_in_the_history_does_not_reuse_numbers(tmp_path: Path, sample_icp: ICP) -> None:
    store = VersionStore(tmp_path)
    store.save(sample_icp)
    store.save(sample_icp)
    store.path(1).unlink()
    assert store.save(sample_icp) == 3


def test_latest_is_none_before_the_first_save_then_the_newest(
    tmp_path: Path, make_icp: Callable[..., ICP]
) -> None:
    store = VersionStore(tmp_path)
    assert store.latest() is None
    store.save(make_icp(data_fingerprint="first"))
    store.save(make_icp(data_fingerprint="second"))
    latest = store.latest()
    assert latest is not None
    assert (latest.version, latest.data_fingerprint) == (2, "second")


def test_list_gives_number_date_counts_and_fingerprint(
    tmp_path: Path, make_icp: Callable[..., ICP], sample_icp: ICP
) -> None:
    store = VersionStore(tmp_path)
    store.save(sample_icp)
    store.save(make_icp(fit=[], data_fingerprint="later"))
    infos = store.list()
    assert [i.version for i in infos] == [1, 2]
    assert infos[0].derived_at == datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    assert infos[0].counts == {"boundary": 1, "fit": 2, "intent": 1, "exclusions": 1}
    assert infos[1].counts["fit"] == 0
    assert infos[1].data_fingerprint == "later"


def test_loading_a_missing_version_says_which_exist(tmp_path: Path, sample_icp: ICP) -> None:
    store = VersionStore(tmp_path)
    store.save(sample_icp)
    with pytest.raises(ICPError, match=r"no ICP version 7 \(saved: 1-1\)"):
        store.load(7)


def test_a_file_whose_content_claims_another_version_is_refused(
    tmp_path: Path, sample_icp: ICP
) -> None:
    store = VersionStore(tmp_path)
    store.save(sample_icp)
    store.save(sample_icp)
    store.path(1).unlink()
    store.path(2).rename(store.path(1))
    with pytest.raises(ICPError, match="says 2 but the file is v0001"):
        store.load(1)


def test_changelog_entries_are_appended(tmp_path: Path, make_icp: Callable[..., ICP]) -> None:
    store = VersionStore(tmp_path)
    first = make_icp()
    store.save(first)
    second = make_icp(exclusions=[], derived_at=datetime(2026, 11, 30, tzinfo=UTC))
    store.save(second)
    store.append_changelog(diff_icps(first, second), "Retail is back in play.")
    third = make_icp(exclusions=[], derived_at=datetime(2026, 12, 7, tzinfo=UTC))
    store.save(third)
    store.append_changelog(diff_icps(second, third), None)
    text = store.changelog_path.read_text(encoding="utf-8")
    assert store.changelog_path == tmp_path / ".icp" / "CHANGELOG.md"
    assert text == (
        "# ICP changelog\n"
        "\n"
        "## v2 — 2026-11-30\n"
        "\n"
        "Retail is back in play.\n"
        "\n"
        "- Removed exclusions `industry-retail`\n"
        "\n"
        "## v3 — 2026-12-07\n"
        "\n"
        "- No criteria changed.\n"
    )


def test_changelog_lists_added_changed_and_new_data(
    tmp_path: Path, make_icp: Callable[..., ICP], make_evidence: Callable[..., object]
) -> None:
    store = VersionStore(tmp_path)
    old = make_icp()
    fit = [old.fit[0], old.fit[1].model_copy(update={"evidence": make_evidence(lift=1.6)})]
    new = make_icp(fit=fit, boundary=[], data_fingerprint="sha256:9c1d")
    new.version = 2
    new.boundary.append(old.fit[0].model_copy(update={"id": "employees-floor"}))
    store.append_changelog(diff_icps(old, new))
    entry = store.changelog_path.read_text(encoding="utf-8").split("## ")[1]
    assert entry.splitlines()[2:] == [
        "- Added boundary `employees-floor`: 51-200 employees (lift 2.1x, CI 1.6-2.7x)",
        "- Removed boundary `country-served`",
        "- Changed fit `industry-software`: lift 1.8x -> 1.6x",
        "- Data changed: fingerprint `sha256:4f2a` -> `sha256:9c1d`.",
    ]
