"""Drift: does the captured window look like the test-set predictions the model shipped with?

Two statistics, both against the baseline (`metrics.json` next to the model artifact,
key "test_predictions": [{"path", "label", "probabilities": [p0, p1]}, ...]):

- PSI of top confidence, on the fixed bins CONFIDENCE_BINS:
  PSI = sum over bins of (captured% - baseline%) * ln(captured% / baseline%), with empty
  bins set to EPSILON. The usual reading: < 0.1 stable, 0.1-0.2 moderate shift,
  > 0.2 significant shift (flagged).
- Class-mix shift: the largest change, in percentage points, of the share of a
  predicted class (for two classes: the change in the predicted-motorcycle share).
  Flagged above CLASS_SHIFT_LIMIT.
"""

from __future__ import annotations

import json
import math
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.labels import LABELS

# Top confidence of a 2-class softmax is >= 0.5; the fine bins near 1 are where a confident
# model's predictions live, so a drop in confidence shows up there first.
CONFIDENCE_BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
EPSILON = 1e-4  # share given to an empty bin so that ln() stays finite
PSI_MODERATE = 0.1
PSI_LIMIT = 0.2
CLASS_SHIFT_LIMIT = 0.15  # 15 percentage points
MIN_RECORDS = 30  # below this the statistics are noisy: reported, marked indicative

PSI_EXPLAINED = (
    "The population stability index (PSI) compares how the captured top confidences spread "
    f"over the bins {list(CONFIDENCE_BINS)} with how the test-set predictions spread: "
    f"sum of (captured share - baseline share) x ln(captured share / baseline share). "
    f"Below {PSI_MODERATE} is stable, {PSI_MODERATE}-{PSI_LIMIT} a moderate shift, "
    f"above {PSI_LIMIT} a significant shift (flagged)."
)
CLASS_SHIFT_EXPLAINED = (
    "The class-mix shift is the largest change in the share of any predicted class between the "
    f"test set and the captured window; above {CLASS_SHIFT_LIMIT:.0%} it is flagged."
)


@dataclass(frozen=True)
class Baseline:
    probabilities: list[tuple[float, ...]]
    path: Path

    @property
    def confidences(self) -> list[float]:
        return [max(p) for p in self.probabilities]

    @property
    def predicted(self) -> list[int]:
        return [max(range(len(p)), key=p.__getitem__) for p in self.probabilities]


def load_baseline(path: Path) -> Baseline | None:
    """The test-set predictions stored with the model's metrics; None if there is none.

    `path` is a metrics.json, or a model.tar.gz holding one (docs/model-artifact.md).
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        if path.name.endswith(".tar.gz"):
            with tarfile.open(path) as tar:
                try:
                    member = tar.extractfile("metrics.json")
                except KeyError:
                    return None
                text = member.read().decode() if member else "{}"
        else:
            text = path.read_text()
        rows = json.loads(text)["test_predictions"]
        probabilities = [tuple(float(v) for v in row["probabilities"]) for row in rows]
    except (ValueError, KeyError, TypeError, OSError, tarfile.TarError) as exc:
        raise HarnessError(
            f"{path} has no usable test_predictions ({type(exc).__name__}: {exc})",
            "retrain (`make train`) or pass another file with --baseline",
        ) from None
    return Baseline(probabilities, path) if probabilities else None


def shares(values: Sequence[float], edges: Sequence[float] = CONFIDENCE_BINS) -> list[float]:
    """Share of values in each bin [edges[i], edges[i+1]); the last bin includes its right edge."""
    counts = [0] * (len(edges) - 1)
    for v in values:
        i = next((i for i in range(len(counts)) if v < edges[i + 1]), len(counts) - 1)
        counts[i] += 1
    total = len(values) or 1
    return [c / total for c in counts]


def psi(actual: Sequence[float], expected: Sequence[float]) -> float:
    """PSI between two share vectors of the same bins."""
    total = 0.0
    for a, e in zip(actual, expected, strict=True):
        a, e = max(a, EPSILON), max(e, EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def class_shares(predicted: Sequence[int], n_classes: int = len(LABELS)) -> list[float]:
    total = len(predicted) or 1
    return [sum(1 for p in predicted if p == k) / total for k in range(n_classes)]


@dataclass(frozen=True)
class Drift:
    psi_confidence: float
    class_shift: float  # largest |captured share - baseline share| of a predicted class
    captured_class_shares: list[float]
    baseline_class_shares: list[float]
    captured_bin_shares: list[float]
    baseline_bin_shares: list[float]
    records: int

    @property
    def flagged(self) -> bool:
        return self.psi_confidence > PSI_LIMIT or self.class_shift > CLASS_SHIFT_LIMIT

    @property
    def verdict(self) -> str:
        reasons = []
        if self.psi_confidence > PSI_LIMIT:
            reasons.append(f"confidence PSI {self.psi_confidence:.2f} > {PSI_LIMIT}")
        elif self.psi_confidence > PSI_MODERATE:
            reasons.append(f"moderate confidence shift (PSI {self.psi_confidence:.2f})")
        if self.class_shift > CLASS_SHIFT_LIMIT:
            reasons.append(f"class mix moved {self.class_shift:.0%} > {CLASS_SHIFT_LIMIT:.0%}")
        head = "DRIFT" if self.flagged else "no drift"
        text = f"{head}: {'; '.join(reasons)}" if reasons else head
        return text + (
            f" (only {self.records} records: indicative)" if self.records < MIN_RECORDS else ""
        )


def compare(confidences: Sequence[float], predicted: Sequence[int], baseline: Baseline) -> Drift:
    captured_bins, baseline_bins = shares(confidences), shares(baseline.confidences)
    n_classes = max(len(LABELS), *(len(p) for p in baseline.probabilities))
    captured_mix = class_shares(predicted, n_classes)
    baseline_mix = class_shares(baseline.predicted, n_classes)
    return Drift(
        psi_confidence=psi(captured_bins, baseline_bins),
        class_shift=max(abs(a - b) for a, b in zip(captured_mix, baseline_mix)),
        captured_class_shares=captured_mix,
        baseline_class_shares=baseline_mix,
        captured_bin_shares=captured_bins,
        baseline_bin_shares=baseline_bins,
        records=len(confidences),
    )
