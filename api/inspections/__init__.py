"""Inspections: images of parts at a line's station, their known and predicted labels."""
