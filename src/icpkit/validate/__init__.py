"""Validation of scoring models: backtests, baselines and their metrics."""
