"""/docs and /redoc work offline: every script, style sheet and icon they reference is served by
the app itself (from an installed package), none comes from another host.

The app in process (no network at all); the docs need no services behind it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from orchestrator_dynamic.entrypoints.api.app import create_app

pytestmark = pytest.mark.e2e

# Attributes that load something (src, href, ReDoc's spec-url) and Swagger UI's `url:` option.
ASSET = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|\burl\s*:\s*["']([^"']+)["']""")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(object(), {}))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_and_every_asset_they_reference_come_from_the_app(
    http: httpx.AsyncClient, page: str
) -> None:
    html = await http.get(page)
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assets = {a or b for a, b in ASSET.findall(html.text)}
    assert assets, html.text
    assert not [a for a in assets if "//" in a], f"{page} loads from another host: {assets}"
    kinds = set()
    for asset in assets:
        response = await http.get(asset)
        assert response.status_code == 200, (asset, response.status_code)
        assert response.content, asset
        kinds.add(asset.rsplit(".", 1)[-1])
    assert "json" in kinds  # the OpenAPI document itself
    assert "js" in kinds
