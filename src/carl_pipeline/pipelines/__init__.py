"""Kedro pipelines: thin wiring of nodes over the plain packages."""
