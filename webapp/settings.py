"""Settings, read once from the environment into a frozen Struct (no import-time side effects)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import msgspec

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str | None
    redis_url: str | None
    secret_key: str
    # Fernet key(s) for CRM secrets at rest; first one encrypts, all decrypt (rotation).
    encryption_keys: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 8000
    var_dir: Path = PROJECT_ROOT / "var"
    cookie_secure: bool = True
    db_pool_min: int = 2
    db_pool_max: int = 10
    statement_timeout_ms: int = 5000
    login_attempts_per_minute: int = 10
    log_level: str = "INFO"
    default_region: str = "GB"
    # CRM addresses on this machine (the sandbox CRM); off in production so a CRM URL can't probe the network.
    allow_local_crm_urls: bool = False


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _persistent_secret(var_dir: Path, name: str, factory: str) -> str:
    """A secret generated once and kept under var/, so a second `make run` keeps sessions and data readable."""
    path = var_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    value = factory
    path.write_text(value)
    path.chmod(0o600)
    return value


def load_settings() -> Settings:
    var_dir = Path(os.environ.get("WEDSYNC_VAR_DIR", PROJECT_ROOT / "var")).resolve()
    secret_key = os.environ.get("SECRET_KEY") or _persistent_secret(var_dir, "secret_key", secrets.token_urlsafe(48))
    keys_env = os.environ.get("ENCRYPTION_KEYS")
    if keys_env:
        encryption_keys = tuple(k.strip() for k in keys_env.split(",") if k.strip())
    else:
        from cryptography.fernet import Fernet

        encryption_keys = (_persistent_secret(var_dir, "encryption_key", Fernet.generate_key().decode()),)
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        secret_key=secret_key,
        encryption_keys=encryption_keys,
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        var_dir=var_dir,
        cookie_secure=_flag("COOKIE_SECURE", True),
        db_pool_min=int(os.environ.get("DB_POOL_MIN", "2")),
        db_pool_max=int(os.environ.get("DB_POOL_MAX", "10")),
        statement_timeout_ms=int(os.environ.get("STATEMENT_TIMEOUT_MS", "5000")),
        login_attempts_per_minute=int(os.environ.get("LOGIN_ATTEMPTS_PER_MINUTE", "10")),
        log_level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        default_region=os.environ.get("DEFAULT_REGION", "GB").upper(),
        allow_local_crm_urls=_flag("ALLOW_LOCAL_CRM_URLS", False),
    )
