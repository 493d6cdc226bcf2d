"""Saved ICP versions under ``.icp/``: numbered, never overwritten, with a Markdown changelog."""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from icpkit.icp.describe import describe_rule
from icpkit.icp.diff import ICPDiff, describe_change
from icpkit.icp.model import ICP, LISTS, ICPError, icp_from_yaml, icp_to_yaml
from icpkit.output.files import write_atomic

_VERSION_FILE = re.compile(r"^v(\d{4,})\.yaml$")
CHANGELOG_TITLE = "# ICP changelog\n"


class VersionExistsError(ICPError):
    """A version file is already there; versions are history and are never overwritten."""


@dataclass(frozen=True)
class VersionInfo:
    """One saved version at a glance: number, date, rule counts per list, data fingerprint."""

    version: int
    derived_at: datetime
    counts: dict[str, int]
    data_fingerprint: str


class VersionStore:
    """The ICP versions of a workspace, kept as ``.icp/versions/v0001.yaml``, ``v0002.yaml``..."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.versions_dir = self.root / ".icp" / "versions"
        self.changelog_path = self.root / ".icp" / "CHANGELOG.md"

    def path(self, version: int) -> Path:
        """Where version ``version`` is (or would be) stored."""
        return self.versions_dir / f"v{version:04d}.yaml"

    def numbers(self) -> builtins.list[int]:
        """The saved version numbers, ascending."""
        if not self.versions_dir.is_dir():
            return []
        found = (_VERSION_FILE.match(p.name) for p in self.versions_dir.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def save(self, icp: ICP) -> int:
        """Store ``icp`` as the next version, set ``icp.version`` to it, and return it."""
        numbers = self.numbers()
        version = (numbers[-1] if numbers else 0) + 1
        path = self.path(version)
        text = icp_to_yaml(icp.model_copy(update={"version": version}))
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        try:
            write_atomic(path, text, overwrite=False)
        except FileExistsError:
            raise VersionExistsError(
                f"{path}: version {version} already exists and versions are never "
                "overwritten (was another save running?)"
            ) from None
        icp.version = version
        return version

    def load(self, version: int) -> ICP:
        """The ICP saved as ``version``."""
        path = self.path(version)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            have = self.numbers()
            saved = f"saved: {have[0]}-{have[-1]}" if have else "none saved yet"
            raise ICPError(f"{path}: no ICP version {version} ({saved})") from None
        icp = icp_from_yaml(text, source=str(path))
        if icp.version != version:
            # A file renamed or edited by hand would otherwise pass for another version.
            raise ICPError(f"{path}: version: says {icp.version} but the file is v{version:04d}")
        return icp

    def latest(self) -> ICP | None:
        """The newest saved ICP, or None before the first save."""
        numbers = self.numbers()
        return self.load(numbers[-1]) if numbers else None

    def append_changelog(self, diff: ICPDiff, note: str | None = None) -> None:
        """Add a Markdown entry for ``diff`` (the step to its new version) to CHANGELOG.md."""
        self.append_entry(changelog_entry(diff, note))

    def append_entry(self, entry: str) -> None:
        """Add a Markdown ``entry`` (an adoption, a rollback) to CHANGELOG.md."""
        existing = (
            self.changelog_path.read_text(encoding="utf-8")
            if self.changelog_path.exists()
            else CHANGELOG_TITLE
        )
        write_atomic(self.changelog_path, existing.rstrip("\n") + "\n\n" + entry)

    def list(self) -> builtins.list[VersionInfo]:
        """Every saved version, oldest first."""
        infos = []
        for number in self.numbers():
            icp = self.load(number)
            infos.append(
                VersionInfo(
                    version=number,
                    derived_at=icp.derived_at,
                    counts={name: len(getattr(icp, name)) for name in LISTS},
                    data_fingerprint=icp.data_fingerprint,
                )
            )
        return infos


def changelog_entry(diff: ICPDiff, note: str | None = None) -> str:
    """The Markdown entry for one version: heading, note, then one bullet per change."""
    lines = [f"## v{diff.new_version} — {diff.derived_at:%Y-%m-%d}", ""]
    if note:
        lines += [note.strip(), ""]
    for part in diff.lists:
        for item in part.added_items:
            lines.append(f"- Added {part.name} `{item.id}`: {describe_rule(item)}")
        for change in part.changed:
            lines.append(f"- Changed {part.name} `{change.id}`: {describe_change(change)}")
        for item_id in part.removed:
            lines.append(f"- Removed {part.name} `{item_id}`")
    lines += [f"- Added persona role {role}" for role in diff.persona_added]
    lines += [f"- Removed persona role {role}" for role in diff.persona_removed]
    if diff.is_empty:
        lines.append("- No criteria changed.")
    if diff.data_changed:
        lines.append(
            f"- Data changed: fingerprint `{diff.old_fingerprint}` -> `{diff.new_fingerprint}`."
        )
    return "\n".join(lines) + "\n"
