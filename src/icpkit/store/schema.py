"""Table definitions of the workspace store (the canonical data model of DESIGN.md)."""

from __future__ import annotations

STORE_SCHEMA_VERSION = 3

# Raw values are kept beside every normalized attribute (`*_raw`), and unmapped source
# columns in `extra`, so a normalization can always be audited or redone.
# The JSON columns are compressed with zstd: a wide export's `extra` (one object of every
# custom property per account, 15 KB each at 500 columns) took DuckDB's default string
# compression 5.8 s to write per 20,000 accounts, zstd 0.9 s, in half the space.
TABLES: dict[str, str] = {
    "meta": """
        CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)
    """,
    "imports": """
        CREATE TABLE IF NOT EXISTS imports (
            import_id INTEGER PRIMARY KEY,
            path VARCHAR NOT NULL,
            file_name VARCHAR NOT NULL,
            content_hash VARCHAR NOT NULL,
            entity VARCHAR NOT NULL,
            system VARCHAR NOT NULL,
            encoding VARCHAR,
            delimiter VARCHAR,
            rows_read BIGINT NOT NULL,
            rows_loaded BIGINT NOT NULL,
            rows_quarantined BIGINT NOT NULL,
            cells_quarantined BIGINT NOT NULL,
            mapping JSON,
            imported_at TIMESTAMP NOT NULL,
            lineage INTEGER,
            header_hash VARCHAR
        )
    """,
    "accounts": """
        CREATE TABLE IF NOT EXISTS accounts (
            account_key VARCHAR NOT NULL,
            name VARCHAR,
            name_key VARCHAR,
            domain VARCHAR,
            employees BIGINT,
            employees_low BIGINT,
            employees_high BIGINT,
            employees_raw VARCHAR,
            revenue DOUBLE,
            revenue_currency VARCHAR,
            revenue_raw VARCHAR,
            industry VARCHAR,
            industry_naics VARCHAR,
            industry_sector VARCHAR,
            industry_raw VARCHAR,
            country VARCHAR,
            country_raw VARCHAR,
            city VARCHAR,
            founded_year INTEGER,
            technologies VARCHAR[],
            total_funding DOUBLE,
            funding_stage VARCHAR,
            nps DOUBLE,
            product_usage DOUBLE,
            lifecycle_stage VARCHAR,
            churned BOOLEAN,
            churn_date TIMESTAMP,
            created_at TIMESTAMP,
            origin VARCHAR NOT NULL,
            extra JSON USING COMPRESSION zstd,
            enriched JSON USING COMPRESSION zstd,
            source_file VARCHAR,
            source_line BIGINT,
            import_id INTEGER
        )
    """,
    "account_ids": """
        CREATE TABLE IF NOT EXISTS account_ids (
            system VARCHAR NOT NULL,
            source_id VARCHAR NOT NULL,
            account_key VARCHAR NOT NULL
        )
    """,
    "deals": """
        CREATE TABLE IF NOT EXISTS deals (
            deal_key VARCHAR NOT NULL,
            system VARCHAR NOT NULL,
            source_id VARCHAR,
            account_key VARCHAR,
            company_source_id VARCHAR,
            company_name VARCHAR,
            name VARCHAR,
            stage VARCHAR,
            outcome VARCHAR NOT NULL,
            amount DOUBLE,
            currency VARCHAR,
            amount_raw VARCHAR,
            created_at TIMESTAMP,
            closed_at TIMESTAMP,
            cycle_days INTEGER,
            deal_type VARCHAR,
            is_expansion BOOLEAN NOT NULL,
            pipeline VARCHAR,
            owner VARCHAR,
            lost_reason VARCHAR,
            extra JSON USING COMPRESSION zstd,
            source_file VARCHAR,
            source_line BIGINT,
            import_id INTEGER
        )
    """,
    "signals": """
        CREATE TABLE IF NOT EXISTS signals (
            signal_key VARCHAR NOT NULL,
            account_key VARCHAR,
            signal_type VARCHAR NOT NULL,
            detail VARCHAR,
            observed_at TIMESTAMP NOT NULL,
            source VARCHAR,
            extra JSON USING COMPRESSION zstd,
            source_file VARCHAR,
            source_line BIGINT,
            import_id INTEGER
        )
    """,
    "contacts": """
        CREATE TABLE IF NOT EXISTS contacts (
            contact_key VARCHAR NOT NULL,
            system VARCHAR NOT NULL,
            source_id VARCHAR,
            account_key VARCHAR,
            company_source_id VARCHAR,
            company_name VARCHAR,
            first_name VARCHAR,
            last_name VARCHAR,
            full_name VARCHAR,
            email VARCHAR,
            job_title VARCHAR,
            seniority VARCHAR,
            department VARCHAR,
            lifecycle_stage VARCHAR,
            created_at TIMESTAMP,
            extra JSON USING COMPRESSION zstd,
            source_file VARCHAR,
            source_line BIGINT,
            import_id INTEGER
        )
    """,
    "quarantine": """
        CREATE TABLE IF NOT EXISTS quarantine (
            import_id INTEGER NOT NULL,
            file VARCHAR NOT NULL,
            line BIGINT,
            "column" VARCHAR,
            raw_value VARCHAR,
            reason VARCHAR NOT NULL,
            scope VARCHAR NOT NULL
        )
    """,
    # Enrichment (icpkit.enrich): one row per provider call about one account (the cache:
    # fresh until expires_at), the values it observed with their provenance, and the runs.
    "enrich_lookups": """
        CREATE TABLE IF NOT EXISTS enrich_lookups (
            lookup_id BIGINT NOT NULL,
            run_id INTEGER NOT NULL,
            provider VARCHAR NOT NULL,
            account_key VARCHAR NOT NULL,
            asked VARCHAR,
            cache_tag VARCHAR,
            status VARCHAR NOT NULL,
            reason VARCHAR,
            credits DOUBLE NOT NULL,
            fetched_at TIMESTAMP NOT NULL,
            expires_at TIMESTAMP NOT NULL
        )
    """,
    "enrich_observations": """
        CREATE TABLE IF NOT EXISTS enrich_observations (
            lookup_id BIGINT NOT NULL,
            provider VARCHAR NOT NULL,
            account_key VARCHAR NOT NULL,
            field VARCHAR NOT NULL,
            value VARCHAR,
            raw_value VARCHAR,
            problem VARCHAR,
            confidence DOUBLE NOT NULL,
            source_url VARCHAR,
            evidence VARCHAR,
            observed_at TIMESTAMP,
            fetched_at TIMESTAMP NOT NULL
        )
    """,
    "enrich_runs": """
        CREATE TABLE IF NOT EXISTS enrich_runs (
            run_id INTEGER NOT NULL,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            providers VARCHAR[] NOT NULL,
            accounts BIGINT NOT NULL,
            calls BIGINT NOT NULL,
            credits DOUBLE NOT NULL,
            status VARCHAR NOT NULL
        )
    """,
}

# Statements that bring a store written by an earlier icpkit up to the current schema, run
# when one is opened for writing (each is a no-op once applied). Version 2: an import's
# lineage (the first import of the export it is a version of) and the hash of its header,
# so a re-export supersedes its earlier versions (see docs/ingest.md, "Re-imports").
UPGRADES: tuple[str, ...] = (
    "ALTER TABLE imports ADD COLUMN IF NOT EXISTS lineage INTEGER",
    "ALTER TABLE imports ADD COLUMN IF NOT EXISTS header_hash VARCHAR",
    # Before lineages, a file was its path: the imports of one path are one lineage.
    """UPDATE imports SET lineage = first.import_id
       FROM (SELECT path, min(import_id) AS import_id FROM imports GROUP BY path) first
       WHERE imports.lineage IS NULL AND first.path = imports.path""",
    # Version 3: which account values enrichment filled in (icpkit.enrich.apply), so a
    # re-run can tell them from the CRM's own.
    "ALTER TABLE accounts ADD COLUMN IF NOT EXISTS enriched JSON",
)
