"""Thresholds and settings: defaults in code, mirrored by ``configs/thresholds.toml``.

Unknown keys are errors (a typo must not silently fall back to a default). Front ends accept
``--config PATH`` and ``--set key=value``; both go through :func:`load_thresholds`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from aqt.errors import ConfigError, truncate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Thresholds", "load_thresholds", "parse_set_options"]


@dataclass(frozen=True)
class Thresholds:
    """Quality thresholds; see ``configs/thresholds.toml`` for why each value is what it is."""

    #: calibration gate and final IAA: Krippendorff's lowest bound for tentative conclusions
    alpha_gate: float = 0.667
    #: the level Krippendorff calls reliable; reports show it as the target
    alpha_target: float = 0.8
    #: an item whose observed pairwise agreement is below this goes to adjudication
    item_agreement: float = 0.5
    #: an annotator whose kappa with peers drops below this is flagged (Landis-Koch "moderate")
    annotator_kappa: float = 0.4
    #: judgements shared with peers before an annotator can be flagged
    min_shared_items: int = 15
    #: share of full-scale items routed to a second annotator
    overlap_share: float = 0.1
    #: calibration batch size bounds; outside them aqt warns
    calibration_min: int = 50
    calibration_max: int = 100

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(name: str, current: Any, raw: Any) -> Any:
    target = type(current)
    try:
        if isinstance(raw, str):
            value = target(float(raw)) if target is int else target(raw)
            if target is int and float(raw) != int(float(raw)):
                raise ValueError
            return value
        if target is int and isinstance(raw, float) and not raw.is_integer():
            raise ValueError
        return target(raw)
    except (TypeError, ValueError):
        raise ConfigError(
            f"Threshold {name!r} must be a {target.__name__}, got {raw!r}.",
            fix=f"Set it to a number, e.g. {name}={current}.",
        ) from None


def _apply(base: Thresholds, values: Mapping[str, Any], where: str) -> Thresholds:
    known = {f.name: f for f in fields(Thresholds)}
    unknown = [k for k in values if k not in known]
    if unknown:
        raise ConfigError(
            f"Unknown threshold key(s) {truncate(unknown)} in {where}.",
            fix=f"Use only: {', '.join(known)}.",
        )
    changes = {k: _coerce(k, getattr(base, k), v) for k, v in values.items()}
    return replace(base, **changes)


def parse_set_options(pairs: Iterable[str]) -> dict[str, str]:
    """``["a=1", "b=2"]`` -> ``{"a": "1", "b": "2"}``; a pair without ``=`` is a ConfigError."""
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set expects key=value, got {pair!r}.", fix="Write e.g. --set alpha_gate=0.7.")
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def load_thresholds(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> Thresholds:
    """Defaults, then the ``[thresholds]`` table of a TOML file, then ``overrides``."""
    result = Thresholds()
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"Config file {str(p)!r} does not exist.", fix="Check the --config path.") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML ({exc}).", fix="Fix the syntax in that file.") from None
        extra = [k for k in data if k != "thresholds"]
        if extra:
            raise ConfigError(f"{p}: unknown table(s) {truncate(extra)}.", fix="Put the keys under [thresholds].")
        result = _apply(result, data.get("thresholds", {}), str(p))
    if overrides:
        result = _apply(result, overrides, "--set")
    return result
