#!/usr/bin/env python3
"""scikit-learn's LogisticRegression on the features `clip eval linear-probe --export-features DIR`
wrote, to check our L-BFGS probe: same features, same C, the CLIP paper's settings
(lbfgs, multinomial, max_iter=1000). Not a dependency of clip-ts: run it by hand (Debian's
python3-sklearn) and compare the printed test accuracy with clip-ts's JSON `top1`.

  linear_probe.py DIR --C 0.316 [--sweep]     # --sweep: also choose C itself on the same split

Prints one JSON object: {"C", "test_accuracy", "n_iter", "seconds"[, "sweep"]}.
"""
import argparse
import json
import time

import numpy as np
from sklearn.linear_model import LogisticRegression


def fit(x, y, c):
    model = LogisticRegression(C=c, max_iter=1000, solver="lbfgs")
    model.fit(x, y)
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--C", type=float, required=True)
    parser.add_argument("--sweep", action="store_true", help="choose C on every 5th training row held out, as clip-ts does")
    args = parser.parse_args()
    load = lambda name: np.load(f"{args.dir}/{name}.npy")
    train_x, train_y, test_x, test_y = load("train_x"), load("train_y"), load("test_x"), load("test_y")
    out = {"C": args.C}
    if args.sweep:
        held = np.arange(len(train_y)) % 5 == 0
        scores = {}
        for log_c in np.arange(-6, 6.01, 0.5):
            model = fit(train_x[~held], train_y[~held], 10.0 ** log_c)
            scores[float(10.0 ** log_c)] = float((model.predict(train_x[held]) == train_y[held]).mean())
        out["sweep"] = scores
    start = time.perf_counter()
    model = fit(train_x, train_y, args.C)
    out["seconds"] = time.perf_counter() - start
    out["n_iter"] = int(model.n_iter_.max())
    out["test_accuracy"] = float((model.predict(test_x) == test_y).mean())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
