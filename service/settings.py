"""Service settings, read once from ``FASTDRG_*`` environment variables.

Why environment variables: the same image runs under Docker, Kubernetes and a
developer shell, and all three set environment variables natively. Every value
is validated at start-up so that a typo (``FASTDRG_WORKERS=two``) stops the
process with a message naming the variable, instead of surfacing later as an
odd runtime error. The table of variables lives in ``service/README.md``.

API keys are kept only as SHA-256 digests: the plain keys never sit in a
long-lived object that could end up in a log line or a traceback.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["Settings", "SettingsError", "HOSPITAL_STATUSES"]

#: Values the engine accepts for a claim's ``hospital_status``.
HOSPITAL_STATUSES = ("not_exempt", "exempt", "unknown")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class SettingsError(ValueError):
    """A ``FASTDRG_*`` variable holds a value the service cannot use."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise SettingsError(f"{name} must be {bound}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _base_rate(env: Mapping[str, str]) -> str | None:
    """FASTDRG_BASE_RATE: a positive amount in dollars, at most two decimals (checked here, used by the engine)."""
    raw = env.get("FASTDRG_BASE_RATE", "").strip()
    if not raw:
        return None
    from decimal import Decimal, InvalidOperation

    try:
        d = Decimal(raw)
    except InvalidOperation:
        d = None
    if d is None or not d.is_finite() or d <= 0 or d > 10_000_000 or d * 100 != (d * 100).to_integral_value():
        raise SettingsError(f"FASTDRG_BASE_RATE must be a positive amount in dollars (at most two decimals), "
                            f"got {raw[:32]!r}")
    return raw


def hash_key(key: str) -> bytes:
    """Digest an API key; both configured and presented keys go through this."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def _api_keys(env: Mapping[str, str]) -> tuple[bytes, ...]:
    keys: list[str] = []
    raw = env.get("FASTDRG_API_KEYS", "")
    keys.extend(part.strip() for part in raw.split(","))
    path = env.get("FASTDRG_API_KEYS_FILE", "").strip()
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                keys.extend(line.strip() for line in fh if not line.lstrip().startswith("#"))
        except OSError as exc:
            raise SettingsError(f"FASTDRG_API_KEYS_FILE cannot be read: {exc.strerror}") from None
    return tuple(hash_key(k) for k in keys if k)


@dataclass(frozen=True)
class Settings:
    """Everything the service can be told from outside, with safe defaults."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    #: Largest number of claims in one ``/v1/group/batch`` request.
    max_batch_claims: int = 10_000
    #: Largest body accepted by ``/v1/group/batch`` (bytes).
    max_body_bytes: int = 32 * 1024 * 1024
    #: Largest single claim: the body of ``/v1/group`` and one line of ``/v1/group/stream``.
    max_claim_bytes: int = 256 * 1024
    #: Most claims grouped in one engine call by ``/v1/group/stream``.
    stream_chunk_claims: int = 8_192
    #: Applied to a claim that has no ``hospital_status``; ``None`` leaves the engine default.
    default_hospital_status: str | None = None
    api_key_digests: tuple[bytes, ...] = field(default=(), repr=False)
    log_level: str = "info"
    #: One structured log line per request.
    access_log: bool = True
    #: Seconds a SIGTERM waits for in-flight requests before closing them.
    graceful_timeout: float = 30.0
    #: Engine calls that may run at once in one worker process. Two: while one call
    #: does its serial steps (cutting the body, the Python glue, joining the answer),
    #: the kernel threads work on the other's claims.
    engine_threads: int = 2
    #: Niceness added to the engine's kernel threads (and the thread that loads the engine), so
    #: that the event loop (probes, single claims) gets a core first under load; 0: unchanged.
    engine_nice: int = 10
    #: Kernel threads per batch/stream engine call; 0 = the engine's default (all cores).
    kernel_threads: int = 0
    #: Freeze the engine's objects out of the garbage collector and collect less often.
    gc_tuning: bool = True
    #: FastAPI's own OpenTelemetry hooks (traces, metrics, logs through an SDK you install).
    opentelemetry: bool = False
    #: Base rate (dollars) for results' payment_estimate (engine.payment); None: no estimate
    #: unless a request gives ?base_rate=.
    base_rate: str | None = None

    @property
    def auth_required(self) -> bool:
        return bool(self.api_key_digests)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Read and validate all ``FASTDRG_*`` variables (``os.environ`` by default)."""
        env = os.environ if env is None else env
        status = env.get("FASTDRG_DEFAULT_HOSPITAL_STATUS", "").strip().lower() or None
        if status is not None and status not in HOSPITAL_STATUSES:
            raise SettingsError(
                f"FASTDRG_DEFAULT_HOSPITAL_STATUS must be one of {', '.join(HOSPITAL_STATUSES)}, got {status!r}"
            )
        level = env.get("FASTDRG_LOG_LEVEL", "info").strip().lower() or "info"
        if level not in LOG_LEVELS:
            raise SettingsError(f"FASTDRG_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
        host = env.get("FASTDRG_HOST", "").strip() or cls.host
        return cls(
            host=host,
            port=_int(env, "FASTDRG_PORT", cls.port, 0, 65535),
            workers=_int(env, "FASTDRG_WORKERS", cls.workers, 1, 256),
            max_batch_claims=_int(env, "FASTDRG_MAX_BATCH_CLAIMS", cls.max_batch_claims, 1),
            max_body_bytes=_int(env, "FASTDRG_MAX_BODY_BYTES", cls.max_body_bytes, 1024),
            max_claim_bytes=_int(env, "FASTDRG_MAX_CLAIM_BYTES", cls.max_claim_bytes, 1024),
            stream_chunk_claims=_int(env, "FASTDRG_STREAM_CHUNK_CLAIMS", cls.stream_chunk_claims, 1),
            default_hospital_status=status,
            api_key_digests=_api_keys(env),
            log_level=level,
            access_log=_bool(env, "FASTDRG_ACCESS_LOG", cls.access_log),
            graceful_timeout=_float(env, "FASTDRG_GRACEFUL_TIMEOUT", cls.graceful_timeout, 0.0),
            engine_threads=_int(env, "FASTDRG_ENGINE_THREADS", cls.engine_threads, 1, 64),
            engine_nice=_int(env, "FASTDRG_ENGINE_NICE", cls.engine_nice, 0, 19),
            kernel_threads=_int(env, "FASTDRG_KERNEL_THREADS", cls.kernel_threads, 0, 1024),
            gc_tuning=_bool(env, "FASTDRG_GC_TUNING", cls.gc_tuning),
            opentelemetry=_bool(env, "FASTDRG_OPENTELEMETRY", cls.opentelemetry),
            base_rate=_base_rate(env),
        )

    def with_overrides(self, **changes: object) -> "Settings":
        """Copy with some fields replaced (``None`` values are ignored): CLI flags win over env."""
        from dataclasses import replace

        return replace(self, **{k: v for k, v in changes.items() if v is not None})
