"""Writes a notebook from its cell sources (see 00.py, 02.py): markdown and code as text, accuracy bars
for tests/check_notebooks.py in the cells' metadata, and the outputs of code cells whose source did
not change kept from the notebook on disk."""

import json


def lines(text):
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + [parts[-1]]


def build(NB, CELLS, BARS):
    old = {}
    if NB.exists():
        for c in json.loads(NB.read_text())["cells"]:
            old["".join(c["source"])] = c
    cells = []
    for i, (kind, text) in enumerate(CELLS):
        prev = old.get(text)
        if kind == "md":
            cell = {"cell_type": "markdown", "id": f"c{i:02d}", "metadata": {}, "source": lines(text)}
        else:
            cell = {"cell_type": "code", "execution_count": None, "id": f"c{i:02d}", "metadata": {}, "outputs": [], "source": lines(text)}
            if prev is not None and prev["cell_type"] == "code":
                cell["outputs"] = prev.get("outputs", [])
                cell["execution_count"] = prev.get("execution_count")
            for key, bars in BARS.items():
                if text.startswith(key):
                    cell["metadata"]["candlebook"] = {"bars": bars}
        cells.append(cell)
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Rust", "language": "rust", "name": "rust"},
            "language_info": {"codemirror_mode": "rust", "file_extension": ".rs", "mimetype": "text/rust", "name": "Rust", "pygment_lexer": "rust", "version": ""},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    NB.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


