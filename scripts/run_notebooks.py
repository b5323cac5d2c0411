"""Runs notebooks with the evcxr kernel through nbclient; see scripts/run-notebooks."""
import argparse
import base64
import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent


def figures(nb):
    """(cell index, output index, png bytes) for every inline PNG."""
    for ci, cell in enumerate(nb.cells):
        for oi, out in enumerate(cell.get("outputs", [])):
            data = out.get("data", {})
            if "image/png" in data:
                yield ci, oi, base64.b64decode(data["image/png"])


def run(path: Path, out_dir: Path, inplace: bool, timeout: int) -> bool:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="rust",
        timeout=timeout,
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=False,
        record_timing=True,
    )
    start = time.time()
    ok = True
    try:
        client.execute()
    except CellExecutionError as e:
        ok = False
        print(f"FAILED {path.name}:\n{e}", file=sys.stderr)
    elapsed = time.time() - start
    (out_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / "notebooks" / path.name)
    fig_dir = out_dir / "figures" / path.stem
    if fig_dir.exists():
        shutil.rmtree(fig_dir)
    fig_dir.mkdir(parents=True)
    n = 0
    for ci, oi, png in figures(nb):
        (fig_dir / f"cell{ci:02d}-{oi}.png").write_bytes(png)
        n += 1
    status = "ok" if ok else "FAILED"
    print(f"{status:6} {path.name}: {elapsed:.1f} s, {n} figures -> {fig_dir}")
    if ok and inplace:
        nbformat.write(nb, path)
        print(f"       outputs written back to {path}")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", help="notebook name prefixes (default: all)")
    ap.add_argument("--out", default=str(ROOT / "out"), help="output folder (default: out/)")
    ap.add_argument("--inplace", action="store_true", help="write outputs back into notebooks/")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per cell (the first cell compiles)")
    args = ap.parse_args()
    books = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.names:
        books = [b for b in books if any(b.name.startswith(n) for n in args.names)]
    if not books:
        sys.exit(f"no notebooks match {args.names}")
    data = os.environ.get("CANDLEBOOK_DATA")
    print(f"data: {data if data else 'generated stand-ins (CANDLEBOOK_DATA is not set)'}")
    results = [run(b, Path(args.out), args.inplace, args.timeout) for b in books]
    if not all(results):
        sys.exit(1)


if __name__ == "__main__":
    main()
