"""`GET /docs`: Swagger UI from the package (no network), behind the API's credentials, in a real Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from tests.support.browser import CHROMIUM, chromium
from tests.support.cloud_daemon import API_KEY, cloud_daemon

RENDERED = """new Promise((resolve) => {
  const started = Date.now();
  const look = () => {
    const operations = document.querySelectorAll('.opblock').length;
    if (operations > 0 || Date.now() - started > 20000) {
      resolve(JSON.stringify({operations, title: document.querySelector('.title')?.textContent || '',
                              shown: [...document.querySelectorAll('.opblock-summary')].map(e =>
                                e.querySelector('.opblock-summary-method').textContent.toLowerCase() + ' ' +
                                e.querySelector('.opblock-summary-path').textContent.replace(/\u200b/g, ''))}));
    } else { setTimeout(look, 50); }
  };
  look();
})"""


async def test_docs_need_credentials_and_serve_only_their_files(tmp_path: Path) -> None:
    async with cloud_daemon(tmp_path) as rig, aiohttp.ClientSession() as http:
        async with http.get(f"{rig.url}/docs") as response:
            assert response.status == 401 and "Basic" in response.headers["WWW-Authenticate"]
        headers = {"x-api-key": API_KEY}
        async with http.get(f"{rig.url}/docs", headers=headers) as response:
            assert response.status == 200 and "/docs/swagger-ui-bundle.js" in await response.text()
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        async with http.get(f"{rig.url}/docs/swagger-ui-bundle.js", headers=headers) as response:
            assert response.status == 200 and len(await response.read()) > 500_000
        for name in ("index.j2", "..%2Fopenapi_contract.json", "swagger-ui.js.map"):
            async with http.get(f"{rig.url}/docs/{name}", headers=headers) as response:
                assert response.status == 404, name


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
async def test_docs_render_every_operation_in_a_real_browser(tmp_path: Path) -> None:
    async with cloud_daemon(tmp_path) as rig:
        async with rig.http.get(f"{rig.url}/api/openapi.json", headers={"x-api-key": API_KEY}) as response:
            spec = await response.json()
        methods = {"get", "put", "post", "delete", "patch", "head", "options"}
        operations = {f"{method} {path}" for path, item in spec["paths"].items()
                      for method in item if method in methods}
        url = rig.url.replace("http://", f"http://admin:{API_KEY}@") + "/docs"
        async with chromium(tmp_path / "profile") as browser:
            shown = json.loads(await browser.measure(url, RENDERED, width=1280))
    assert set(shown["shown"]) == operations, sorted(operations ^ set(shown["shown"]))
    assert "whatshooked" in shown["title"].lower()
