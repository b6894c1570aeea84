"""Maintenance and failure events of a machine (the labels of the models)."""
