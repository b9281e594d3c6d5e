"""The aiohttp application: one pipeline for every wire's routes, plus the /_fake control endpoints.

Each API request is recorded, gets its faults, waits out its latency, is
authenticated, may be failed on purpose, and only then reaches the wire's handler.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from extproc.fake_provider import anthropic_wire, faults, gemini_wire, openai_wire, tokens
from extproc.fake_provider.config import FakeConfig
from extproc.fake_provider.recording import Recorder
from extproc.fake_provider.sending import ConnectionAborted
from extproc.fake_provider.wire import Call, Route, Wire, WireError

WIRES: tuple[Wire, ...] = (openai_wire.WIRE, anthropic_wire.WIRE, gemini_wire.WIRE)
# Largest request body accepted.
MAX_BODY_BYTES = 64 * 1024 * 1024


@dataclass(slots=True)
class State:
    """State is what the app's handlers share: settings, recordings and the failure RNG."""

    config: FakeConfig
    recorder: Recorder
    rng: random.Random


STATE = web.AppKey("fake_provider_state", State)


def create_app(config: FakeConfig) -> web.Application:
    """create_app builds the fake provider's aiohttp application."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[STATE] = State(config=config, recorder=Recorder(config.record_limit), rng=random.Random(config.seed))
    for wire in WIRES:
        for route in wire.routes:
            app.router.add_route(route.method, route.path, _endpoint(wire, route))
    app.router.add_get("/_fake/health", _health)
    app.router.add_get("/_fake/requests", _requests)
    app.router.add_delete("/_fake/requests", _clear_requests)
    app.on_startup.append(_load_tokenizer)
    return app


def _endpoint(wire: Wire, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of one wire route: the shared pipeline, then the route's handler."""
    handler = route.handler

    async def endpoint(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        raw = await request.read() if request.body_exists else b""
        body = _parse(raw)
        state.recorder.record(request.method, request.path, request.query, request.headers, raw, body)
        chosen = faults.resolve(request.headers, state.config, state.rng, _model(request, body))
        if chosen.latency_ms > 0:
            await asyncio.sleep(chosen.latency_ms / 1000)
        try:
            denied = wire.authenticate(request, state.config)
            if denied is not None:
                raise denied
            if chosen.status is not None:
                raise WireError(chosen.status)
            if not isinstance(body, dict):
                if route.needs_body:
                    raise WireError(400, wire.invalid_json)
                body = {}
            return await handler(Call(request=request, body=body, faults=chosen, config=state.config))
        except WireError as error:
            return wire.render_error(error)
        except ConnectionAborted as aborted:
            # The connection is gone; aiohttp only needs a response to finish the handler with.
            return aborted.response or web.Response(status=499)

    return endpoint


def _model(request: web.Request, body: Any) -> str:
    """The model a request asks for: in the body (OpenAI, Anthropic) or the path (Gemini)."""
    if isinstance(body, dict) and isinstance(model := body.get("model"), str):
        return model
    return request.match_info.get("model_method", "").split(":", 1)[0]


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"}, dumps=_dumps)


async def _requests(request: web.Request) -> web.Response:
    return web.json_response({"requests": request.app[STATE].recorder.entries()}, dumps=_dumps)


async def _clear_requests(request: web.Request) -> web.Response:
    request.app[STATE].recorder.clear()
    return web.json_response({"status": "cleared"}, dumps=_dumps)


async def _load_tokenizer(app: web.Application) -> None:
    # Loading takes most of a second: do it before the first request, off the event loop.
    await asyncio.get_running_loop().run_in_executor(None, tokens.encoding)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
