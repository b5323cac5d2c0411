"""Runs our batch sharpen and OpenCV's per-image loop alternately; prints medians and the ratio."""
import re
import statistics
import subprocess
import sys
import time

import cv2
import numpy as np

binary = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 60_000
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
threads = cv2.getNumThreads()

rng = np.random.default_rng(0)
images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
kernel = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])


def opencv_loop():
    # The tutorial's loop: one cv2.filter2D call per image, written back in place.
    x = images.copy()
    t = time.perf_counter()
    for i in range(len(x)):
        x[i] = cv2.filter2D(src=x[i], ddepth=-1, kernel=kernel)
    return time.perf_counter() - t


ours, theirs = [], []
for _ in range(reps):
    out = subprocess.run([binary, str(n), "1"], check=True, capture_output=True, text=True).stdout
    ours.append(float(re.search(r"seconds=([0-9.]+)", out).group(1)))
    theirs.append(opencv_loop())

o, c = statistics.median(ours), statistics.median(theirs)
print(f"sharpen {n} RGB 32x32 images, median of {reps} alternating runs (OpenCV {cv2.__version__}, {threads} threads)")
print(f"  candlebook-kernels filter2d (one batch call): {n / o:12,.0f} images/s  ({o:.3f} s)")
print(f"  OpenCV cv2.filter2D loop (the tutorial's):   {n / c:12,.0f} images/s  ({c:.3f} s)")
print(f"  ratio={c / o:.2f} (ours / OpenCV, images/s)")
