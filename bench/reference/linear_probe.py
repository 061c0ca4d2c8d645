#!/usr/bin/env python3
"""scikit-learn's LogisticRegression on the features `clip eval linear-probe --export-features DIR`
wrote, to check our L-BFGS probe: same features, same C, the CLIP paper's settings
(lbfgs, multinomial, max_iter=1000). Not a dependency of clip-ts: run it by hand (Debian's
python3-sklearn) and compare the printed test accuracy with clip-ts's JSON `top1`.

  linear_probe.py DIR --C 0.316

Prints one JSON object: {"C", "test_accuracy", "train_accuracy", "n_iter", "seconds"}; the
training-set accuracy bounds what any linear classifier of these features reaches here.
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
    args = parser.parse_args()
    load = lambda name: np.load(f"{args.dir}/{name}.npy")
    train_x, train_y, test_x, test_y = load("train_x"), load("train_y"), load("test_x"), load("test_y")
    out = {"C": args.C}
    start = time.perf_counter()
    model = fit(train_x, train_y, args.C)
    out["seconds"] = time.perf_counter() - start
    out["n_iter"] = int(model.n_iter_.max())
    out["test_accuracy"] = float((model.predict(test_x) == test_y).mean())
    out["train_accuracy"] = float((model.predict(train_x) == train_y).mean())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
