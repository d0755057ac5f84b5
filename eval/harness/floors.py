"""Regression floors: minimum headline values a run must reach (``eval/floors.yaml``).

Floors guard against regressions of the current best system; they are not the product
targets (those are in the README and in :data:`eval.harness.scoring.TARGET`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError

DEFAULT_FLOORS = Path(__file__).resolve().parents[1] / "floors.yaml"


def load_floors(path: Path) -> dict[str, float]:
    """``metric: minimum`` pairs; the metric names are headline keys of metrics.json."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"floors file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"floors file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in data.values()
    ):
        raise ConfigError(f"floors file {path} must map metric names to numbers")
    return {str(k): float(v) for k, v in data.items()}


def broken_floors(headline: dict[str, dict[str, Any]], floors: dict[str, float]) -> list[str]:
    """One line per floor the run's point estimate falls below."""
    unknown = sorted(set(floors) - set(headline))
    if unknown:
        raise ConfigError(f"floors name unknown metrics: {', '.join(unknown)}")
    return [
        f"{name} {headline[name]['value']:.4f} < floor {floor:.4f}"
        for name, floor in floors.items()
        if not headline[name]["value"] >= floor  # NaN breaks the floor too
    ]
