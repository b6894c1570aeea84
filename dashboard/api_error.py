"""The dashboard's one error for anything that went wrong talking to the API (see dashboard.client):
refused, unexpected, or unreachable (status 0), so pages can tell "start the API" apart from "your key
was refused"."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """The API refused a request, answered something unexpected, or could not be reached (status 0)."""

    def __init__(self, status: int, error: str, detail: Any = "") -> None:
        self.status = status
        self.error = error
        self.detail = detail
        super().__init__(f"{status} {error}: {detail}")

    def __reduce__(self) -> tuple[type[ApiError], tuple[int, str, Any]]:
        # Picklable as it was made, so that st.cache_data can keep an answer holding one.
        return ApiError, (self.status, self.error, self.detail)

    @property
    def unreachable(self) -> bool:
        return self.status == 0

    def detail_text(self) -> str:
        """`detail` as one sentence; FastAPI validation errors come as a list of dicts."""
        if isinstance(self.detail, list):
            parts = []
            for item in self.detail:
                if isinstance(item, dict):
                    where = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                    parts.append(f"{where}: {item.get('msg', item)}" if where else str(item.get("msg", item)))
                else:
                    parts.append(str(item))
            return "; ".join(parts)
        return str(self.detail)
