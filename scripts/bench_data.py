"""Benchmark driver for scripts/bench-data: runs the Rust fingers loader (decode and cache
reload) and, in the same run, Python+PIL decoding the same PNG files into one NumPy array; prints
both times and the ratio."""
import glob
import os
import subprocess
import sys
import time

import numpy as np
from PIL import Image


def main():
    exe, fingers = sys.argv[1], sys.argv[2]
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    files = sorted(glob.glob(os.path.join(fingers, "train", "*.png"))) + sorted(glob.glob(os.path.join(fingers, "test", "*.png")))
    if not files:
        print(f"SKIPPED: no PNG files under {fingers}/train and {fingers}/test")
        return
    out = subprocess.run([exe, fingers, str(reps)], check=True, capture_output=True, text=True).stdout
    rust = dict(line.split("=", 1) for line in out.split() if "=" in line)
    env1 = dict(os.environ, RAYON_NUM_THREADS="1")
    out1 = subprocess.run([exe, fingers, str(reps)], check=True, capture_output=True, text=True, env=env1).stdout
    rust1 = dict(line.split("=", 1) for line in out1.split() if "=" in line)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        arr = np.stack([np.asarray(Image.open(f).convert("L")) for f in files])
        best = min(best, time.perf_counter() - t)
    assert arr.shape == (len(files), 128, 128), arr.shape
    decode = float(rust["decode_s"])
    reload = float(rust["cache_reload_s"])
    print(f"fingers: {len(files)} PNGs 128x128 gray from {fingers} (best of {reps})")
    print(f"  Python+PIL decode (1 thread):                 {best:8.3f} s")
    print(f"  candlebook-data decode ({rust['threads']} rayon threads):     {decode:8.3f} s   ratio PIL/ours = {best / decode:.2f}x")
    decode1 = float(rust1["decode_s"])
    print(f"  candlebook-data decode (1 thread, like PIL):  {decode1:8.3f} s   ratio PIL/ours = {best / decode1:.2f}x")
    print(f"  candlebook-data first load (decode + write cache): {float(rust['first_cached_load_s']):.3f} s")
    print(f"  candlebook-data reload from the cache:        {reload:8.3f} s   ratio PIL/cache = {best / reload:.1f}x  (target < 0.3 s)")
    print(f"  machine: {os.cpu_count()} cores; PIL runs on one thread, ours on {rust['threads']}")


if __name__ == "__main__":
    main()
