"""Alerts over HTTP: list and filter, one with its history and notifications, and the engineer's actions."""
