"""The ``icp`` command: a thin shell over :class:`icpkit.workspace.Workspace`."""
