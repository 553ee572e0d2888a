"""API-key authentication for ``/v1`` routes.

When ``FASTDRG_API_KEYS`` (or ``FASTDRG_API_KEYS_FILE``) is set, every
``/v1`` request must present one of the keys, either as
``Authorization: Bearer <key>`` or as ``X-API-Key: <key>``. Probes
(``/healthz``, ``/readyz``), ``/metrics`` and the docs stay open so that
orchestrators and scrapers need no secret.

Why digests and a full scan: the presented key is hashed with SHA-256 and
compared with ``hmac.compare_digest`` against the digest of *every*
configured key, without stopping at a match. The time taken then depends
neither on how many leading characters were right nor on which key matched,
nor on the key's length.

The check runs inside ``service.metrics.RequestMiddleware`` (one wrapper per
request instead of a FastAPI dependency on each route).
"""

from __future__ import annotations

import hmac

from .problems import problem_response
from .settings import hash_key

__all__ = ["check_api_key", "unauthenticated_response", "presented_key", "KEYED_PATHS"]

#: The paths that need a key when keys are configured: /v1 and the FHIR operations
#: (``/fhir/metadata`` and the OperationDefinition stay open, as FHIR servers keep them).
KEYED_PATHS = ("/v1", "/fhir/Claim/", "/fhir/ExplanationOfBenefit/", "/fhir/Encounter/")


def presented_key(scope) -> str | None:
    """The key a request carries, from ``Authorization: Bearer`` or ``X-API-Key``."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == b"x-api-key":
            token = value.decode("latin-1").strip()
            if token:
                return token
    return None


def check_api_key(scope, digests: tuple[bytes, ...]) -> bool:
    key = presented_key(scope)
    if key is None:
        return False
    candidate = hash_key(key)
    ok = False
    for digest in digests:
        ok |= hmac.compare_digest(candidate, digest)
    return ok


def unauthenticated_response():
    return problem_response(
        401,
        "unauthenticated",
        "This route needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
        headers={"WWW-Authenticate": 'Bearer realm="fastdrg"'},
    )
