"""Row-wise (log-)softmax over label scores, in numpy: the one place scoring normalises.

The network's logits, the exit head's, and their blends with the lexical head's scores all go
through these; numpy is imported on use, as everywhere on the CLI path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Log-probabilities of each row of scores ``z`` (n x k); idempotent on log-probabilities."""
    import numpy as np

    z = z - z.max(axis=1, keepdims=True)
    return np.asarray(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))


def softmax(z: np.ndarray) -> np.ndarray:
    """Probabilities of each row of scores ``z`` (n x k)."""
    import numpy as np

    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))
