"""JSON answers serialised straight from their model, for the routes whose answers are large.

A route that returns its model lets FastAPI validate it again (in the thread pool) and then serialise
it; for a page of 100 items, or 1,440 buckets, that costs more than the query. These routes declare
`response_model` (for the OpenAPI schema) and return `json_response(model)`: pydantic writes the JSON
bytes once, in Rust. Build the model in as few calls as possible, too: `Page[X].model_validate` of
plain rows validates them all in one call into pydantic-core, far cheaper than a model per row.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel

JSON = "application/json"


def json_response(model: BaseModel) -> Response:
    return Response(model.model_dump_json(), media_type=JSON)
