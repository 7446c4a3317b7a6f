"""Sign up, sign in, sign out."""

from __future__ import annotations

from typing import Any

import anyio
from email_validator import EmailNotValidError, validate_email
from litestar import Request, Response, get, post
from litestar.middleware.rate_limit import CacheObject, RateLimitConfig, RateLimitMiddleware
from litestar.response import Redirect

from core.db.pool import unscoped
from core.security import hash_password, needs_rehash, verify_password, weak_password_reason
from webapp.auth import sign_in, sign_out, signed_in_supplier_id
from webapp.forms import FormError, parse, read_form
from webapp.queries import suppliers as q
from webapp.rendering import page
from webapp.schemas.accounts import LoginForm, SignupForm
from webapp.state import resources
from webapp.studio import suggested


class _RetryAfterRateLimit(RateLimitMiddleware):
    """Litestar's limiter sends the IETF RateLimit-* headers; browsers and clients also expect Retry-After."""

    def create_response_headers(self, cache_object: CacheObject) -> dict[str, str]:
        headers = super().create_response_headers(cache_object)
        headers["Retry-After"] = str(max(1, int(headers[self.config.rate_limit_reset_header_key])))
        return headers


class _SignupRateLimit(_RetryAfterRateLimit):
    """The same limiter for sign-ups; Litestar keys its counts by the middleware's class name and the client
    address, so a subclass counts sign-ups apart from sign-ins (a typo'd sign-in must not use up a sign-up)."""


def login_rate_limit(attempts_per_minute: int) -> RateLimitConfig:
    return RateLimitConfig(
        rate_limit=("minute", attempts_per_minute),
        middleware_class=_RetryAfterRateLimit,
        store="rate_limit",
    )


def signup_rate_limit(attempts_per_minute: int) -> RateLimitConfig:
    """Each sign-up costs an argon2 hash and a row: throttled per client address like sign-in."""
    return RateLimitConfig(
        rate_limit=("minute", attempts_per_minute),
        middleware_class=_SignupRateLimit,
        store="rate_limit",
    )


def _normalise_email(raw: str) -> str:
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise FormError("That email address doesn't look right.", "email") from exc


@get("/signup", name="signup_form")
async def show_signup(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    if signed_in_supplier_id(request) is not None:
        return Redirect("/")
    return page(request, "accounts/signup.html", form={}, error=None)


async def create_account(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    raw = await read_form(request)
    try:
        data = parse(raw, SignupForm)
        email = _normalise_email(data.email)
        if reason := weak_password_reason(data.password, email):
            raise FormError(reason, "password")
    except FormError as exc:
        return page(request, "accounts/signup.html", status_code=400, form=raw, error=exc.message)
    res = resources(request)
    # What the page's script read from the browser; anything missing or unknown becomes the default.
    studio = suggested(raw.get("region", "")[:8], raw.get("timezone", "")[:64], res.settings.default_region)
    password_hash = await anyio.to_thread.run_sync(hash_password, data.password)  # CPU-heavy by design
    async with unscoped(res.pool) as conn:
        supplier = await q.create_supplier(
            conn,
            business_name=data.business_name,
            email=email,
            password_hash=password_hash,
            studio=studio,
        )
    if supplier is None:
        return page(
            request,
            "accounts/signup.html",
            status_code=409,
            form=raw,
            error="An account with this email already exists. Sign in instead.",
        )
    sign_in(request, supplier.id)
    return Redirect("/", status_code=303)


@get("/login", name="login_form")
async def show_login(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    if signed_in_supplier_id(request) is not None:
        return Redirect("/")
    return page(request, "accounts/login.html", form={}, error=None)


async def log_in(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    raw = await read_form(request)
    wrong = "That email and password don't match an account."
    try:
        data = parse(raw, LoginForm)
    except FormError:
        return page(request, "accounts/login.html", status_code=400, form=raw, error=wrong)
    res = resources(request)
    async with unscoped(res.pool) as conn:
        login = await q.get_login(conn, data.email)
    # argon2 takes tens of milliseconds of CPU by design: in a thread, so other phones' requests keep moving,
    # and with no pooled connection held meanwhile.
    matches = await anyio.to_thread.run_sync(verify_password, login.password_hash if login else None, data.password)
    legacy = False
    if not matches and login is not None and data.password != data.password.strip():
        # Accounts made before passwords were used as typed have the stripped form hashed: accept it once and
        # store the password as typed from now on.
        legacy = await anyio.to_thread.run_sync(verify_password, login.password_hash, data.password.strip())
    if not (matches or legacy) or login is None:
        return page(request, "accounts/login.html", status_code=400, form=raw, error=wrong)
    if legacy or needs_rehash(login.password_hash):
        new_hash = await anyio.to_thread.run_sync(hash_password, data.password)
        async with unscoped(res.pool) as conn:
            await q.set_password_hash(conn, login.id, new_hash)
    sign_in(request, login.id)
    return Redirect("/", status_code=303)


@post("/logout", name="logout")
async def log_out(request: Request[Any, Any, Any]) -> Redirect:
    sign_out(request)
    return Redirect("/login", status_code=303)
