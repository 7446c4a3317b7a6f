"""Light Blue API receiver (``POST /api.php``).

Per Light Blue's docs the API takes form fields ``key``, ``type=contact form`` and parameters
such as ``ContactNameFirst``; it answers with a status code and, on error, a summary: 0 success,
-3 bad type or no valid parameters, -4 duplicate (checked only when ``ID`` or ``Reference`` is
sent, unique per ``Source``). The exact body layout is not documented, so the sandbox answers
``text/plain`` with the code on the first line and the summary on the second. The code for a
wrong key is not documented either; the sandbox uses -1.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get, post

from jobs.sandbox.state import SandboxState

_SUPPORTED_PREFIXES = ("Contact", "Job", "Shoot", "Message", "Notes", "Event")


def _answer(code: int, summary: str = "") -> Response[str]:
    text = f"{code}\n{summary}" if summary else f"{code}"
    return Response(text, media_type="text/plain")


def build_lightblue_router(state: SandboxState) -> Router:
    inbox = state.inbox

    @post("/api.php", status_code=200)
    async def receive_contact_form(request: Request[Any, Any, Any]) -> Response[str]:
        form = await request.form()
        fields = {str(k): str(v) for k, v in form.items()}
        lowered = {k.lower(): v for k, v in fields.items()}
        if lowered.get("key") != state.config.lightblue_key:
            return _answer(-1, "Invalid API key.")
        if lowered.get("type", "").strip().lower() != "contact form":
            return _answer(-3, "Invalid API request type.")
        params = {k: v for k, v in fields.items() if k.startswith(_SUPPORTED_PREFIXES)}
        if not params:
            return _answer(-3, "No valid parameters for this API request type.")
        reference = fields.get("ID") or fields.get("Reference")
        if reference:
            dedupe_key = (reference, fields.get("Source", ""))
            if dedupe_key in inbox.keys:
                return _answer(-4, "This is a duplicate API request.")
            inbox.keys.add(dedupe_key)
        stored = {k: v for k, v in fields.items() if k.lower() not in ("key", "type")}
        inbox.contacts.append(stored)
        return _answer(0)

    return Router(path="/", route_handlers=[receive_contact_form])


def build_lightblue_inspect_handler(state: SandboxState) -> Any:
    @get("/_sandbox/lightblue/contacts", sync_to_thread=False)
    def list_lightblue_contacts() -> dict[str, Any]:
        return {"contacts": state.inbox.contacts, "count": len(state.inbox.contacts)}

    return list_lightblue_contacts
