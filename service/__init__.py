"""fastdrg's HTTP service: the grouping engine behind an async JSON API.

The package holds no grouping logic. It validates requests, batches claims,
calls ``engine.Grouper`` through its public interface (``group``,
``version_ranges``, ``drg_info``, ``code_info``) and answers. Entry points:
``service.app.create_app`` (the ASGI app factory) and ``service.server.serve``
(what ``fastdrg serve`` runs). Importing this package imports nothing heavy.
"""

from __future__ import annotations

try:
    from importlib.metadata import PackageNotFoundError, version as _dist_version

    __version__ = _dist_version("fastdrg")
except Exception:  # noqa: BLE001 - running from a source tree that is not installed
    __version__ = "0.1.0"

__all__ = ["__version__"]
