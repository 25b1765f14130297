"""Opening the configured online store (``BNPL_SERVING__STORE_ENGINE``)."""

from __future__ import annotations

from bnpl.errors import ConfigError
from bnpl.serving.store import OnlineStore, SqliteStore
from bnpl.settings import ServingSettings


def open_store(settings: ServingSettings) -> OnlineStore:
    """The online store the settings name.

    Raises:
        ConfigError: ``redis`` without ``BNPL_SERVING__STORE_REDIS_URL``.
        ServingError: the store cannot be opened.
    """
    if settings.store_engine == "redis":
        if settings.store_redis_url is None:
            raise ConfigError(
                "BNPL_SERVING__STORE_ENGINE=redis needs BNPL_SERVING__STORE_REDIS_URL"
            )
        from bnpl.serving.redis_store import RedisStore

        return RedisStore(
            settings.store_redis_url.get_secret_value(), prefix=settings.store_redis_prefix
        )
    return SqliteStore(settings.store_path)
