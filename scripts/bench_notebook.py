"""Notebook speed: the seed CNNs' training steps through the Rust (evcxr) Jupyter kernel against
the same steps in the release benchmark binary, alternating, in one run; plus the kernel's own
costs (cold first-cell build, warm `:dep`, a trivial cell). See scripts/bench-notebook.

Usage: bench_notebook.py <bench-binary> [--steps N] [--rounds R] [--cold] [--predict] [models...]
Prints `ratio=<notebook/benchmark>` per model (best of R rounds each side); not a test.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from jupyter_client.manager import KernelManager

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["cifar10_cnn", "fingers_cnn_bn", "asl_cnn", "faces_alexnet"]
DEP = f':dep candlebook = {{ path = "{ROOT / "crates" / "candlebook"}" }}\nuse candlebook::prelude::*;'


class Kernel:
    """One evcxr kernel, started as Jupyter starts it (the registered "rust" kernel spec)."""

    def __init__(self, env=None):
        self.km = KernelManager(kernel_name="rust")
        if env:
            self.km.kernel_spec.env.update(env)
        self.km.start_kernel(cwd=str(ROOT / "notebooks"))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    def run(self, code, timeout=3600):
        """(seconds until the kernel is idle again, printed text); raises on a cell error."""
        start = time.perf_counter()
        msg_id = self.kc.execute(code)
        text, error = [], None
        while True:
            msg = self.kc.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                text.append(content["text"])
            elif kind == "error":
                error = "\n".join(content.get("traceback", [])) or content.get("evalue", "")
            elif kind == "status" and content["execution_state"] == "idle":
                break
        elapsed = time.perf_counter() - start
        # evcxr can deliver a cell's last output lines just after it reports idle
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.5)
            except Exception:
                break
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
                text.append(msg["content"]["text"])
        if error:
            raise RuntimeError(f"cell failed:\n{code}\n{error}")
        return elapsed, "".join(text)

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def rate(text):
    for tok in text.split():
        if tok.startswith("img_per_s="):
            return float(tok.split("=", 1)[1])
    raise RuntimeError(f"no img_per_s in output: {text!r}")


def cell(name, steps, mode):
    method = "training" if mode == "train" else "inference"
    return (
        f'let (model, batch) = candlebook::models::throughput::seed_cnn("{name}", &Device::Cpu)?;\n'
        f"let rate = candlebook::models::throughput::Throughput::new(&model, batch)?.{method}({steps})?;\n"
        f'println!("img_per_s={{rate:.1}}");'
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench")
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cold", action="store_true", help="first empty the build folder and time the first cell (minutes)")
    ap.add_argument("--predict", action="store_true", help="also compare inference (predict) throughput")
    ap.add_argument("models", nargs="*")
    a = ap.parse_args()
    # The same two threads on both sides, as scripts/bench-train gives candlebook and Keras.
    os.environ.update(RAYON_NUM_THREADS="2", CANDLE_NUM_THREADS="2")

    if a.cold:
        # The shared build folder emptied: what a fresh clone's first notebook cell compiles.
        shutil.rmtree(Path(os.environ["EVCXR_TMPDIR"]) / "target", ignore_errors=True)
        k = Kernel()
        secs, _ = k.run(DEP)
        k.close()
        print(f"cold first cell (:dep + use, empty build folder): {secs:.1f} s", flush=True)

    k = Kernel()
    k.run(DEP)  # builds the shared folder if it is not built yet
    k.close()
    k = Kernel()
    warm, _ = k.run(DEP)
    trivial = [k.run("let answer: i32 = 6 * 7;\nanswer")[0] for _ in range(9)]
    print(f"warm :dep in a fresh kernel: {warm:.2f} s; trivial cell: median {statistics.median(trivial):.2f} s "
          f"(min {min(trivial):.2f}, max {max(trivial):.2f}, {len(trivial)} cells)", flush=True)

    modes = ["train", "predict"] if a.predict else ["train"]
    for name in a.models or MODELS:
        for mode in modes:
            best = {"notebook": 0.0, "benchmark": 0.0}
            for _ in range(a.rounds):
                _, text = k.run(cell(name, a.steps, mode))
                best["notebook"] = max(best["notebook"], rate(text))
                out = subprocess.run([a.bench, name, str(a.steps), mode], capture_output=True, text=True)
                if out.returncode != 0:
                    raise SystemExit(f"benchmark run failed for {name}:\n{out.stderr[-2000:]}")
                best["benchmark"] = max(best["benchmark"], rate(out.stdout))
            print(f"{name:16s} {mode:7s} notebook={best['notebook']:8.1f} img/s  benchmark={best['benchmark']:8.1f} img/s  "
                  f"ratio={best['notebook'] / best['benchmark']:.2f}", flush=True)
    k.close()


if __name__ == "__main__":
    main()
