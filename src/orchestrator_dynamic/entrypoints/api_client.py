"""A small synchronous client of the HTTP API, for the CLI."""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    """The API answered with a problem, or could not be reached."""

    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{title}: {detail}" if detail and detail != title else title)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors


class ApiClient:
    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 15.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None) -> Any:
        return self._call("POST", path, json=body)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, f"/api/v1{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, "API unreachable", f"{self._http.base_url}: {exc}", []) from exc
        if response.is_success:
            try:
                return response.json()
            except ValueError as exc:  # something else listens there (a proxy page, ...)
                detail = f"{response.url} did not answer with JSON"
                raise ApiError(0, "not the orchestrator API", detail, []) from exc
        try:
            body = response.json()
        except ValueError:
            body = {"title": response.reason_phrase, "detail": response.text[:200]}
        raise ApiError(
            response.status_code,
            str(body.get("title", response.reason_phrase)),
            str(body.get("detail", "")),
            list(body.get("errors", [])),
        )

    def close(self) -> None:
        self._http.close()
