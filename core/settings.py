"""Settings of the web processes and the workers, read once per process from the environment into a frozen Struct.

``settings()`` is the process's copy (read on first use, never at import time); ``load_settings()`` reads afresh
(the CLI, before it changes the environment for the processes it starts). No other module reads ``os.environ``
for a setting.
"""

from __future__ import annotations

import functools
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
    signup_attempts_per_minute: int = 10  # per client address, counted apart from sign-ins
    log_level: str = "INFO"
    default_region: str = "GB"
    # CRM addresses on this machine (the sandbox CRM); off in production so a CRM URL can't probe the network.
    allow_local_crm_urls: bool = False
    # Web Push (VAPID, RFC 8292): the key the push services know this server by, and who to contact about it.
    vapid_private_key: str = ""  # the P-256 private value, 32 bytes base64url (or a DER key, base64url)
    vapid_subject: str = "mailto:notifications@wedsync.example"
    # Push endpoints on this machine (a test's stand-in push service); never private or other networks.
    allow_local_push_urls: bool = False
    static_dir: Path = PROJECT_ROOT / "static"
    metrics_dir: str | None = None  # PROMETHEUS_MULTIPROC_DIR, which prometheus_client also reads itself
    # -- workers --
    worker_db_pool_max: int = 8
    worker_statement_timeout_ms: int = 600_000
    # How long a job waits for one of the worker's PostgreSQL connections before that try fails (and is retried):
    # with PostgreSQL away, each try of a job waits this long.
    worker_db_wait_s: float = 30.0
    # How long a worker may be silent before its unacknowledged messages go to another worker: the window in
    # which a job whose worker was killed waits before it is redelivered and resumed.
    worker_heartbeat_timeout_ms: int = 30_000
    # Dead workers' messages are handed back only during "maintenance", which Dramatiq runs on a random share of
    # fetches (per million): its default (1,000) meant a killed worker's import waited minutes, not the heartbeat
    # timeout, to be redelivered. 10% of fetches costs two cheap sorted-set reads each.
    broker_maintenance_chance: int = 100_000
    # A job hit by a transient error (database or network) is tried this many times in all, waiting between tries
    # from the minimum back-off doubling up to the maximum; then it ends failed ("Try again" resumes it).
    job_max_attempts: int = 5
    job_retry_min_backoff_ms: int = 2_000
    job_retry_max_backoff_ms: int = 300_000
    crm_timeout_s: float = 30.0  # seconds to wait for one CRM answer
    # Requests per second per CRM account, all workers together: politeness to the CRM against import speed
    # (100,000 Tave clients take ~6,000 requests: 5 min at 20/s).
    crm_requests_per_s: int = 20
    idempotency_keep_days: int = 8  # the housekeeping keeps at least 7 whatever this says
    upload_keep_days: int = 30  # a failed or stopped file import's upload, kept for "Try again"
    housekeeping_interval_s: float = 3600.0
    # 0 turns the lost-message sweep off (the tests do: they share one PostgreSQL between several Redis
    # databases, and a worker would take another database's waiting jobs for lost ones).
    job_sweep_interval_s: float = 60.0
    # A running job whose row has not moved for this long is "stalled": /health/ready counts it and the jobs screen
    # marks it. A running job writes its row at every batch, CRM page and status line, so a quarter of an hour of
    # silence is no slow batch. Housekeeping ends it failed once it has been still for much longer
    # (``stall_fail_after_s``); a stalled job whose message was lost is sent again sooner (jobs.housekeeping).
    job_stall_s: float = 900.0
    import_max_rows: int = 500_000  # a bigger spreadsheet is almost certainly not a client list
    import_processes: int | None = None  # cleaning processes per worker; None: one per core; 0: in the job's thread

    @property
    def stall_fail_after_s(self) -> float:
        """How long a running job that still has its message may stay still before housekeeping ends it failed.

        Four stall periods (an hour by default), and never less than a stall period plus every retry's back-off:
        a job waiting out its retries is delayed, not stuck, and a CRM's ``Retry-After`` or a slow batch is
        minutes at most. Past that, the worker holding the message is alive (it still beats, or the message would
        have gone to another worker) but its job is not moving: a hung connection or a lock wait. Failing it keeps
        what was committed and lets the photographer try again, instead of "running" for ever."""
        retries = range(self.job_max_attempts)
        backoffs = sum(min(self.job_retry_max_backoff_ms, self.job_retry_min_backoff_ms << n) for n in retries)
        return max(4 * self.job_stall_s, self.job_stall_s + backoffs / 1000)

    @property
    def redis(self) -> str:
        """The Redis URL, or the local default a bare ``dramatiq jobs.worker`` has always used."""
        return self.redis_url or "redis://127.0.0.1:6379/0"


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
    # Written aside, then linked into place: a web process and a worker starting together agree on one value (the
    # second link fails and reads the first), and nobody reads a half-written file.
    draft = path.with_name(f".{name}.{os.getpid()}")
    draft.write_text(factory)
    draft.chmod(0o600)
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text().strip()


def _new_vapid_key() -> str:
    """A fresh P-256 private value, base64url without padding: the form ``py_vapid.Vapid02.from_string`` reads."""
    import base64

    from cryptography.hazmat.primitives.asymmetric import ec

    value = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()


def _int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = default
    return max(minimum, value) if minimum is not None else value


def _float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = default
    return max(minimum, value) if minimum is not None else value


@functools.cache
def settings() -> Settings:
    """This process's settings, read once."""
    return load_settings()


def load_settings() -> Settings:
    var_dir = Path(os.environ.get("WEDSYNC_VAR_DIR", PROJECT_ROOT / "var")).resolve()
    secret_key = os.environ.get("SECRET_KEY") or _persistent_secret(var_dir, "secret_key", secrets.token_urlsafe(48))
    keys_env = os.environ.get("ENCRYPTION_KEYS")
    if keys_env:
        encryption_keys = tuple(k.strip() for k in keys_env.split(",") if k.strip())
    else:
        from cryptography.fernet import Fernet

        encryption_keys = (_persistent_secret(var_dir, "encryption_key", Fernet.generate_key().decode()),)
    vapid_key = os.environ.get("VAPID_PRIVATE_KEY", "").strip() or _persistent_secret(
        var_dir, "vapid_private_key", _new_vapid_key()
    )
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
        signup_attempts_per_minute=_int("SIGNUP_ATTEMPTS_PER_MINUTE", 10, minimum=1),
        log_level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        default_region=os.environ.get("DEFAULT_REGION", "GB").upper(),
        allow_local_crm_urls=_flag("ALLOW_LOCAL_CRM_URLS", False),
        vapid_private_key=vapid_key,
        vapid_subject=os.environ.get("VAPID_SUBJECT", "").strip() or "mailto:notifications@wedsync.example",
        allow_local_push_urls=_flag("ALLOW_LOCAL_PUSH_URLS", False),
        static_dir=Path(os.environ.get("WEDSYNC_STATIC_DIR") or PROJECT_ROOT / "static"),
        metrics_dir=os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None,
        worker_db_pool_max=_int("WORKER_DB_POOL_MAX", 8, minimum=1),
        worker_statement_timeout_ms=_int("WORKER_STATEMENT_TIMEOUT_MS", 600_000),
        worker_db_wait_s=_float("WORKER_DB_WAIT_S", 30.0, minimum=0.1),
        worker_heartbeat_timeout_ms=_int("WORKER_HEARTBEAT_TIMEOUT_MS", 30_000),
        broker_maintenance_chance=_int("BROKER_MAINTENANCE_CHANCE", 100_000),
        job_max_attempts=_int("JOB_MAX_ATTEMPTS", 5, minimum=1),
        job_retry_min_backoff_ms=_int("JOB_RETRY_MIN_BACKOFF_MS", 2_000, minimum=1),
        job_retry_max_backoff_ms=_int("JOB_RETRY_MAX_BACKOFF_MS", 300_000, minimum=1),
        crm_timeout_s=_float("CRM_TIMEOUT_S", 30.0, minimum=0.1),
        crm_requests_per_s=_int("CRM_REQUESTS_PER_S", 20, minimum=1),
        idempotency_keep_days=_int("IDEMPOTENCY_KEEP_DAYS", 8),
        upload_keep_days=_int("UPLOAD_KEEP_DAYS", 30, minimum=1),
        housekeeping_interval_s=_float("HOUSEKEEPING_INTERVAL_S", 3600.0),
        job_sweep_interval_s=_float("JOB_SWEEP_INTERVAL_S", 60.0),
        job_stall_s=_float("JOB_STALL_S", 900.0, minimum=1.0),
        import_max_rows=_int("IMPORT_MAX_ROWS", 500_000, minimum=1),
        import_processes=int(raw) if (raw := os.environ.get("IMPORT_PROCESSES", "").strip()).isdigit() else None,
    )
