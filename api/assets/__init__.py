"""Describing assets: a machine's type and MES code, a sensor's unit and normal range (admin)."""
