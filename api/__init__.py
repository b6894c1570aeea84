"""The HTTP API (FastAPI) for MES systems and the dashboard; `api.app.create_app` builds it.

One folder per feature: `routes.py` (HTTP only), `service.py` (rules over repositories and domain
services, never a commit) and `schemas.py` (Pydantic in/out, apart from the tables). The request
boundary (`api.deps.get_session`) commits.
"""
