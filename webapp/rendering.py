"""One way to produce HTML: render a Jinja template to a string and wrap it in a Response.

Handlers render to strings (rather than returning Litestar ``Template`` objects) so that a response
can be stored verbatim for ``Idempotency-Key`` replays and so fragments and pages share one path.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import html
from typing import Any

import msgspec
from jinja2 import pass_context
from jinja2.runtime import Context
from litestar import Request, Response
from litestar.enums import MediaType
from litestar.utils.scope.state import ScopeState

from core import sources
from webapp.studio import DEFAULT_STUDIO, Part, PhoneLinks, Studio, phone_links, show_when

# How sources and job kinds read on screen.
SOURCE_LABELS = sources.SOURCE_LABELS
KIND_LABELS = {
    "file_import": "file import", "full_import": "full import", "incremental_sync": "sync of changes",
    "export_to_crm": "leads sent", "ping": "worker check",
}  # fmt: skip


STUDIO_STATE = "studio"  # request.state: the signed-in studio's settings (set before the handler, webapp.app)


def studio_of_request(request: Request[Any, Any, Any]) -> Studio:
    found = request.state.get(STUDIO_STATE)
    return found if isinstance(found, Studio) else DEFAULT_STUDIO


@pass_context
def local_filter(context: Context, value: dt.date | dt.datetime | None, part: Part = "auto") -> str:
    """``{{ note.created_at | local }}``, ``{{ wedding | local('long') }}``: the only way templates show a date or a
    time, in the studio's time zone and date style (the ``studio`` every rendering is given)."""
    studio = context.get("studio")
    return show_when(value, studio if isinstance(studio, Studio) else DEFAULT_STUDIO, part)


@pass_context
def phone_filter(context: Context, value: str | None) -> PhoneLinks | None:
    """``{% set p = phone | phone %}``: the number as the studio's country reads it, with its tel: and WhatsApp
    targets."""
    studio = context.get("studio")
    return phone_links(value, studio if isinstance(studio, Studio) else DEFAULT_STUDIO)


TEMPLATE_FILTERS = {"local": local_filter, "phone": phone_filter}


def render_html(request: Request[Any, Any, Any], template: str, **context: Any) -> str:
    engine = request.app.template_engine
    assert engine is not None
    token = ScopeState.from_scope(request.scope).csrf_token or ""
    context.setdefault("studio", studio_of_request(request))
    return str(
        engine.get_template(template).render(
            request=request,
            source_labels=SOURCE_LABELS,
            kind_labels=KIND_LABELS,
            csrf_input=f'<input type="hidden" name="_csrf_token" value="{html.escape(str(token))}">',
            **context,
        )
    )


def render_shared(request: Request[Any, Any, Any], template: str, **context: Any) -> str:
    """A rendering that may be cached and handed to every phone of the supplier: no request and no CSRF token
    in its context (a template that asks for them gets Jinja's empty undefined, never another phone's token). The
    studio's settings are the supplier's, the same for every phone, and part of the cache key of what is kept."""
    engine = request.app.template_engine
    assert engine is not None
    context.setdefault("studio", studio_of_request(request))
    return str(engine.get_template(template).render(source_labels=SOURCE_LABELS, kind_labels=KIND_LABELS, **context))


GZIP_MIN_BYTES = 500  # as the app's CompressionConfig: smaller bodies are sent as they are
GZIP_LEVEL = 6


class Rendered(msgspec.Struct, frozen=True):
    """A cacheable rendering and its gzip: compressed once when it is rendered, not once per response."""

    html: bytes
    gzipped: bytes  # empty when the body is too small to be worth compressing
    digest: str  # of ``html``: what its ETag is made from, so equal bytes answer 304 whatever else changed


def rendered(html_text: str) -> Rendered:
    body = html_text.encode()
    gzipped = gzip.compress(body, GZIP_LEVEL, mtime=0) if len(body) >= GZIP_MIN_BYTES else b""
    return Rendered(body, gzipped, hashlib.blake2b(body, digest_size=12).hexdigest())


def rendered_response(
    request: Request[Any, Any, Any], content: Rendered, headers: dict[str, str] | None = None
) -> Response[bytes]:
    """``content`` as the phone accepts it. The gzip is already final, so the app's compression middleware is told
    to pass it through (``is_cached``: Litestar's own flag for a response whose body is stored ready to send)."""
    out = {**(headers or {}), "vary": ", ".join(filter(None, ((headers or {}).get("vary"), "Accept-Encoding")))}
    if content.gzipped and "gzip" in request.headers.get("accept-encoding", ""):
        ScopeState.from_scope(request.scope).is_cached = True
        out["content-encoding"] = "gzip"
        return Response(content.gzipped, media_type=MediaType.HTML, headers=out)
    return Response(content.html, media_type=MediaType.HTML, headers=out)


def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    return Response(
        render_html(request, template, **context),
        status_code=status_code,
        media_type=MediaType.HTML,
        headers=headers,
    )


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    """True for htmx requests, which get just the fragment, not the whole page."""
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"
