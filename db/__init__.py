"""Persistence: SQLAlchemy tables, the engine, repositories (queries) and alembic migrations.

Imports nothing of ours; every setting it needs (the database URL) is passed in.
"""
