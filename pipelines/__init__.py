"""Polars pipelines: real public series -> validated long panel -> as-of features."""
