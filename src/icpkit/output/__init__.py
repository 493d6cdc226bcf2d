"""Writing what icpkit produces: files written atomically, CSV safe for spreadsheets."""
