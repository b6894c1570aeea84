"""Queries, one module per aggregate; shared by ingest, jobs, the API and the domain services."""
