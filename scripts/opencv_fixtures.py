"""Writes golden OpenCV outputs for the kernels crate's tests.

Inputs are synthetic images drawn here from a seeded generator: shapes with sharp edges, smooth
gradients and noise, in odd sizes so that borders and non-integer scale factors are exercised.
Every output is a lossless PNG (u8) or a raw little-endian f32 file, listed in cases.json with the
OpenCV call that made it.
"""
import json
import sys
from pathlib import Path

import cv2
import numpy as np

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(20261122)


def synthetic_rgb(h, w):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    img[..., 0] = 40 + 150 * x / w
    img[..., 1] = 60 + 120 * y / h
    img[..., 2] = 128 + 60 * np.sin(x / 5.0) * np.cos(y / 7.0)
    img[(x - w * 0.35) ** 2 + (y - h * 0.4) ** 2 < (min(h, w) * 0.22) ** 2] = (230, 40, 60)
    img[int(h * 0.55):int(h * 0.85), int(w * 0.55):int(w * 0.9)] = (20, 200, 90)
    img[:, int(w * 0.2)] = 250
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def png(name, arr):
    # OpenCV writes BGR; our files are RGB like the shared fixtures.
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(out / name), arr)
    return name


rgb = synthetic_rgb(47, 61)
gray = cv2.cvtColor(synthetic_rgb(64, 66), cv2.COLOR_RGB2GRAY)
png("in_rgb.png", rgb)
png("in_gray.png", gray)
flt = (rng.random((1, 13, 17)).astype(np.float32) * 2 - 0.5)
flt.tofile(out / "in_float.f32")

sharpen = [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]
odd = [[0.1, -0.35, 0.2], [0.7, 1.3, -0.45], [0.05, 0.25, -0.6], [0.3, 0.0, 0.15], [-0.2, 0.4, 0.1]]
even = [[1, 2, 0, -1], [0, 1, 1, 0], [-1, 0, 2, 1], [0.5, 0.5, -0.5, 0]]
borders = {
    "BORDER_REFLECT_101": cv2.BORDER_REFLECT_101,
    "BORDER_REFLECT": cv2.BORDER_REFLECT,
    "BORDER_REPLICATE": cv2.BORDER_REPLICATE,
    "BORDER_CONSTANT": cv2.BORDER_CONSTANT,
}
cases = []


def add(case, result):
    name = f"out_{len(cases):02d}_{case['op']}.png"
    case["output"] = png(name, result)
    cases.append(case)


for src_name, src in [("in_rgb.png", rgb), ("in_gray.png", gray)]:
    for kname, k in [("sharpen", sharpen), ("odd5x3", odd), ("even4x4", even)]:
        for bname, b in borders.items():
            if kname != "sharpen" and bname not in ("BORDER_REFLECT_101", "BORDER_CONSTANT"):
                continue
            r = cv2.filter2D(src, -1, np.array(k, np.float32), borderType=b)
            add({"op": "filter2D", "input": src_name, "kernel": k, "ddepth": -1, "border": bname}, r)
    for ks, sx, sy in [((3, 3), 0, 0), ((5, 5), 0, 0), ((7, 7), 0, 0), ((7, 7), 1.5, 0), ((0, 0), 2.0, 0),
                       ((5, 3), 1.2, 0.7), ((9, 9), 0, 0), ((3, 5), 0, 0)]:
        r = cv2.GaussianBlur(src, ks, sigmaX=sx, sigmaY=sy)
        add({"op": "GaussianBlur", "input": src_name, "ksize": list(ks), "sigmaX": sx, "sigmaY": sy,
             "border": "BORDER_REFLECT_101"}, r)
    blurred = cv2.GaussianBlur(src, (3, 3), 0)
    png("blur_" + src_name, blurred)
    for lo, hi, l2 in [(50, 150, False), (20, 60, False), (150, 50, False), (50, 150, True), (10.5, 40.7, False)]:
        r = cv2.Canny(blurred, lo, hi, L2gradient=l2)
        add({"op": "Canny", "input": "blur_" + src_name, "threshold1": lo, "threshold2": hi, "apertureSize": 3,
             "L2gradient": l2}, r)
        r = cv2.Canny(src, lo, hi, L2gradient=l2)
        add({"op": "Canny", "input": src_name, "threshold1": lo, "threshold2": hi, "apertureSize": 3,
             "L2gradient": l2}, r)
    h, w = src.shape[:2]
    for dw, dh in [(w // 2, h // 2), (w // 3, h // 3), (23, 19), (40, 30), (w * 2 + 5, h * 2 + 3), (w + 7, h // 2)]:
        r = cv2.resize(src, (dw, dh), interpolation=cv2.INTER_AREA)
        add({"op": "resize", "input": src_name, "width": dw, "height": dh, "interpolation": "INTER_AREA"}, r)

# f32 input: filter2D keeps f32 (no rounding).
r = cv2.filter2D(flt[0], -1, np.array(odd, np.float32), borderType=cv2.BORDER_REFLECT_101)
r.astype(np.float32).tofile(out / "out_float_filter2D.f32")
cases.append({"op": "filter2D", "input": "in_float.f32", "shape": [1, 13, 17], "kernel": odd, "ddepth": -1,
              "border": "BORDER_REFLECT_101", "output": "out_float_filter2D.f32"})

(out / "cases.json").write_text(json.dumps(
    {"opencv_version": cv2.__version__, "color_order": "PNG files are RGB (or single-channel gray)",
     "cases": cases}, indent=1))
print(f"wrote {len(cases)} cases with OpenCV {cv2.__version__} to {out}")
