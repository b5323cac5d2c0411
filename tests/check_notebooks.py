"""Checks freshly executed notebooks (scripts/run-notebooks --out DIR) against the committed ones.

For every notebook: no cell raised an error; every code cell that shows a figure in the committed
copy shows one in the fresh run too, and each figure is a real PNG of plausible size; the run on
generated data says so in its output. One exception: a misclassified-images grid has nothing to show
when a model gets every image right, and the library then prints "no misclassified images" instead of
a figure; whether one or zero images are wrong can change with the last bits of floating-point
summation order (AVX-512 or portable kernels), so that cell may lose its figure.

The stand-ins must teach: a committed code cell may carry bars in its metadata,
`"candlebook": {"bars": [...]}`, each checked against the fresh run's output of that cell:
  {"what": "...", "pattern": REGEX, "min": X}            the last number REGEX captures is >= X
  {"what": "...", "pattern": REGEX, "near": REGEX2, "within": D[, "near_cell": J]}
                                                         |last REGEX number - last REGEX2 number| <= D
                                                         (inference-mode vs `fit` accuracy of a
                                                         batch-norm model); REGEX2 is read from
                                                         cell J's output when given
A bar whose pattern matches nothing fails too. Every output is also checked for bare
`Tensor[[..], ..]` debug lines, and every committed notebook must be at most 5 MB.
Prints `notebooks: N passed, M failed`.
Usage: python tests/check_notebooks.py OUT_DIR [NAME_PREFIX ...]
"""
import base64
import io
import re
import sys
from pathlib import Path

import nbformat
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def png_outputs(cell):
    return [base64.b64decode(o["data"]["image/png"]) for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]


def cell_text(cell):
    parts = []
    for o in cell.get("outputs", []):
        parts.append(o.get("text", "") or "")
        parts.append(str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def text_of(nb):
    return "\n".join(cell_text(cell) for cell in nb.cells)


# What the plots crate prints when a figure has nothing to show (see the module doc).
NOTHING_TO_SHOW = "no misclassified images"
MAX_BYTES = 5 * 2**20
TENSOR_DEBUG = re.compile(r"^Tensor\[\[", re.M)


def last_number(pattern, text):
    found = re.findall(pattern, text)
    if not found:
        return None
    last = found[-1]
    return float(last[-1] if isinstance(last, tuple) else last)


def check_bars(i, committed_cell, text, texts):
    problems = []
    for bar in committed_cell.get("metadata", {}).get("candlebook", {}).get("bars", []):
        value = last_number(bar["pattern"], text)
        if value is None:
            problems.append(f"cell {i}: bar '{bar['what']}': nothing in the output matches {bar['pattern']!r}")
            continue
        if "min" in bar and not value >= bar["min"]:
            problems.append(f"cell {i}: {bar['what']} is {value:.4f}, under its bar {bar['min']}")
        if "near" in bar:
            other = last_number(bar["near"], texts[bar["near_cell"]] if "near_cell" in bar else text)
            if other is None:
                problems.append(f"cell {i}: bar '{bar['what']}': nothing in the output matches {bar['near']!r}")
            elif not abs(value - other) <= bar["within"]:
                problems.append(f"cell {i}: {bar['what']}: {value:.4f} vs {other:.4f}, more than {bar['within']} apart")
    return problems


def check(committed: Path, fresh: Path) -> list:
    problems = []
    if not fresh.exists():
        return [f"{fresh} was not written (the notebook did not run)"]
    if committed.stat().st_size > MAX_BYTES:
        problems.append(f"the committed notebook is {committed.stat().st_size / 2**20:.1f} MB, over {MAX_BYTES // 2**20} MB")
    a, b = nbformat.read(committed, 4), nbformat.read(fresh, 4)
    if len(a.cells) != len(b.cells):
        return [f"cell count differs: committed {len(a.cells)}, fresh {len(b.cells)}"]
    figures = 0
    texts = [cell_text(c) for c in b.cells]
    for i, (ca, cb) in enumerate(zip(a.cells, b.cells)):
        if ca.cell_type != "code":
            continue
        for o in cb.get("outputs", []):
            if o.get("output_type") == "error":
                problems.append(f"cell {i}: {o.get('ename')}: {o.get('evalue')}")
        text = cell_text(cb)
        if TENSOR_DEBUG.search(text) or TENSOR_DEBUG.search(cell_text(ca)):
            problems.append(f"cell {i}: prints a bare Tensor debug line")
        problems += check_bars(i, ca, text, texts)
        want, got = png_outputs(ca), png_outputs(cb)
        if len(got) < len(want) and not (len(got) == 0 and NOTHING_TO_SHOW in cell_text(cb)):
            problems.append(f"cell {i}: committed copy shows {len(want)} figure(s), fresh run {len(got)}")
        for png in got:
            img = Image.open(io.BytesIO(png))
            img.load()
            if img.width < 100 or img.height < 50:
                problems.append(f"cell {i}: figure of {img.width}x{img.height} is too small")
            figures += 1
    if figures == 0:
        problems.append("no figures at all")
    if "GENERATED DATA" not in text_of(b) and "REAL DATA" not in text_of(b):
        problems.append("the output never says whether it used generated or real data")
    print(f"  {committed.name}: {figures} figures checked")
    return problems


def main():
    out = Path(sys.argv[1])
    prefixes = sys.argv[2:]
    books = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if prefixes:
        books = [b for b in books if any(b.name.startswith(p) for p in prefixes)]
    passed = failed = 0
    for nb in books:
        problems = check(nb, out / "notebooks" / nb.name)
        if problems:
            failed += 1
            print(f"FAILED {nb.name}:\n  " + "\n  ".join(problems))
        else:
            passed += 1
    print(f"notebooks: {passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
