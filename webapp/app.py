"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import structlog
from litestar import Litestar, Request, Response, post
from litestar.config.compression import CompressionConfig
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import State
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.logging.config import StructLoggingConfig
from litestar.middleware import DefineMiddleware
from litestar.middleware.logging import LoggingMiddlewareConfig
from litestar.plugins.structlog import StructlogConfig, StructlogPlugin
from litestar.response import Redirect
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig
from psycopg_pool import PoolTimeout
from redis.asyncio import BlockingConnectionPool, Redis

from core.db.pool import make_async_pool
from core.security import SecretBox
from core.settings import PROJECT_ROOT, Settings, load_settings
from webapp.assets import load_manifest
from webapp.auth import SESSION_COOKIE, IssuedSessionConfig, SessionCsrfMiddleware, signed_in_supplier_id
from webapp.cache import NOTHING, HotCache, bump_after_write_middleware
from webapp.cache.guard import RedisGuard
from webapp.cache.mirror import write_floor_front
from webapp.cache.sessions import FallbackStore
from webapp.dependencies import APP_DEPENDENCIES
from webapp.live import ProgressHub
from webapp.middleware import RefuseControlCharacters, security_headers_hook
from webapp.observability import LatencyWindow, forget_this_process, serve_metrics, watch_event_loop
from webapp.reads.studio import studio_of
from webapp.rendering import STUDIO_STATE, TEMPLATE_FILTERS, is_htmx, page
from webapp.routes import accounts, book, calendar, dashboard, export, health, more, operator, outbox, pwa
from webapp.routes.clients import ClientController, list_front
from webapp.routes.imports import MAX_UPLOAD_BYTES, ImportController
from webapp.routes.integrations import IntegrationController
from webapp.routes.jobs import JobController
from webapp.routes.merge import MergeController
from webapp.routes.progress import ProgressController, events_front, status_renderer
from webapp.routes.push import PushController, show_push_key
from webapp.routes.settings import SettingsController
from webapp.routes.webhooks import receive_honeybook
from webapp.state import Resources

SESSION_MAX_AGE_S = 30 * 24 * 3600  # photographers stay signed in on their phone for a month
GC_YOUNG_THRESHOLD = 50_000  # allocations between young collections (CPython's default: 700); see lifespan


def _error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, NotAuthorizedException):
        if is_htmx(request):
            return Response("", status_code=401, headers={"HX-Redirect": "/login"})
        return Redirect("/login")
    if isinstance(exc, HTTPException):
        status, detail = exc.status_code, exc.detail
        if isinstance(exc, PermissionDeniedException) and "CSRF" in detail:
            detail = "This form had expired. Reload the page and try again."
        elif isinstance(exc, NotFoundException):
            detail = detail if detail and detail != "Not Found" else "We couldn't find that page."
        headers = dict(exc.headers or {})
    elif isinstance(exc, psycopg.OperationalError | PoolTimeout):
        # PostgreSQL is down or every connection is busy for longer than a page should wait: a page that says so
        # (and when to try), not "something went wrong". The pool reconnects by itself when it is back.
        structlog.get_logger("wedsync").warning("database unavailable", path=request.url.path, error=type(exc).__name__)
        status, detail = (
            HTTP_503_SERVICE_UNAVAILABLE,
            "WedSync can't reach its database right now. Try again in a minute.",
        )
        headers = {"retry-after": "30"}
    else:
        structlog.get_logger("wedsync").exception("unhandled error", path=request.url.path)
        status, detail, headers = HTTP_500_INTERNAL_SERVER_ERROR, "Something went wrong on our side.", {}
    if status == 429:
        detail = "Too many attempts. Wait a minute, then try again."
    elif status == 413:
        detail = (
            f"What you sent is bigger than we accept (files up to {MAX_UPLOAD_BYTES // 2**20} MB). "
            "Split it into smaller files and try again."
        )
    return page(request, "error.html", status_code=status, headers=headers, message=detail, status=status)


async def _load_studio(request: Request[Any, Any, Any]) -> None:
    """Every signed-in request knows its studio's settings before the handler renders anything (memory, mostly)."""
    supplier_id = signed_in_supplier_id(request)
    if supplier_id is not None and "resources" in request.app.state:
        request.state[STUDIO_STATE] = await studio_of(request.app.state["resources"], supplier_id)


def _template_engine(engine: JinjaTemplateEngine, assets: Any) -> None:
    # Templates change only with a deploy (a restart): Jinja need not stat every template file on every render. The
    # ETags and kept renderings already assume it (their build digest is taken once at start-up).
    engine.engine.auto_reload = False
    engine.engine.globals.update(asset=assets)
    engine.engine.filters.update(TEMPLATE_FILTERS)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("DATABASE_URL and REDIS_URL must be set (`wedsync run` sets them for embedded servers)")
    # A pool that waits for a free connection (redis-py's default fails at once past 100): thousands of SSE
    # streams share it for heartbeats and slot bookkeeping.
    redis_pool = BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=200, timeout=5, socket_timeout=5, socket_connect_timeout=2,
        health_check_interval=30,
    )  # fmt: skip
    redis = Redis(connection_pool=redis_pool)
    # One circuit breaker for the cache and the sessions: both degrade to memory + PostgreSQL when Redis is away.
    redis_guard = RedisGuard()
    pool = make_async_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        statement_timeout_ms=settings.statement_timeout_ms,
    )
    latency = LatencyWindow(redis, pool)  # per-route timings for the operator page's last hour
    sessions = FallbackStore(RedisStore(redis, namespace="wedsync:session"), redis_guard)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await pool.open(wait=True, timeout=30)
        await sessions.start(redis)  # sign-outs elsewhere reach this process's session copies
        hub = ProgressHub(redis, status_renderer(app.template_engine), sessions)
        await hub.start()
        cache = HotCache(redis, guard=redis_guard)
        await cache.start()
        app.state["resources"] = Resources(settings, pool, redis, SecretBox(settings.encryption_keys), hub, cache)
        # 5,000 SSE phones hold ~200,000 long-lived objects and a full garbage collection walks them all, stalling
        # every stream (0.1-0.5 s). What start-up built is kept out of every collection; young collections run
        # every 50,000 allocations, not 700: one event to 5,000 phones ran dozens, each promoting the phones'
        # waiters, and so brought on a full collection every few events.
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        loop_watch = asyncio.create_task(watch_event_loop(), name="event-loop-lag")
        try:
            yield
        finally:
            loop_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop_watch
            await cache.stop()
            await hub.stop()
            await sessions.stop()
            await pool.close()
            await redis.aclose()

    login = post(
        "/login",
        name="login",
        middleware=[accounts.login_rate_limit(settings.login_attempts_per_minute).middleware],
        opt={"cache_scope": (NOTHING,)},  # a team member signing in must not empty the studio's caches
    )(accounts.log_in)

    signup = post(
        "/signup",
        name="signup",
        middleware=[accounts.signup_rate_limit(settings.signup_attempts_per_minute).middleware],
    )(accounts.create_account)

    log_level = logging.getLevelNamesMapping().get(settings.log_level, logging.INFO)
    logging_config = StructLoggingConfig(
        log_exceptions="debug",
        # LOG_LEVEL=WARNING drops the two request/response lines per request (a busy server's biggest log cost).
        wrapper_class=structlog.make_filtering_bound_logger(log_level),
    )
    asset_manifest = load_manifest()  # content hashes of static/ and the service worker, once per process
    app = Litestar(
        route_handlers=[
            accounts.show_signup,
            signup,
            accounts.show_login,
            login,
            accounts.log_out,
            dashboard.show_dashboard,
            more.show_more,
            ClientController,
            IntegrationController,
            ImportController,
            JobController,
            MergeController,
            ProgressController,
            SettingsController,
            PushController,
            show_push_key,
            calendar.wedding_ics,
            calendar.weddings_by_month,
            calendar.calendar_feed,
            receive_honeybook,
            export.export_csv,
            export.export_ndjson,
            health.health,
            health.ready,
            serve_metrics,
            operator.show_operator,
            pwa.serve_static,
            pwa.serve_static_head,
            pwa.serve_service_worker,
            pwa.serve_service_worker_outbox,
            pwa.serve_service_worker_book,
            pwa.serve_web_app_manifest,
            pwa.show_offline,
            pwa.show_layout_shell,
            pwa.receive_share,
            outbox.show_outbox,
            outbox.show_outbox_list,
            book.book_changes,
        ],
        dependencies=APP_DEPENDENCIES,
        lifespan=[lifespan],
        before_send=[security_headers_hook(hsts=settings.cookie_secure)],
        before_request=_load_studio,
        on_shutdown=[forget_this_process],
        state=State({"assets": asset_manifest, "latency": latency}),
        stores={
            "sessions": sessions,
            "rate_limit": RedisStore(redis, namespace="wedsync:ratelimit"),
        },
        middleware=[
            DefineMiddleware(latency.middleware),  # request id, Prometheus and the latency window in one layer
            DefineMiddleware(bump_after_write_middleware),
            IssuedSessionConfig(
                max_age=SESSION_MAX_AGE_S,
                secure=settings.cookie_secure,
                httponly=True,
                samesite="lax",
                key=SESSION_COOKIE,
                exclude=["^/health", "^/metrics", "^/static"],
            ).middleware,
            SessionCsrfMiddleware(settings.secret_key),  # inside the session middleware: needs the session id
            RefuseControlCharacters(),
        ],
        compression_config=CompressionConfig(
            backend="gzip",
            minimum_size=500,
            gzip_compress_level=6,
            exclude=[r"/events$"],  # SSE must not be buffered
        ),
        template_config=TemplateConfig(
            directory=PROJECT_ROOT / "templates",
            engine=JinjaTemplateEngine,
            engine_callback=lambda jinja: _template_engine(jinja, asset_manifest.url),
        ),
        plugins=[
            StructlogPlugin(
                StructlogConfig(
                    structlog_logging_config=logging_config,
                    # Above INFO its lines are dropped anyway: then the layer (a Request, its headers and a send
                    # wrapper per request, ~2% of a cached page's CPU) is not added at all.
                    enable_middleware_logging=log_level <= logging.INFO,
                    # Paths, methods and status codes only: bodies, queries and cookies carry personal data and secrets.
                    middleware_logging_config=LoggingMiddlewareConfig(
                        request_log_fields=("path", "method"),
                        response_log_fields=["status_code"],
                        # Litestar logs a response line per body chunk: for an SSE stream, one per event per phone.
                        exclude=[r"/events$"],
                    ),
                )
            )
        ],
        exception_handlers={Exception: _error_handler},
        openapi_config=None,
        debug=False,
    )
    # SSE streams skip the per-route middleware stack (memory per phone, a call per event per phone): see
    # webapp.routes.progress.events_front, which does their auth, tenant check and headers itself.
    app.asgi_handler = events_front(app.asgi_handler)
    # A kept client-list fragment is answered before the route stack too: see webapp.routes.clients.list_front.
    app.asgi_handler = list_front(app.asgi_handler)
    # Outermost: a browser that has just written is answered at or after its write (webapp.cache.mirror).
    app.asgi_handler = write_floor_front(app.asgi_handler)
    return app
