"""Training across notebook cells, through the real evcxr kernel (run by scripts/test).

evcxr compiles every cell into its own library with its own copy of candle, whose tensor ids
start again at 1 in each cell. A model whose layers were added in different cells, or that was
built in one cell and trained in another, must still train: on the fast CPU kernels and on the
device path (CANDLEBOOK_CPU_KERNELS=generic, what CUDA and Metal run). This session builds models
the way a Keras user does, one `add` per cell, trains them in later cells, switches the kernel to
the device path and does it again, and checks that every fit ran and lowered its loss.

Usage: python tests/kernel_cells.py   (after `source scripts/env.sh`; exit status 1 on a failure)
"""
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent

DATA = """use candlebook::prelude::*;
let device = best_device();
let x = Tensor::rand(0f32, 1f32, (96, 1, 28, 28), &device)?;
let classes: Vec<u32> = (0..96u32).map(|i| i % 24).collect();
// brighten one row per class, so there is something to learn
let x = (x / 4.0)?;
let marks: Vec<f32> = (0..96 * 28).map(|i| if (i % 28) as u32 == classes[i / 28] { 0.75 } else { 0.0 }).collect();
let x = x.broadcast_add(&Tensor::from_vec(marks, (96, 1, 28, 1), &device)?)?;
let y = to_categorical(&Tensor::new(classes.as_slice(), &device)?, 24)?;
println!("data {:?} {:?}", x.dims(), y.dims());"""


def session(tag):
    """Cells that build two models across cells and train them in later ones."""
    return [
        f'println!("SESSION {tag}");\nlet device = best_device();',
        "let mut zoo_model = zoo::asl_cnn(&device)?;",
        "zoo_model.compile(Optimizer::rmsprop(), Loss::categorical_crossentropy(), true);",
        "let history = zoo_model.fit(&x, &y, Fit::new().epochs(3).batch_size(32).validation_data(&x, &y))?;",
        f'println!("CHECK {tag} zoo {{:?}}", history.get("loss").unwrap());',
        "let mut small = Sequential::new(Input::image(28, 28, 1), &device).seed(1);\n"
        "small.add(Conv2D::new(8, (3, 3)).activation(Activation::Relu))?;",
        "small.add(BatchNormalization::new())?;\nsmall.add(MaxPooling2D::new((2, 2)))?;",
        "small.add(Flatten::new())?;",
        "small.add(Dense::new(24).activation(Activation::Softmax))?;\n"
        "small.compile(Optimizer::adam(), Loss::categorical_crossentropy(), true);",
        "let history = small.fit(&x, &y, Fit::new().epochs(4).batch_size(16))?;",
        f'println!("CHECK {tag} small {{:?}}", history.get("loss").unwrap());',
    ]


def main():
    cells = [':dep candlebook = { path = "%s" }' % (ROOT / "crates" / "candlebook"), DATA]
    cells += session("fast")
    # The switch is read once per cell library, so setting it here moves every later cell
    # (and the models built above, when trained there) onto the device path.
    cells += ['unsafe { std::env::set_var("CANDLEBOOK_CPU_KERNELS", "generic") };']
    cells += session("device-path")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    client = NotebookClient(nb, kernel_name="rust", timeout=1800, resources={"metadata": {"path": str(ROOT / "tests")}})
    try:
        client.execute()
    except CellExecutionError as e:
        print(f"FAILED: a cell raised:\n{e}", file=sys.stderr)
        return 1
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream")
    failures = []
    shown = re.search(r"SESSION device-path\s*device: ([^\n]*)", text)
    if not shown or "generic device-path kernels" not in shown.group(1):
        failures.append("the kernel did not switch to the device path")
    checks = re.findall(r"CHECK (\S+) (\S+) \[([^\]]*)\]", text)
    if len(checks) != 4:
        failures.append(f"expected 4 trainings, found {len(checks)}")
    for path, model, losses in checks:
        values = [float(v) for v in losses.split(",")]
        ok = all(v == v and abs(v) != float("inf") for v in values) and values[-1] < values[0]
        print(f"{'ok' if ok else 'FAILED':6} {path:12} {model:6} losses {', '.join(f'{v:.4f}' for v in values)}")
        if not ok:
            failures.append(f"{path} {model}: loss did not fall ({values})")
    for f in failures:
        print(f"FAILED: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
