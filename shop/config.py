"""Settings: one mapping read from the environment, with embedded defaults.

Tests and tools override any key by passing a mapping to ``create_app``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"


class ConfigError(RuntimeError):
    """The settings cannot run the shop (e.g. a missing secret in production)."""


def _normalize_database_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _instance_secret(instance_path: Path) -> str:
    """A random secret kept in the instance folder, so dev sessions survive restarts."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


class _Environment(dict[str, str]):
    """The environment, remembering which names the settings read."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)


def load(instance_path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Settings from the environment; ``overrides`` may name environment variables (strings,
    parsed like the environment) or config keys (used as given)."""
    overrides = overrides or {}
    env = _Environment({**os.environ, **{k: v for k, v in overrides.items() if isinstance(v, str)}})
    shop_env = env.get("SHOP_ENV", "development")
    production = shop_env == "production"

    secret_key = env.get("SECRET_KEY")
    encryption_key = env.get("SETTINGS_ENCRYPTION_KEY")
    if production:
        missing = [
            name
            for name, value in (
                ("SECRET_KEY", secret_key),
                ("SETTINGS_ENCRYPTION_KEY", encryption_key),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                f"SHOP_ENV=production needs {' and '.join(missing)} in the environment"
            )
    if not secret_key:
        secret_key = _instance_secret(instance_path)
    if not encryption_key:
        digest = hashlib.sha256(b"comptoir-settings:" + secret_key.encode()).digest()
        encryption_key = base64.urlsafe_b64encode(digest).decode()

    database_url = _normalize_database_url(
        env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'shop.db'}"
    )
    redis_url = env.get("REDIS_URL") or None

    config: dict[str, Any] = {
        "SHOP_ENV": shop_env,
        "PRODUCTION": production,
        "SECRET_KEY": secret_key,
        "SETTINGS_ENCRYPTION_KEY": encryption_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "RQ_QUEUE": env.get("RQ_QUEUE", "comptoir"),
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "SHOP_CURRENCY": env.get("SHOP_CURRENCY", "EUR"),
        "SHOP_COUNTRY": env.get("SHOP_COUNTRY", "FR"),
        "SHOP_NAME": env.get("SHOP_NAME", "Comptoir"),
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY") or None,
        "STRIPE_PUBLISHABLE_KEY": env.get("STRIPE_PUBLISHABLE_KEY") or None,
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET") or None,
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE") or None,
        "STRIPE_JS_URL": env.get("STRIPE_JS_URL", "https://js.stripe.com/v3/"),
        "SMTP_URL": env.get("SMTP_URL") or None,
        "MAIL_FROM": env.get("MAIL_FROM", "Comptoir <boutique@comptoir.localhost>"),
        "MAIL_OUTBOX_DIR": str(instance_path / "outbox"),
        "EMAIL_SENDERS": int(env.get("EMAIL_SENDERS", "4")),
        "MEDIA_ROOT": env.get("MEDIA_ROOT", str(instance_path / "media")),
        "PLATFORM_FEE_PERCENT": int(env.get("PLATFORM_FEE_PERCENT", "15")),
        # i18n
        "LOCALES": LOCALES,
        "BABEL_DEFAULT_LOCALE": DEFAULT_LOCALE,
        "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
        "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "translations"),
        # sessions and cookies
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_NAME": "comptoir_session",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        # CSRF: forms check their own token so they can re-render with the input kept;
        # every other POST is checked globally (see shop.web.security).
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "CSRF_EXEMPT_BLUEPRINTS": ("webhooks",),  # signed by the provider instead
        # rate limits
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_KEY_PREFIX": "comptoir-limits",
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "5 per minute;20 per hour"),
        "RESET_RATE_LIMIT": env.get("RESET_RATE_LIMIT", "3 per minute;10 per hour"),
        "TWO_FACTOR_RATE_LIMIT": env.get("TWO_FACTOR_RATE_LIMIT", "10 per minute;50 per hour"),
        "TWO_FACTOR_MAX_FAILURES": int(env.get("TWO_FACTOR_MAX_FAILURES", "5")),
        "TWO_FACTOR_LOCK_MINUTES": int(env.get("TWO_FACTOR_LOCK_MINUTES", "15")),
        # pages and fragments kept in memory when there is no Redis (per process)
        "PAGE_CACHE_MAX_ENTRIES": int(env.get("PAGE_CACHE_MAX_ENTRIES", "2000")),
        "PAGE_CACHE_MAX_BYTES": int(env.get("PAGE_CACHE_MAX_MB", "64")) * 1024 * 1024,
        # cart and checkout
        "CART_MAX_PER_LINE": int(env.get("CART_MAX_PER_LINE", "10")),
        "RESERVATION_MINUTES": int(env.get("RESERVATION_MINUTES", "15")),
        "BANK_TRANSFER_HOLD_DAYS": int(env.get("BANK_TRANSFER_HOLD_DAYS", "7")),
        # stock: variants without their own threshold are "low" at or below this
        "LOW_STOCK_THRESHOLD": int(env.get("LOW_STOCK_THRESHOLD", "3")),
        # Werkzeug refuses bigger request bodies (413) before reading them: uploads are
        # checked again, per file, by the image service.
        "MAX_CONTENT_LENGTH": int(env.get("MAX_REQUEST_MB", "32")) * 1024 * 1024,
        # accounts
        "PASSWORD_MIN_LENGTH": 10,
        "PASSWORD_RESET_MAX_AGE": 3600,
        "ARGON2_TIME_COST": int(env.get("ARGON2_TIME_COST", "3")),
        "ARGON2_MEMORY_COST": int(env.get("ARGON2_MEMORY_COST", str(64 * 1024))),
        # logging
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        "TRUST_PROXY_HOPS": int(env.get("TRUST_PROXY_HOPS", "0")),
    }
    config.update({k: v for k, v in overrides.items() if k not in env.read})
    return config
