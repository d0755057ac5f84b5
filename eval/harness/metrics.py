"""Generic classification metrics, kept free of chat2task types so they are easy to test
by hand: confusion matrices, per-class and macro F1, a cluster bootstrap, calibration.

Everything works on additive statistics (counts, confusion matrices, sums) so that the
bootstrap can resample whole conversations by adding up their statistics.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Statistic = Callable[[NDArray[np.float64]], float]


def token_f1(got: str, want: str) -> float:
    """Bag-of-words F1 between two titles, case-insensitive (SQuAD-style)."""
    got_tokens = Counter(re.findall(r"\w+", got.casefold()))
    want_tokens = Counter(re.findall(r"\w+", want.casefold()))
    common = sum((got_tokens & want_tokens).values())
    if not common:
        return 0.0
    precision = common / sum(got_tokens.values())
    recall = common / sum(want_tokens.values())
    return 2 * precision * recall / (precision + recall)


def confusion_matrix(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]
) -> NDArray[np.float64]:
    """Counts with gold labels as rows and predictions as columns, in ``labels`` order."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)))
    for want, got in zip(gold, predicted, strict=True):
        matrix[index[want], index[got]] += 1
    return matrix


def accuracy(confusion: NDArray[np.float64]) -> float:
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total else float("nan")


def f1_per_class(confusion: NDArray[np.float64]) -> NDArray[np.float64]:
    """F1 = 2tp / (2tp + fp + fn) per class; NaN for a class nobody has or predicts, so
    that a class absent from a (resampled) set does not count as a failure."""
    tp = np.diag(confusion)
    fp = confusion.sum(axis=0) - tp
    fn = confusion.sum(axis=1) - tp
    denominator = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * tp / denominator, np.nan)


def macro_f1(confusion: NDArray[np.float64]) -> float:
    """Unweighted mean of the per-class F1 over the classes present in gold or predicted."""
    scores = f1_per_class(confusion)
    return float(np.nanmean(scores)) if not np.isnan(scores).all() else float("nan")


def per_class(
    confusion: NDArray[np.float64], labels: Sequence[str]
) -> dict[str, dict[str, float | int]]:
    """Precision, recall, F1 and support per class (0.0 where a ratio has no denominator)."""
    tp = np.diag(confusion)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    f1 = np.nan_to_num(f1_per_class(confusion))
    return {
        label: {
            "precision": rounded(tp[i] / predicted[i]) if predicted[i] else 0.0,
            "recall": rounded(tp[i] / support[i]) if support[i] else 0.0,
            "f1": rounded(f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }


def ratio(totals: NDArray[np.float64]) -> float:
    """``numerator / denominator`` of a summed ``[numerator, denominator]`` pair."""
    return float(totals[0] / totals[1]) if totals[1] else float("nan")


def bootstrap_ci(
    unit_stats: NDArray[np.float64],
    statistic: Statistic,
    *,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of ``statistic`` over resamples of whole units.

    ``unit_stats[i]`` holds unit *i*'s additive statistics (a ``[hits, n]`` pair, a
    confusion matrix); each resample draws as many units as there are, with replacement,
    and applies ``statistic`` to their sum. Resampling conversations rather than messages
    keeps the interval honest: messages of one conversation are not independent.
    Resamples where the statistic is undefined (NaN, e.g. no denominator) are dropped.
    """
    if len(unit_stats) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(unit_stats), size=(resamples, len(unit_stats)))
    values = np.array([statistic(unit_stats[row].sum(axis=0)) for row in picks])
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True, slots=True)
class Calibration:
    """Expected calibration error and the reliability-diagram data behind it."""

    ece: float
    bins: list[dict[str, float | int]]


def calibration(
    confidence: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> Calibration:
    """ECE over ``bins`` equal-width confidence bins: Σ (n_b / N) · |accuracy_b − confidence_b|.

    Bin *b* holds confidences in ``(b/bins, (b+1)/bins]`` (0 goes to the first bin). Empty
    bins are listed with ``count`` 0 so the diagram keeps its axis.
    """
    conf = np.asarray(confidence, dtype=float)
    hits = np.asarray(correct, dtype=float)
    which = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    rows: list[dict[str, float | int]] = []
    ece = 0.0
    for b in range(bins):
        mask = which == b
        count = int(mask.sum())
        row: dict[str, float | int] = {
            "low": rounded(b / bins),
            "high": rounded((b + 1) / bins),
            "count": count,
        }
        if count:
            mean_conf, acc = float(conf[mask].mean()), float(hits[mask].mean())
            row |= {"confidence": rounded(mean_conf), "accuracy": rounded(acc)}
            ece += count / len(conf) * abs(acc - mean_conf)
        rows.append(row)
    return Calibration(ece=rounded(ece) if len(conf) else float("nan"), bins=rows)


def rounded(value: float) -> float:
    """Four decimals: enough for any rate here, short enough to read in JSON."""
    return round(float(value), 4)
