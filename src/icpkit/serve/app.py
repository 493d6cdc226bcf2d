"""The HTTP API: FastAPI routes over the live scorer, bearer tokens, limits and metrics.

Every answer is JSON (``/metrics`` is Prometheus text); every error is a JSON object with
an ``error`` sentence, and 422 lists each problem with its field path. Nothing the server
meets is answered with a stack trace, and a token never appears in an answer or a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from icpkit.crm.base import Connector
from icpkit.errors import IcpkitError
from icpkit.icp.model import dump_icp
from icpkit.serve.batching import Batcher
from icpkit.serve.drain import Connectors, Drain, written_fields
from icpkit.serve.live import Live, Source
from icpkit.serve.metrics import Metrics
from icpkit.serve.named import NamedScorers, unknown_reason
from icpkit.serve.queue import Queue
from icpkit.serve.scorer import Account
from icpkit.serve.tokens import Scope
from icpkit.serve.webhooks import WEBHOOK_PATHS, webhook_routes

log = logging.getLogger("icpkit.serve")

ROUTES = (
    "/v1/score",
    "/v1/icp",
    "/v1/icp/versions",
    "/healthz",
    "/metrics",
    "/docs",
    "/openapi.json",
    "/v1/webhooks/hubspot",
    "/v1/webhooks/salesforce",
    "/v1/webhooks/queue",
    "/v1/webhooks/queue/retry",
)
MAX_ROWS_PER_QUERY = 2000  # accounts of gathered requests scored in one query at most

Scope_ = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope_, Receive, Send], Awaitable[None]]


class Signal(BaseModel):
    """A dated event of the account: its type (``funding_round``, ``job_posting``, ...), detail
    (``Series B``, ``SDR``) and day."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=200)
    detail: str | None = Field(None, max_length=2000)
    day: dt.date


class AccountIn(BaseModel):
    """One account in the scorecard's input layout. Numbers may be written as text
    (``"51-200"``, ``"$5M"``), countries and industries as any name the ingest reads; other
    fields are the ICP's unmapped columns (``Time Zone``) and research answers
    (``answer_<key>``), and are ignored when the ICP reads none of them."""

    model_config = ConfigDict(extra="allow")

    account_key: str | None = Field(None, max_length=500)
    domain: str | None = Field(None, max_length=500)
    name: str | None = Field(None, max_length=500)
    employees: int | float | str | None = None
    revenue: int | float | str | None = None
    industry: str | None = Field(None, max_length=500)
    country: str | None = Field(None, max_length=200)
    technologies: list[str] | str | None = None
    founded_year: int | str | None = None
    funding_stage: str | None = Field(None, max_length=200)
    total_funding: int | float | str | None = None
    signals: list[Signal] = Field(default_factory=list)


class Batch(BaseModel):
    """Several accounts scored at once (at most ``serve.max_batch``)."""

    model_config = ConfigDict(extra="forbid")

    accounts: list[AccountIn] = Field(min_length=1)


_ACCOUNT = TypeAdapter(AccountIn)
_BATCH = TypeAdapter(Batch)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8"),
        status,
        headers,
        media_type="application/json",
    )


def _error(status: int, message: str, **more: Any) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return _json({"error": message, **more}, status, headers)


def _path(loc: tuple[Any, ...]) -> str:
    """A pydantic location as a field path: ``accounts.0.signals.1.day``."""
    return ".".join(str(p) for p in loc if p not in ("body",)) or "body"


_KINDS = {"int": "an integer", "float": "a number", "str": "text", "list[str]": "a list of text"}
"""The members of a field's union, as pydantic names them in a location, in words."""


def _problems(exc: ValidationError | RequestValidationError) -> list[dict[str, str]]:
    """One problem per field path (a union's failed members said once, in words); never
    the value sent, only where and what."""
    found: dict[str, list[str]] = {}
    kinds: dict[str, list[str]] = {}
    for e in exc.errors():
        loc = tuple(e["loc"])
        if loc and loc[-1] in _KINDS:
            kinds.setdefault(_path(loc[:-1]), []).append(_KINDS[str(loc[-1])])
        else:
            found.setdefault(_path(loc), []).append(str(e["msg"]))
    for path, words in kinds.items():
        shown = ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]
        found.setdefault(path, []).append(f"Input should be {shown}")
    return [{"path": path, "message": "; ".join(msgs)} for path, msgs in found.items()]


class _TooLarge(IcpkitError):
    """The body grew past ``serve.max_body_bytes`` while it arrived (answered 413)."""


class Guard:
    """The outer ring of the app: the body size limit (413), request metrics, and the last
    word on anything that went wrong (a JSON 500, one log line, no stack trace)."""

    def __init__(self, app: ASGIApp, limit: Callable[[], int], metrics: Metrics) -> None:
        self.app = app
        self.limit = limit
        self.metrics = metrics

    async def __call__(self, scope: Scope_, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope.get("path", "")
        route = path if path in ROUTES else "other"
        method = scope.get("method", "")
        state = {"status": 500, "started": False}
        limit = self.limit()

        async def answer(response: Response) -> None:
            await response(scope, receive, sender)

        async def sender(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
            await send(message)

        try:
            length = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
            if length is not None and (not length.isdigit() or int(length) > limit):
                await answer(
                    _error(413, f"request body over {limit:,} bytes (serve.max_body_bytes)")
                )
                return
            seen = 0

            async def counted() -> Message:
                nonlocal seen
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > limit:
                        raise _TooLarge
                return message

            await self.app(scope, counted, sender)
        except _TooLarge:
            if not state["started"]:
                await answer(
                    _error(413, f"request body over {limit:,} bytes (serve.max_body_bytes)")
                )
        except Exception as exc:
            log.error("%s %s failed: %s", method, route, type(exc).__name__)
            if not state["started"]:
                await answer(_error(500, "internal error; the server log names it"))
        finally:
            status = int(state["status"])
            self.metrics.observe(method, route, status, time.perf_counter() - start)


def _endpoint(handler: Callable[[Request], Awaitable[Response]]) -> ASGIApp:
    """``handler`` as a bare ASGI application."""

    async def endpoint(scope: Scope_, receive: Receive, send: Send) -> None:
        response = await handler(Request(scope, receive))
        await response(scope, receive, send)

    return endpoint


class ScoreFirst:
    """``POST /v1/score`` straight to its handler inside the :class:`Guard`, every other
    request to the FastAPI application. The framework's own layers (its telemetry, body
    limit, exception and routing middleware) cost about 0.05 ms of CPU a request, a fifth
    of a single account's whole answer (bench/serve.py); the FastAPI route of the same path
    stays for the OpenAPI description and any other method."""

    def __init__(self, app: ASGIApp, score: ASGIApp) -> None:
        self.app = app
        self.score = score

    async def __call__(self, scope: Scope_, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/score" and scope["method"] == "POST":
            await self.score(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _account(a: AccountIn) -> Account:
    """A validated account as the scorer takes it: layout values, other fields, signals."""
    values = a.model_dump(exclude={"signals"}, exclude_none=False)
    extras = dict(a.model_extra or {})
    for name in extras:
        values.pop(name, None)
    signals = [(s.type, s.detail, s.day) for s in a.signals]
    return Account(values, extras, signals)


def _crm_connector(name: str) -> Connector:
    """The connector of CRM ``name`` the webhook drain writes back through (its credentials
    from the environment or the secrets file)."""
    from icpkit.crm.connectors import connector

    return connector(name)


def _shadows(source: Source) -> Any:
    """The shadow scoring of ``source``'s workspace (see icpkit.serve.shadow)."""
    from icpkit.serve.shadow import Shadows

    return Shadows(source.root, source.store)


def create_app(source: Source, connectors: Connectors | None = None) -> Any:
    """The ASGI application serving ``source`` (FastAPI inside the size limit and metrics);
    webhook scores are written back through ``connectors`` (default: the CRM's connector
    made from the environment's credentials)."""
    metrics = Metrics()
    held: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        live = await loop.run_in_executor(None, Live, source, metrics.reloaded)
        batcher = Batcher(lambda: live.scorer, MAX_ROWS_PER_QUERY, metrics.batched)
        batcher.start()
        watcher = loop.create_task(live.watch(lambda old, new: batcher.retire(old)))
        queue = await loop.run_in_executor(None, Queue.of, source.root)
        drain = Drain(
            queue,
            batcher.score,
            connectors or _crm_connector,
            lambda: live.settings.serve.webhooks,
            sync_root=source.root,
        )
        drain.start()
        held.update(live=live, batcher=batcher, queue=queue, drain=drain)
        log.info("scoring with ICP version %s", live.scorer.version)
        try:
            yield
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            await drain.stop()
            if "shadows" in held:
                held["shadows"].close()
            if "named" in held:
                held["named"].close()
            queue.close()
            await batcher.stop()
            live.close()

    app = FastAPI(
        title="icpkit scoring API",
        version="1",
        summary="Score accounts with the ICP in force: fit, intent, tier, route and reasons.",
        lifespan=lifespan,
    )

    def live() -> Live:
        return held["live"]  # type: ignore[no-any-return]

    made = asyncio.Lock()

    async def shadows() -> Any:
        """The candidate versions' scorers, made on the first request that asks for one
        (their imports off the event loop, so the server starts as fast without them)."""
        async with made:
            if "shadows" not in held:
                loop = asyncio.get_running_loop()
                held["shadows"] = await loop.run_in_executor(None, _shadows, source)
        return held["shadows"]

    async def named_scorers() -> Any:
        """The scorers of named ICPs alone, made on the first request with ``icp``."""
        async with made:
            if "named" not in held:
                held["named"] = NamedScorers(source.store)
        return held["named"]

    def denied(request: Request, scope: Scope) -> Response | None:
        header = request.headers.get("authorization", "")
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            return _error(401, "a bearer token is required (icp token create --name NAME)")
        record = live().check(token.strip())
        if record is None:
            return _error(401, "the token is not valid (unknown, mistyped or revoked)")
        if not record.allows(scope):
            return _error(403, f"the token {record.name!r} may only read, not {scope}")
        return None

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return _error(422, "the request is not valid", problems=_problems(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, str(exc.detail))

    account_schema = AccountIn.model_json_schema(ref_template="#/components/schemas/{model}")
    batch_schema = Batch.model_json_schema(ref_template="#/components/schemas/{model}")
    security: list[dict[str, list[str]]] = [{"bearerAuth": []}]

    async def score(request: Request) -> Response:
        """POST /v1/score: one account (an object) or a batch (``{"accounts": [...]}``)
        scored as of ``as_of`` (default: today) with the ICP in force (with ``icp``, the
        named ICP of that name alone)."""
        if (refused := denied(request, "score")) is not None:
            return refused
        day = dt.date.today()
        if (asked := request.query_params.get("as_of")) is not None:
            try:
                day = dt.date.fromisoformat(asked)
            except ValueError:
                problem = {"path": "query.as_of", "message": "Input should be a day, YYYY-MM-DD"}
                return _error(422, "the request is not valid", problems=[problem])
        shadow: int | None = None
        if (wanted := request.query_params.get("shadow")) is not None:
            try:
                shadow = int(wanted)
            except ValueError:
                problem = {"path": "query.shadow", "message": "Input should be a version number"}
                return _error(422, "the request is not valid", problems=[problem])
        alone = request.query_params.get("icp")
        if alone is not None:
            why = (
                "shadow compares versions of the main ICP; score a named ICP without it"
                if shadow is not None
                else unknown_reason(alone, live().scorer)
            )
            if why is not None:
                return _error(422, why, problems=[{"path": "query.icp", "message": why}])
        body = await request.body()
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            where = (
                f" (line {exc.lineno}, column {exc.colno})"
                if isinstance(exc, json.JSONDecodeError)
                else ""
            )
            return _error(
                422,
                f"the body is not JSON{where}",
                problems=[{"path": "body", "message": "not JSON"}],
            )
        single = not (isinstance(data, dict) and "accounts" in data)
        try:
            if single:
                accounts = [_ACCOUNT.validate_python(data)]
            else:
                accounts = _BATCH.validate_python(data).accounts
        except ValidationError as exc:
            return _error(422, "the request is not valid", problems=_problems(exc))
        most = live().settings.serve.max_batch
        if len(accounts) > most:
            return _error(
                422,
                f"{len(accounts):,} accounts in one request; at most {most:,} (serve.max_batch)",
                problems=[{"path": "accounts", "message": f"at most {most} items"}],
            )
        given = [_account(a) for a in accounts]
        try:
            if alone is None:
                rows = await held["batcher"].score(given, day)
            else:
                rows = await (await named_scorers()).score(alone, live().scorer, given, day)
        except LookupError as exc:  # the named ICP went away in a reload meanwhile
            return _error(422, str(exc), problems=[{"path": "query.icp", "message": str(exc)}])
        except Exception as exc:
            log.error("POST /v1/score failed: %s", type(exc).__name__)
            return _error(500, "scoring failed; the server log names the error")
        if shadow is not None:
            # Opt-in per request: the candidate version scores the same accounts beside.
            try:
                refused = await (await shadows()).score(shadow, live().scorer, given, rows, day)
            except Exception as exc:
                log.error("POST /v1/score?shadow failed: %s", type(exc).__name__)
                return _error(500, "shadow scoring failed; the server log names the error")
            if refused is not None:
                problem = {"path": "query.shadow", "message": refused}
                return _error(422, refused, problems=[problem])
        metrics.scored(len(rows))
        for row in rows:
            row["as_of"] = day.isoformat()
        if single:
            return _json(rows[0])
        batch: dict[str, Any] = {"icp_version": rows[0]["icp_version"], "as_of": day.isoformat()}
        if alone is not None:
            batch = {"icp": alone, **batch}
        if shadow is not None:
            batch["shadow_version"] = shadow
        return _json({**batch, "accounts": rows})

    @app.post(
        "/v1/score",
        summary="Score one account, or a batch of them",
        openapi_extra={
            "security": security,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/AccountIn"},
                                {"$ref": "#/components/schemas/Batch"},
                            ]
                        }
                    }
                },
            },
        },
    )
    async def documented_score(
        request: Request,
        as_of: dt.date | None = None,
        shadow: int | None = None,
        icp: str | None = None,
    ) -> Response:
        """One account (an object) or a batch (``{"accounts": [...]}``), scored as of
        ``as_of`` (default: today) with the ICP in force: fit, intent, sub-scores, tier,
        route, win probability, reasons, the ICP version and the values not read. With
        named ICPs derived, each account also carries ``best_icp`` and ``icps`` (each named
        ICP's fit, tier, route, win probability and version). With ``icp`` (a named ICP)
        that ICP alone scores them. With ``shadow`` (a saved version) that version scores
        them too (``shadow_`` fields) and both scores are recorded for ``icp monitor
        --shadow``."""
        return await score(request)

    # POST /v1/score itself is answered by ``score`` before FastAPI (see ScoreFirst): its
    # parameter solving and middleware cost more CPU than scoring one account; the route
    # above stays for the OpenAPI description.

    @app.get("/v1/icp", summary="The ICP in force", openapi_extra={"security": security})
    async def icp(request: Request) -> Response:
        """The ICP the server scores with, as JSON (the ``icp:`` section of icp.yaml), its
        version, and the account fields it reads."""
        if (refused := denied(request, "read")) is not None:
            return refused
        scorer = live().scorer
        reads = [c for c in scorer.layout if c != "account_key"] + list(scorer.extras)
        return _json({"version": scorer.version, "reads": reads, "icp": dump_icp(scorer.icp)})

    @app.get(
        "/v1/icp/versions", summary="The saved ICP versions", openapi_extra={"security": security}
    )
    async def versions(request: Request) -> Response:
        """Every saved version: number, when derived, rules per list, data fingerprint."""
        if (refused := denied(request, "read")) is not None:
            return refused
        loop = asyncio.get_running_loop()
        saved = await loop.run_in_executor(None, source.versions)
        return _json({"current": live().scorer.version, "versions": saved})

    @app.get("/healthz", summary="Whether the server answers (no token needed)")
    async def healthz() -> Response:
        """``ok`` and the ICP version in force."""
        return _json({"status": "ok", "icp_version": live().scorer.version})

    @app.get("/metrics", summary="Prometheus metrics", openapi_extra={"security": security})
    async def prometheus(request: Request) -> Response:
        """Requests by route and status, latency, accounts scored, reloads, ICP version."""
        if (refused := denied(request, "read")) is not None:
            return refused
        return Response(
            metrics.render(live().scorer.version),
            media_type="text/plain; version=0.0.4; charset=utf-8",
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            components = schema.setdefault("components", {})
            schemas = components.setdefault("schemas", {})
            for part in (account_schema, batch_schema):
                schemas.update(part.pop("$defs", {}))
            schemas["AccountIn"] = account_schema
            schemas["Batch"] = batch_schema
            components["securitySchemes"] = {"bearerAuth": {"type": "http", "scheme": "bearer"}}
            schema.setdefault("paths", {}).update(WEBHOOK_PATHS)
            app.openapi_schema = schema
        return app.openapi_schema

    app.router.routes.extend(
        webhook_routes(
            lambda: held["queue"],
            lambda: live().settings.serve.webhooks,
            written_fields(),
            lambda: held["drain"].wake(),
            denied,
        )
    )

    app.openapi = openapi  # type: ignore[method-assign]

    def limit() -> int:
        return held["live"].settings.serve.max_body_bytes if "live" in held else 2_000_000

    app.add_middleware(Guard, limit=limit, metrics=metrics)  # type: ignore[arg-type]
    return ScoreFirst(app, Guard(_endpoint(score), limit, metrics))
