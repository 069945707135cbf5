"""Backend settings, read once from the environment when the app is created (never at import).

==========================  ==========================================================  ==========
variable                    meaning                                                     default
==========================  ==========================================================  ==========
``LABEL_STUDIO_URL``        Label Studio base URL the backend calls (reconciliation,    unset
                            task flags, prediction refresh); unset = no calls out
``LABEL_STUDIO_API_KEY``    legacy token or personal access token (PAT) of a user who   unset
                            can read and edit the projects
``AQT_DATA_DIR``            directory of the SQLite state, models and logs              ``./aqt-data``
``AQT_BASIC_AUTH_USER``     with ``AQT_BASIC_AUTH_PASSWORD``: every route needs basic   unset
                            auth (``/webhook`` also accepts the secret header)
``AQT_WEBHOOK_SECRET``      value ``/webhook`` expects in the ``X-Aqt-Secret`` header   unset
``AQT_THRESHOLDS``          a TOML file like ``configs/thresholds.toml``, or inline     defaults
                            ``key=value,key=value`` (e.g. ``item_agreement=0.6``)
``AQT_MODEL_VERSION``       model_version used until the project's own is known         ``aqt``
``AQT_MAX_BODY_MB``         request body limit in MiB                                   ``20``
``AQT_TRAIN_DEBOUNCE``      seconds of quiet after the last label before retraining     ``2``
``AQT_RECONCILE_INTERVAL``  minimum seconds between two reconciliations of a project    ``30``
==========================  ==========================================================  ==========

Secrets (API key, basic-auth password, webhook secret) are masked in ``repr`` and never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from aqt.config import Thresholds, load_thresholds, parse_set_options
from aqt.errors import ConfigError

__all__ = ["SECRET_FIELDS", "Settings"]

#: fields whose values never appear in repr or logs
SECRET_FIELDS = ("api_key", "basic_auth_password", "webhook_secret")


def _mask(value: str | None) -> str:
    return "None" if value is None else "'***'"


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(
            f"{name} must be a number, got {raw!r}.", fix=f"Set e.g. {name}={default:g}."
        ) from None
    if value < 0:
        raise ConfigError(
            f"{name} must not be negative, got {raw!r}.", fix=f"Set e.g. {name}={default:g}."
        )
    return value


def parse_thresholds(raw: str | None) -> Thresholds:
    """``AQT_THRESHOLDS``: a TOML file path, or inline ``key=value`` pairs separated by commas."""
    if raw is None or not raw.strip():
        return Thresholds()
    text = raw.strip()
    try:
        if "=" in text and not Path(text).exists():
            return load_thresholds(None, parse_set_options(p for p in text.split(",") if p.strip()))
        return load_thresholds(text)
    except ConfigError as exc:
        raise ConfigError(
            f"AQT_THRESHOLDS={text!r}: {exc.message.replace(' in --set', '')}", fix=exc.fix
        ) from None


@dataclass(frozen=True)
class Settings:
    """Everything the backend is configured with; build it with :meth:`from_env`."""

    data_dir: Path = Path("aqt-data")
    label_studio_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    basic_auth_user: str | None = None
    basic_auth_password: str | None = field(default=None, repr=False)
    webhook_secret: str | None = field(default=None, repr=False)
    thresholds: Thresholds = field(default_factory=Thresholds)
    model_version: str = "aqt"
    max_body_bytes: int = 20 * 1024 * 1024
    train_debounce: float = 2.0
    reconcile_interval: float = 30.0
    #: background threads (flag sync, training, reconciliation); tests drive them by hand
    background: bool = True

    def __post_init__(self) -> None:
        if bool(self.basic_auth_user) != bool(self.basic_auth_password):
            raise ConfigError(
                "Basic auth needs both AQT_BASIC_AUTH_USER and AQT_BASIC_AUTH_PASSWORD; only one is set.",
                fix="Set both, or unset both to run without basic auth.",
            )
        if self.label_studio_url and not self.label_studio_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"LABEL_STUDIO_URL must start with http:// or https://, got {self.label_studio_url!r}.",
                fix="Set e.g. LABEL_STUDIO_URL=http://localhost:8080.",
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the variables in the module docstring from ``env`` (default ``os.environ``)."""
        env = os.environ if env is None else env

        def opt(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        url = opt("LABEL_STUDIO_URL")
        values: dict[str, Any] = {
            "data_dir": Path(opt("AQT_DATA_DIR") or "aqt-data"),
            "label_studio_url": url.rstrip("/") if url else None,
            "api_key": opt("LABEL_STUDIO_API_KEY"),
            "basic_auth_user": opt("AQT_BASIC_AUTH_USER"),
            "basic_auth_password": opt("AQT_BASIC_AUTH_PASSWORD"),
            "webhook_secret": opt("AQT_WEBHOOK_SECRET"),
            "thresholds": parse_thresholds(opt("AQT_THRESHOLDS")),
            "model_version": opt("AQT_MODEL_VERSION") or "aqt",
            "max_body_bytes": int(_float(env, "AQT_MAX_BODY_MB", 20.0) * 1024 * 1024),
            "train_debounce": _float(env, "AQT_TRAIN_DEBOUNCE", 2.0),
            "reconcile_interval": _float(env, "AQT_RECONCILE_INTERVAL", 30.0),
        }
        values.update(overrides)
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def can_call_label_studio(self) -> bool:
        return bool(self.label_studio_url and self.api_key)

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = _mask(value) if f.name in SECRET_FIELDS else repr(value)
            parts.append(f"{f.name}={shown}")
        return f"Settings({', '.join(parts)})"

    __str__ = __repr__
