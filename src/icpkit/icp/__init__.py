"""The Ideal Customer Profile as versioned code: its model, YAML form, versions and diffs.

The names below are loaded from their modules when first asked for, so that importing one
module of the package (its versions, for ``icp summary``) does not import the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOME = {
    "ICPDiff": "diff",
    "diff_icps": "diff",
    "format_diff": "diff",
    "apply_human_decisions": "locks",
    "ICP": "model",
    "Criterion": "model",
    "Evidence": "model",
    "Exclusion": "model",
    "ICPError": "model",
    "IntentSignal": "model",
    "dump_icp": "model",
    "icp_from_yaml": "model",
    "icp_json_schema": "model",
    "icp_to_yaml": "model",
    "load_icp": "model",
    "VersionExistsError": "versions",
    "VersionInfo": "versions",
    "VersionStore": "versions",
}

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


def __getattr__(name: str) -> Any:
    if (module := _HOME.get(name)) is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


if TYPE_CHECKING:
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
