"""Errors of the Prodigy stand-in (``prodigy.errors``)."""


class RecipeError(Exception):
    """Raised for a recipe that cannot run (bad arguments, missing data)."""


class ConfigValidationError(ValueError):
    """The merged app config is invalid (stand-in only; real Prodigy validates config too)."""


class SessionError(ValueError):
    """An unknown session when ``PRODIGY_ALLOWED_SESSIONS`` is set (stand-in only)."""
