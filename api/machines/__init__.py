"""Machines: the fleet, one machine, and its sensor readings."""
