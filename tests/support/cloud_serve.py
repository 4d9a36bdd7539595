"""The config of a real `whatshooked serve` child with one Cloud API account (`shop`) on a Graph stand-in."""

from __future__ import annotations

from pathlib import Path

PHONE_NUMBER_ID = "106540352242922"


def serve_config(tmp_path: Path, port: int, graph: str, hook: str | None = None, extra: str = "",
                 store: str = "state.db") -> str:
    """`extra` is more top-level YAML (delivery:, logging:, …); with `hook`, one hook `rx` gets every event."""
    hooks = f'hooks:\n  - {{id: rx, url: "{hook}"}}\n' if hook else ""
    return f"""
server: {{host: 127.0.0.1, port: {port}, api_key: crash-test-api-key}}
storage: {{path: {tmp_path / store}}}
media: {{dir: {tmp_path / "media"}}}
{extra}{hooks}accounts:
  - id: shop
    type: business-api
    business_api:
      phone_number_id: "{PHONE_NUMBER_ID}"
      access_token: test-token
      waba_id: "102290129340398"
      graph_url: {graph}
"""
