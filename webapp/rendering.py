"""One way to produce HTML: render a Jinja template to a string and wrap it in a Response.

Handlers render to strings (rather than returning Litestar ``Template`` objects) so that a response
can be stored verbatim for ``Idempotency-Key`` replays and so fragments and pages share one path.
"""

from __future__ import annotations

import html
from typing import Any

from litestar import Request, Response
from litestar.enums import MediaType
from litestar.utils.scope.state import ScopeState

# How sources and job kinds read on screen.
SOURCE_LABELS = {
    "csv": "Spreadsheet", "tave": "Tave", "lightblue": "Light Blue", "honeybook": "HoneyBook",
    "vcard": "Phone contacts", "manual": "Added by hand",
}  # fmt: skip
KIND_LABELS = {
    "file_import": "file import", "full_import": "full import", "incremental_sync": "sync of changes",
    "export_to_crm": "leads sent", "ping": "worker check",
}  # fmt: skip


def render_html(request: Request[Any, Any, Any], template: str, **context: Any) -> str:
    engine = request.app.template_engine
    assert engine is not None
    token = ScopeState.from_scope(request.scope).csrf_token or ""
    return str(
        engine.get_template(template).render(
            request=request,
            source_labels=SOURCE_LABELS,
            kind_labels=KIND_LABELS,
            csrf_input=f'<input type="hidden" name="_csrf_token" value="{html.escape(str(token))}">',
            **context,
        )
    )


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
