"""Engines: the scorecard compiled to SQL and run on DuckDB, Spark or PostgreSQL, and the
reference scorer in Python that the tests hold every engine to."""
