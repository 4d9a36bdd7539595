"""No secret leaks: `whatshooked serve` with every kind of secret configured, driven through its main paths.

API reads and writes, Meta's webhook handshake and signed POSTs, sends Meta refuses and accepts, wrong
and right credentials of every kind — then none of the configured secrets (nor the forms they take on
the wire: a hook key's base64, a Basic token) may appear in the daemon's output, in any API answer,
or in an event body a hook received. The output is at DEBUG, in the text and the JSON format.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.support.graph_standin import GraphStandin, fixture
from tests.support.harness import until
from tests.support.process import ServeProcess, free_port
from tests.support.receiver import HookReceiver, Received, Reply
from whatshooked.delivery.signing import decode_secret, verify

PHONE_NUMBER_ID = "106540352242922"
WEBHOOK_PATH = "/webhooks/whatsapp/shop"
MESSAGE_TYPES = {"message.received", "message.failed", "message.sent"}


@dataclass(frozen=True)
class Secrets:
    """One fresh, distinctive value per kind of secret (the password holds JSON-escaped characters)."""

    api_key: str
    username: str
    password: str
    access_token: str
    app_secret: str
    verify_token: str
    hook_secret: str  # whsec_…, of the hook in the file
    hook_token: str  # sent in that hook's custom header
    added_secret: str  # of the hook added through the API
    added_token: str
    refused_secret: str  # offered for a hook and refused (not base64): still the user's secret

    @classmethod
    def fresh(cls) -> Secrets:
        def whsec() -> str:
            return "whsec_" + base64.b64encode(os.urandom(24)).decode()

        return cls(
            api_key=f"apikey-{secrets.token_urlsafe(24)}", username="operator",
            password=f'pw-{secrets.token_hex(12)}"\\é', access_token=f"EAAG{secrets.token_hex(24)}",
            app_secret=secrets.token_hex(16), verify_token=f"verify-{secrets.token_urlsafe(18)}",
            hook_secret=whsec(), hook_token=f"hooktok-{secrets.token_urlsafe(18)}",
            added_secret=whsec(), added_token=f"addtok-{secrets.token_urlsafe(18)}",
            refused_secret=f"whsec_{secrets.token_hex(12)}*!",
        )

    def basic(self, user: str, password: str) -> str:
        return base64.b64encode(f"{user}:{password}".encode()).decode()

    def forms(self) -> dict[str, str]:
        """Every value that must never be shown, by a name for the failure message."""
        values = {name: value for name, value in self.__dict__.items() if name != "username"}
        values["hook_secret key"] = self.hook_secret.removeprefix("whsec_")
        values["added_secret key"] = self.added_secret.removeprefix("whsec_")
        values["basic token"] = self.basic(self.username, self.password)
        values["basic token with the api key"] = self.basic("anyone", self.api_key)
        values["bearer header"] = f"Bearer {self.access_token}"
        return values


def config_text(tmp_path: Path, port: int, graph: str, hook: str, s: Secrets, fmt: str) -> str:
    """Hooks: `rx` (signed, a token header) and `down` (nothing listens: its events stay in the cache)."""
    return yaml.safe_dump({
        "server": {"host": "127.0.0.1", "port": port, "api_key": s.api_key, "username": s.username,
                   "password": s.password},
        "storage": {"path": str(tmp_path / "state.db")},
        "media": {"dir": str(tmp_path / "media")},
        "delivery": {"timeout": "5s", "retry": ["100ms"]},
        "logging": {"level": "debug", "format": fmt},
        "hooks": [
            {"id": "rx", "url": hook, "headers": {"X-Auth-Token": s.hook_token}, "secret": s.hook_secret},
            {"id": "down", "url": f"http://127.0.0.1:{free_port()}/hook", "events": ["message.received"],
             "headers": {"X-Api-Key": s.hook_token}},
        ],
        "accounts": [{"id": "shop", "type": "business-api", "phone_number": "+15550783881", "business_api": {
            "phone_number_id": PHONE_NUMBER_ID, "waba_id": "102290129340398", "graph_url": graph,
            "access_token": s.access_token, "app_secret": s.app_secret, "verify_token": s.verify_token,
        }}],
    }, allow_unicode=True, sort_keys=False)


class Api:
    """Calls the daemon and keeps every answer (status, headers, body) for the leak check."""

    def __init__(self, http: aiohttp.ClientSession, url: str, api_key: str) -> None:
        self.http, self.url, self.api_key = http, url, api_key
        self.answers: list[str] = []

    async def call(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                   **kwargs: Any) -> tuple[int, str]:
        if headers is None:
            headers = {"x-api-key": self.api_key}
        async with self.http.request(method, self.url + path, headers=headers, **kwargs) as response:
            text = await response.text()
            self.answers.append(f"{method} {path} -> {response.status} {dict(response.headers)}\n{text}")
            return response.status, text

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        status, text = await self.call(method, path, **kwargs)
        assert 200 <= status < 300, f"{method} {path}: {status} {text}"
        return json.loads(text) if text[:1] in "[{" else text

    async def state(self) -> str:
        (shop,) = await self.ok("GET", "/api/accounts/status")
        return str(shop["state"])


def meta_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def header(request: Received, name: str) -> str:
    return next((v for k, v in request.headers.items() if k.lower() == name.lower()), "")


def delivered(receiver: HookReceiver, path: str) -> list[Received]:
    return [r for r in receiver.requests if r.path == path]


def leaks(text: str, forms: dict[str, str]) -> list[str]:
    found = []
    for name, value in forms.items():
        at = text.find(value)
        if at >= 0:
            found.append(f"{name} in …{text[max(0, at - 120):at + len(value) + 40]!r}…")
    return found


async def drive(api: Api, serve: ServeProcess, s: Secrets, graph: GraphStandin, receiver: HookReceiver) -> None:
    """The main paths, each checked for working (a leak check of a broken run would prove nothing)."""
    await until(lambda: _connected(api), within=10)

    # reads, with every kind of credential
    hooks = await api.ok("GET", "/api/hooks")
    assert hooks[0]["secret"] == "***" and hooks[0]["headers"] == {"X-Auth-Token": "***"}
    assert hooks[1]["headers"] == {"X-Api-Key": "***"}
    accounts = await api.ok("GET", "/api/accounts")
    assert {accounts[0]["business_api"][k] for k in ("access_token", "app_secret", "verify_token")} == {"***"}
    for path in ("/api/accounts/status", "/api/cache", "/api/cache/stats", "/api/openapi.json", "/health"):
        await api.ok("GET", path)
    await api.ok("GET", "/metrics", headers={"Authorization": f"Bearer {s.api_key}"})
    await api.ok("GET", "/api/hooks", headers={"Authorization": "Basic " + s.basic(s.username, s.password)})
    await api.ok("GET", "/api/accounts", headers={"Authorization": "Basic " + s.basic("anyone", s.api_key)})
    for wrong in ({"x-api-key": "not-the-key"}, {"Authorization": "Bearer not-the-key"}, {},
                  {"Authorization": "Basic " + s.basic(s.username, "wrong-password")}):
        assert (await api.call("GET", "/api/hooks", headers=wrong))[0] == 401
    assert (await api.call("GET", "/metrics", headers={"x-api-key": "not-the-key"}))[0] == 401

    # writes: a hook whose secret is refused (the answer must not echo it), a hook with its own secrets,
    # and the account updated with its secrets sent back as "***" (the file keeps the real ones)
    status, text = await api.call("POST", "/api/hooks/add", json={"id": "bad", "url": receiver.url,
                                                                 "secret": s.refused_secret})
    assert status == 400 and "secret" in text, (status, text)
    added_url = receiver.url + "/added"
    await api.ok("POST", "/api/hooks/add", json={"id": "added", "url": added_url, "secret": s.added_secret,
                                                 "headers": {"Authorization": f"Bearer {s.added_token}"}})
    checks_before = len(graph.graph_requests("GET", PHONE_NUMBER_ID))
    await api.ok("POST", "/api/accounts/update", json={"id": "shop", "phone_number": "+15550783882", "business_api": {
        "access_token": "***", "app_secret": "***", "verify_token": "***"}})
    config = serve.config
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    business = raw["accounts"][0]["business_api"]
    assert (business["access_token"], business["app_secret"], business["verify_token"]) == (
        s.access_token, s.app_secret, s.verify_token)
    assert raw["accounts"][0]["phone_number"] == "+15550783882"
    assert [h.get("secret") for h in raw["hooks"]] == [s.hook_secret, None, s.added_secret]
    assert raw["server"]["password"] == s.password and "***" not in config.read_text(encoding="utf-8")
    for written in (config, config.with_name(config.name + ".bak")):
        assert stat.S_IMODE(written.stat().st_mode) == 0o600, written
    await until(lambda: len(graph.graph_requests("GET", PHONE_NUMBER_ID)) > checks_before, within=10)
    await until(lambda: _connected(api), within=10)

    # SIGHUP: the file the API wrote is read back (and the scrubber given its secrets again)
    serve.send(signal.SIGHUP)
    await until(lambda: "config reloaded" in serve.output(), within=10)

    # Meta's handshake, wrong token then right
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    assert (await api.call("GET", WEBHOOK_PATH, headers={}, params={**query, "hub.verify_token": "nope"}))[0] == 403
    assert await api.ok("GET", WEBHOOK_PATH, headers={}, params={**query, "hub.verify_token": s.verify_token}) \
        == "1158201444"

    # Meta's POSTs: a forged signature, then a signed message (twice: the repeat is dropped, at DEBUG).
    # The first delivery fails with an answer echoing a credential, as some error pages do; it is retried.
    receiver.reply(Reply(status=500, body=f"upstream error; request had X-Auth-Token: {s.hook_token}"))
    body = json.dumps(fixture("message_text.json")).encode()
    forged = {"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(body, "not-the-secret")}
    assert (await api.call("POST", WEBHOOK_PATH, headers=forged, data=body))[0] == 401
    signed = {"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(body, s.app_secret)}
    for _ in range(2):
        await api.ok("POST", WEBHOOK_PATH, headers=signed, data=body)

    # sends: one Meta refuses, one it accepts
    graph.answer("POST", f"{PHONE_NUMBER_ID}/messages", fixture("error_response_100_invalid_parameter.json"),
                 status=400)
    send = {"account_id": "shop", "to": "+15551234567", "text": "hello"}
    status, text = await api.call("POST", "/api/send", json=send, headers={"x-api-key": s.api_key})
    assert status == 500 and "Invalid parameter" in text, (status, text)
    assert (await api.ok("POST", "/api/send", json=send))["message_id"].startswith("wamid.")
    assert {r.headers.get("Authorization") for r in graph.requests} == {f"Bearer {s.access_token}"}

    # every message event reaches both hooks, signed with each one's own key and carrying its header
    def types(path: str) -> set[str]:
        return {r.json()["type"] for r in delivered(receiver, path)}

    await until(lambda: MESSAGE_TYPES <= types("/hook") and MESSAGE_TYPES <= types("/hook/added"), within=10)
    for path, secret, name, value in (("/hook", s.hook_secret, "X-Auth-Token", s.hook_token),
                                      ("/hook/added", s.added_secret, "Authorization", f"Bearer {s.added_token}")):
        for request in delivered(receiver, path):
            assert header(request, name) == value
            assert verify(decode_secret(secret), header(request, "webhook-id"),
                          int(header(request, "webhook-timestamp")), request.body,
                          header(request, "webhook-signature")), request.headers

    # and the reads once more, now that there is something to show (`down` keeps its event cached)
    for path in ("/api/hooks", "/api/accounts", "/api/accounts/status", "/api/cache/stats", "/metrics"):
        await api.ok("GET", path)
    cached = await api.ok("GET", "/api/cache")
    # (hook.failing / hook.recovered about rx, raised to the other hooks, may still be on their way)
    kinds = {e["event"]["type"] for e in cached["cached_events"]} - {"hook.failing", "hook.recovered"}
    assert kinds == {"message.received"}, cached


async def _connected(api: Api) -> bool:
    return await api.state() == "connected"


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_a_full_run_leaves_no_secret_in_logs_or_answers(tmp_path: Path, receiver: HookReceiver,
                                                               fmt: str) -> None:
    s = Secrets.fresh()
    graph = GraphStandin(s.access_token)
    await graph.start()
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(config_text(tmp_path, port, graph.url, receiver.url, s, fmt), encoding="utf-8")
    serve = ServeProcess(config, port)
    try:
        await serve.start()
        await serve.healthy()
        async with aiohttp.ClientSession() as http:
            api = Api(http, serve.url, s.api_key)
            await drive(api, serve, s, graph, receiver)
        serve.send(signal.SIGTERM)
        assert await serve.wait(10) == 0, serve.output()
    finally:
        await serve.stop()
        await graph.close()

    output = serve.stdout.read_text(encoding="utf-8") + serve.stderr.read_text(encoding="utf-8")
    lines = output.splitlines()
    assert len(lines) > 5, output
    if fmt == "json":
        entries = [json.loads(line) for line in lines]  # every line is one JSON object
        assert {"DEBUG", "INFO", "WARNING"} <= {e["level"] for e in entries}, output
    else:
        assert all(f" {level} " in output for level in ("DEBUG", "INFO", "WARNING")), output
    assert "Traceback" not in output, output
    assert "attempt 1 failed (HTTP 500)" in output, output

    forms = s.forms()
    assert not leaks(output, forms), "\n".join(leaks(output, forms))
    for answer in api.answers:
        assert not leaks(answer, forms), "\n".join(leaks(answer, forms))
    for request in receiver.requests:
        assert not leaks(request.body.decode(), forms), "\n".join(leaks(request.body.decode(), forms))
