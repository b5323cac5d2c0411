"""Writes sklearn_classification_report.json into the folder given as the only argument.

Each case: integer class labels and predictions drawn from a seeded numpy generator, the number
of classes K, optional class names and the digits; scikit-learn's classification_report text for
them, called with labels=range(K) (so every class 0..K-1 has a row, as ours does), and the
per-class numbers of precision_recall_fscore_support. Zero divisions use sklearn's default
(zero_division="warn": 0.0, with a warning, silenced here).
"""
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import sklearn
from sklearn.metrics import accuracy_score, classification_report, precision_recall_fscore_support

OUT = Path(sys.argv[1])
warnings.filterwarnings("ignore")


def noisy(rng, y, k, right):
    """Predictions equal to y with probability `right`, else a uniformly drawn class."""
    p = y.copy()
    flip = rng.random(len(y)) >= right
    p[flip] = rng.integers(0, k, flip.sum())
    return p


def main():
    cases = []

    def case(name, y, p, k, names=None, digits=2):
        y, p = [int(v) for v in y], [int(v) for v in p]
        labels = list(range(k))
        text = classification_report(y, p, labels=labels, target_names=names, digits=digits)
        prec, rec, f1, sup = precision_recall_fscore_support(y, p, labels=labels, average=None)
        cases.append({
            "name": name, "labels": y, "predictions": p, "n_classes": k, "class_names": names, "digits": digits,
            "text": text, "accuracy": float(accuracy_score(y, p)),
            "precision": [float(v) for v in prec], "recall": [float(v) for v in rec],
            "f1": [float(v) for v in f1], "support": [int(v) for v in sup],
        })

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    case("binary", y, noisy(rng, y, 2, 0.7), 2)
    y = rng.integers(0, 2, 60)
    case("binary_named_digits_4", y, noisy(rng, y, 2, 0.8), 2, ["no defect", "defect"], 4)
    # the seed's multiclass labels: 0 = no defect, 1..4 = defect classes, unbalanced
    y = rng.choice(5, 300, p=[0.45, 0.1, 0.05, 0.3, 0.1])
    names5 = ["no defect", "class 1", "class 2", "class 3", "class 4"]
    case("five_classes", y, noisy(rng, y, 5, 0.6), 5, names5)
    case("five_classes_digits_4", y, noisy(rng, y, 5, 0.6), 5, names5, 4)
    case("five_classes_unnamed_digits_3", y, noisy(rng, y, 5, 0.5), 5, None, 3)
    # class 2 is never predicted (precision 0/0 -> 0.00)
    y = rng.integers(0, 4, 80)
    p = noisy(rng, y, 4, 0.7)
    p[p == 2] = 1
    case("class_never_predicted", y, p, 4, ["a", "b", "c", "d"])
    # class 3 never in the labels but named (recall 0/0 -> 0.00), and predicted a few times
    y = rng.integers(0, 3, 50)
    p = noisy(rng, y, 4, 0.7)
    case("class_absent_from_labels_but_predicted", y, p, 4, ["zero", "one", "two", "three"])
    # class 3 in neither list: a row of zeros with support 0, counted in the macro average
    p = noisy(rng, y, 3, 0.7)
    case("class_absent_everywhere", y, p, 4, ["zero", "one", "two", "three"], 4)
    # a name longer than "weighted avg" widens the first column
    y = rng.integers(0, 3, 40)
    case("long_name", y, noisy(rng, y, 3, 0.8), 3, ["x", "a rather long class name", "z"])
    # every prediction right, and digits 1 and 0
    case("perfect_digits_1", y, y, 3, None, 1)
    case("digits_0", y, noisy(rng, y, 3, 0.6), 3, None, 0)
    # ties at the rounding digit (values like 0.125, 0.375, 0.625 round half to even in Python)
    case("ties", [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], 2)
    doc = {
        "generated_by": "scripts/make-sklearn-fixtures",
        "versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "python": sys.version.split()[0]},
        "what": "classification_report(labels, predictions, labels=range(n_classes), target_names=class_names, digits=digits)",
        "cases": cases,
    }
    (OUT / "sklearn_classification_report.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUT / 'sklearn_classification_report.json'}")


if __name__ == "__main__":
    main()
