#!/usr/bin/env python3
"""Logistic-regression reference numbers from scikit-learn for candlebook-models.

  bench_logistic.py --fixture [--fingers DIR]
      Writes crates/models/tests/fixtures/logistic_small.json: small synthetic problems generated
      here (numpy default_rng, fixed seeds; no dataset pixels) with sklearn's coefficients,
      probabilities and n_iter, plus sklearn's accuracies on a 300/300 slice of the real fingers data
      (sorted file names, raw 0..255 pixels) when DIR exists. Only accuracy numbers are stored for it.

  bench_logistic.py --bench OURS_BINARY --fingers DIR [--train 2000] [--unit] [--reps 2]
      Runs our example binary, then sklearn's LogisticRegression() on the same files (first TRAIN
      training images by sorted file name, all test images), and prints one line each and the ratio.
      --unit divides pixels by 255 (what the seed's matplotlib imread gave) instead of raw 0..255.
      Each side fits --reps times and reports its fastest wall time (the machine is shared).
"""
import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "crates", "models", "tests", "fixtures", "logistic_small.json")


def synthetic(seed, n, f, k, scale):
    """Gaussian blobs: class means on a random direction, unit noise, times `scale`."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, 1.5, size=(k, f))
    y = np.arange(n) % k
    rng.shuffle(y)
    x = (means[y] + rng.normal(0.0, 1.0, size=(n, f))) * scale
    # Round to values exactly representable in f32 so both sides see the same data.
    return x.astype(np.float32).astype(np.float64), y.astype(np.int64)


def fit_case(name, seed, n, f, k, scale, **params):
    x, y = synthetic(seed, n, f, k, scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lm = LogisticRegression(**params).fit(x, y)
    proba = lm.predict_proba(x)
    return {
        "name": name,
        "params": {"C": params.get("C", 1.0), "max_iter": params.get("max_iter", 100), "tol": params.get("tol", 1e-4)},
        "n": n,
        "f": f,
        "x": x.ravel().tolist(),
        "y": y.tolist(),
        "coef": lm.coef_.ravel().tolist(),
        "coef_rows": int(lm.coef_.shape[0]),
        "intercept": lm.intercept_.tolist(),
        "proba": proba.ravel().tolist(),
        "n_iter": int(lm.n_iter_[0]),
        "train_acc": float(lm.score(x, y)),
    }


def load_fingers(folder, limit=None, unit=False):
    from PIL import Image

    names = sorted(p for p in os.listdir(folder) if p.endswith(".png"))
    if limit is not None:
        names = names[:limit]
    x = np.empty((len(names), 128 * 128), dtype=np.float32)
    y = np.empty(len(names), dtype=np.int64)
    for i, name in enumerate(names):
        x[i] = np.asarray(Image.open(os.path.join(folder, name)).convert("L"), dtype=np.float32).ravel()
        y[i] = int(name[:-4][-2])
    if unit:
        x /= 255.0
    return x, y


def fingers_slice(root, n_train=300, n_test=300):
    xtr, ytr = load_fingers(os.path.join(root, "train"), n_train)
    xte, yte = load_fingers(os.path.join(root, "test"), n_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lm = LogisticRegression().fit(xtr, ytr)
    return {
        "train": n_train,
        "test": n_test,
        "pixels": "raw 0..255, sorted file names, first rows of train/ and test/",
        "train_acc": float(lm.score(xtr, ytr)),
        "test_acc": float(lm.score(xte, yte)),
        "n_iter": int(lm.n_iter_[0]),
    }


def fixture(fingers):
    import sklearn

    cases = [
        # Converged tightly: the optimum is unique, so coefficients must agree closely.
        fit_case("multinomial_tight", 1, 60, 5, 3, 1.0, tol=1e-10, max_iter=1000),
        fit_case("binary_tight", 2, 50, 4, 2, 1.0, C=0.5, tol=1e-10, max_iter=1000),
        fit_case("multinomial_small_c", 3, 80, 6, 4, 1.0, C=0.01, tol=1e-10, max_iter=1000),
        # sklearn's defaults, to compare n_iter and the stopping rule.
        fit_case("multinomial_defaults", 4, 90, 8, 3, 1.0),
        # Unscaled features that stop at max_iter (like raw pixels).
        fit_case("multinomial_max_iter", 5, 60, 10, 3, 50.0, max_iter=15),
    ]
    out = {
        "generated_by": "scripts/bench_logistic.py --fixture",
        "sklearn": sklearn.__version__,
        "cases": cases,
    }
    if fingers and os.path.isdir(os.path.join(fingers, "train")):
        out["fingers_slice"] = fingers_slice(fingers)
    with open(FIXTURE, "w") as fh:
        json.dump(out, fh, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {os.path.relpath(FIXTURE)} ({len(cases)} cases, fingers slice: {'fingers_slice' in out})")


def bench(ours, root, n_train, unit, reps):
    args = [ours, root, str(n_train), f"--reps={reps}"] + (["--unit"] if unit else [])
    res = subprocess.run(args, capture_output=True, text=True)
    sys.stderr.write(res.stderr)
    if res.returncode != 0:
        sys.exit(f"our benchmark failed ({res.returncode})")
    line = [l for l in res.stdout.splitlines() if l.startswith("ours ")][-1]
    print(line, flush=True)
    ours_fit = float(line.split("fit=")[1].split("s")[0])

    xtr, ytr = load_fingers(os.path.join(root, "train"), n_train, unit)
    xte, yte = load_fingers(os.path.join(root, "test"), None, unit)
    fit, cpu = float("inf"), 0.0
    for _ in range(max(reps, 1)):  # the machine is shared: keep the fastest of `reps` fits
        t, c = time.perf_counter(), time.process_time()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            lm = LogisticRegression().fit(xtr, ytr)
        if time.perf_counter() - t < fit:
            fit, cpu = time.perf_counter() - t, time.process_time() - c
    conv = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    print(
        f"sklearn fit={fit:.2f}s cpu={cpu:.2f}s n_iter={int(lm.n_iter_[0])} converged={conv} "
        f"train_acc={lm.score(xtr, ytr):.5f} test_acc={lm.score(xte, yte):.5f}",
        flush=True,
    )
    print(f"ratio={fit / ours_fit:.2f} (sklearn_time/our_time; pixels {'0..1' if unit else 'raw 0..255'}, "
          f"{n_train} train / {len(yte)} test images; seed test accuracy 0.99583)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--fixture", action="store_true")
    p.add_argument("--bench", metavar="OURS_BINARY")
    p.add_argument("--fingers", default=os.path.join(HERE, "..", "..", "shared", "datasets", "fingers"))
    p.add_argument("--train", type=int, default=2000)
    p.add_argument("--unit", action="store_true")
    p.add_argument("--reps", type=int, default=2)
    a = p.parse_args()
    if a.fixture:
        fixture(a.fingers)
    elif a.bench:
        bench(a.bench, a.fingers, a.train, a.unit, a.reps)
    else:
        p.error("give --fixture or --bench")


if __name__ == "__main__":
    main()
