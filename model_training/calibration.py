"""Temperature scaling (Guo et al., 2017) and the workflow's acceptance metrics.

The filter Lambda accepts a prediction when its top probability is >= 0.93, so what matters
is coverage (share accepted) and accuracy among the accepted. One temperature, fitted on the
out-of-fold predictions of train/ by minimising the negative log-likelihood, trades over-confidence for that.
"""

from __future__ import annotations

import numpy as np

# A grid search is exact enough for one parameter and never diverges; the bounds keep a
# perfectly classified held-out set from driving the temperature towards zero.
_GRID = np.exp(np.linspace(np.log(0.2), np.log(10.0), 801))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    probs = softmax(logits, temperature)
    return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None)).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    losses = [nll(logits, labels, t) for t in _GRID]
    return float(_GRID[int(np.argmin(losses))])


def acceptance(probs: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    """Coverage and accuracy among the predictions whose top probability reaches `threshold`."""
    accepted = probs.max(axis=1) >= threshold
    correct = probs.argmax(axis=1) == labels
    n = int(accepted.sum())
    return {
        "threshold": threshold,
        "accepted": n,
        "coverage": n / len(labels),
        "accuracy_at_threshold": float(correct[accepted].mean()) if n else None,
    }


def confusion_matrix(probs: np.ndarray, labels: np.ndarray, classes: int = 2) -> list[list[int]]:
    """rows = true label, columns = predicted label."""
    matrix = np.zeros((classes, classes), dtype=int)
    np.add.at(matrix, (labels, probs.argmax(axis=1)), 1)
    return matrix.tolist()
