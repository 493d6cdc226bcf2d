"""The Ideal Customer Profile as versioned code: its model, YAML form, versions and diffs."""

from icpkit.icp.diff import ICPDiff, diff_icps, format_diff
from icpkit.icp.locks import apply_human_decisions
from icpkit.icp.model import (
    ICP,
    Criterion,
    Evidence,
    Exclusion,
    ICPError,
    IntentSignal,
    dump_icp,
    icp_from_yaml,
    icp_json_schema,
    icp_to_yaml,
    load_icp,
)
from icpkit.icp.versions import VersionExistsError, VersionInfo, VersionStore

__all__ = [
    "ICP",
    "Criterion",
    "Evidence",
    "Exclusion",
    "ICPDiff",
    "ICPError",
    "IntentSignal",
    "VersionExistsError",
    "VersionInfo",
    "VersionStore",
    "apply_human_decisions",
    "diff_icps",
    "dump_icp",
    "format_diff",
    "icp_from_yaml",
    "icp_json_schema",
    "icp_to_yaml",
    "load_icp",
]
