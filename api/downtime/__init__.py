"""Planned downtime windows over HTTP: the MES posts them, the alert engine holds alerts back meanwhile."""
