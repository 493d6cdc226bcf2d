"""Loopback emulators of the CRM APIs the connectors speak, holding state, for tests and benches."""
