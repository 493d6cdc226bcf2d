"""Reading CRM exports into the workspace: readers, layout detection, normalizers, quarantine."""
