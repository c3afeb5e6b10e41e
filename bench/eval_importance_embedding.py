"""Does the headline text itself predict next-hour moves? A learned probe on the model's embedding.

The shipped importance uses a few readable features, none of which predicts abnormal
next-hour moves on the shared data (``flushwatch model calibrate``). This checks the strongest
text-only alternative we could ship cheaply: a logistic regression on the fine-tuned encoder's
384-d mean-pooled embedding of each title, its L2 strength chosen by 5-fold cross-validated
AUC on the earlier span of one headline set, then measured on that set's later span and on
the other set entirely. Same events and labels as ``nlp/calibrate.py``.

Prints one line per set. Usage: ``python bench/eval_importance_embedding.py``.
"""

from __future__ import annotations

import sys
from typing import Any


def embed(titles: list[str]) -> Any:
    import numpy as np
    import torch

    from flushwatch.nlp.scorer import Scorer, shipped_model_dir
    from flushwatch.nlp.train import clean_text

    tokenizer, net = Scorer._merged_net(shipped_model_dir())
    ids = [i[:64] for i in tokenizer([clean_text(t) or "." for t in titles])["input_ids"]]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: dict[int, Any] = {}
    with torch.inference_mode():
        for s in range(0, len(order), 128):
            chunk = order[s : s + 128]
            width = max(len(ids[i]) for i in chunk)
            x = torch.zeros((len(chunk), width), dtype=torch.long)
            m = torch.zeros_like(x)
            for r, i in enumerate(chunk):
                x[r, : len(ids[i])] = torch.tensor(ids[i])
                m[r, : len(ids[i])] = 1
            h = net.encoder(x, m).last_hidden_state
            w = m.unsqueeze(-1).float()
            for i, v in zip(chunk, ((h * w).sum(1) / w.sum(1)).numpy(), strict=True):
                out[i] = v
    return np.stack([out[i] for i in range(len(ids))])


def main() -> None:
    import warnings

    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import roc_auc_score

    from flushwatch.config import shared_data_dir
    from flushwatch.nlp.calibrate import Z, load_cryptocompare, load_cryptonews

    shared = shared_data_dir()
    if shared is None:
        sys.exit("shared data not found: set FLUSHWATCH_SHARED_DATA")
    torch.set_num_threads(2)
    sets = []
    for d in (load_cryptonews(shared), load_cryptocompare(shared)):
        x = embed([e.title for e in d.events])
        y = np.array([int(e.z >= Z) for e in d.events])
        fit = np.array([str(e.at) < d.split for e in d.events])
        sets.append((d.name, x, y, fit))
    for name, x, y, fit in sets:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn's convergence and deprecation notices
            clf = LogisticRegressionCV(Cs=[1e-3, 1e-2, 1e-1, 1.0], cv=5, scoring="roc_auc", max_iter=2000)
            clf.fit(x[fit], y[fit])
        test = roc_auc_score(y[~fit], clf.predict_proba(x[~fit])[:, 1])
        other = [(n, roc_auc_score(oy, clf.predict_proba(ox)[:, 1])) for n, ox, oy, _ in sets if n != name]
        moved = "; ".join(f"on {n}: AUC {a:.3f}" for n, a in other)
        print(f"{name}: fitted on {fit.sum()} (C={clf.C_[0]:g}); later span AUC {test:.3f}; {moved}")


if __name__ == "__main__":
    main()
