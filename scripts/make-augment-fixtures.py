"""Writes crates/data/tests/fixtures/keras_augment.json (run through scripts/make-augment-fixtures).

Reference outputs for candlebook-data's ImageDataGenerator-style augmentation: Keras 3's legacy
`ImageDataGenerator.apply_transform` (keras.src.legacy.preprocessing.image; the public
`keras.preprocessing.image` of Keras 3 no longer exports it, tf.keras's compat module
`keras._tf_keras.keras.preprocessing.image` re-exports the same function), which runs
`apply_affine_transform` (SciPy's `ndimage.affine_transform`, order 1, per channel) and then
`flip_axis` for the flips, on channels-last images (H, W, C).

Inputs are generated here (seeded NumPy: smooth gradients, a few shapes, noise; float32 in 0..255).
Parameters are float32-representable, so the Rust side (f32 parameters) hands Keras's matrix
code the very same numbers. Inputs are rounded to 3 decimals before the transforms, outputs after them (file size).

Layout: {"versions": {...}, "images": {name: {"shape": [h, w, c], "data": [...]}},
         "cases": [{"name", "image", "theta", "tx", "ty", "zx", "zy", "flip_horizontal",
                    "flip_vertical", "fill_mode", "cval", "output": [...]}]}
(data row-major in (H, W, C)).
"""
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import keras  # noqa: E402
from keras.src.legacy.preprocessing import image as legacy  # noqa: E402

OUT = Path(sys.argv[1])
OUT.mkdir(parents=True, exist_ok=True)


def f32(v):
    return float(np.float32(v))


def make_image(h, w, c, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for k in range(c):
        a, b = rng.uniform(-1, 1, 2)
        img = 90 + 60 * (a * yy / h + b * xx / w) + 40 * np.sin(xx / w * (3 + k)) * np.cos(yy / h * 2)
        # a bright rectangle, a dark disc, a diagonal bar: edges the interpolation must reproduce
        r0, c0 = rng.integers(1, h // 2), rng.integers(1, w // 2)
        img[r0:r0 + h // 4, c0:c0 + w // 3] = 230 - 20 * k
        cy, cx, rad = rng.uniform(h * 0.4, h * 0.8), rng.uniform(w * 0.4, w * 0.8), min(h, w) / 6
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < rad ** 2] = 15 + 10 * k
        img[np.abs((yy - xx * h / w)) < 1.0] = 200
        img += rng.normal(0, 6, (h, w))
        chans.append(img)
    # rounded to the 3 decimals the fixture stores, so Keras sees exactly the input the test reads
    return np.round(np.clip(np.stack(chans, axis=-1), 0, 255), 3).astype(np.float32)


IMAGES = {
    "square28": make_image(28, 28, 1, 1),
    "wide20x30": make_image(20, 30, 1, 2),
    "rgb16x24": make_image(16, 24, 3, 3),
}

ID = dict(theta=0.0, tx=0.0, ty=0.0, zx=1.0, zy=1.0, flip_horizontal=False, flip_vertical=False)
GEOMETRY = {
    "rotation": dict(theta=23.0),
    "rotation_neg": dict(theta=-141.5),
    "shift": dict(tx=3.25, ty=-4.5),
    "shift_tx": dict(tx=-2.0),
    "shift_ty": dict(ty=5.5),
    "zoom": dict(zx=0.8, zy=1.3),
    "combined": dict(theta=-17.5, tx=1.5, ty=-2.75, zx=1.15, zy=0.9),
    "far": dict(theta=35.0, tx=7.0, ty=-9.0, zx=2.6, zy=3.1),
}
CASES = []
for img in IMAGES:
    for g, p in GEOMETRY.items():
        modes = ["nearest", "constant", "reflect", "wrap"] if g in ("combined", "far") else ["nearest"]
        for mode in modes:
            CASES.append(dict(name=f"{img}/{g}/{mode}", image=img, fill_mode=mode, cval=0.0, **{**ID, **p}))
CASES += [
    dict(name="square28/combined/constant_cval", image="square28", fill_mode="constant", cval=127.5,
         **{**ID, **GEOMETRY["combined"]}),
    dict(name="rgb16x24/rotation/constant_cval", image="rgb16x24", fill_mode="constant", cval=-3.0,
         **{**ID, **GEOMETRY["rotation"]}),
    dict(name="wide20x30/flip_h", image="wide20x30", fill_mode="nearest", cval=0.0, **{**ID, "flip_horizontal": True}),
    dict(name="wide20x30/flip_v", image="wide20x30", fill_mode="nearest", cval=0.0, **{**ID, "flip_vertical": True}),
    dict(name="rgb16x24/flip_both", image="rgb16x24", fill_mode="nearest", cval=0.0,
         **{**ID, "flip_horizontal": True, "flip_vertical": True}),
    dict(name="wide20x30/combined_flip_h/reflect", image="wide20x30", fill_mode="reflect", cval=0.0,
         **{**ID, **GEOMETRY["combined"], "flip_horizontal": True}),
    dict(name="square28/rotation_flip_both/wrap", image="square28", fill_mode="wrap", cval=0.0,
         **{**ID, **GEOMETRY["rotation"], "flip_horizontal": True, "flip_vertical": True}),
    dict(name="square28/identity", image="square28", fill_mode="nearest", cval=0.0, **ID),
]

out_cases = []
for case in CASES:
    for k in ("theta", "tx", "ty", "zx", "zy", "cval"):
        case[k] = f32(case[k])
    x = IMAGES[case["image"]]
    gen = legacy.ImageDataGenerator(fill_mode=case["fill_mode"], cval=case["cval"])
    params = {k: case[k] for k in ("theta", "tx", "ty", "zx", "zy", "flip_horizontal", "flip_vertical")}
    y = gen.apply_transform(x.copy(), params)
    # the same as apply_affine_transform + flip_axis, called directly (channels last)
    z = legacy.apply_affine_transform(x.copy(), params["theta"], params["tx"], params["ty"], 0, params["zx"],
                                      params["zy"], row_axis=0, col_axis=1, channel_axis=2,
                                      fill_mode=case["fill_mode"], cval=case["cval"], order=1)
    if params["flip_horizontal"]:
        z = legacy.flip_axis(z, 1)
    if params["flip_vertical"]:
        z = legacy.flip_axis(z, 0)
    assert np.array_equal(y, z), case["name"]
    assert y.shape == x.shape and y.dtype == np.float32, (y.shape, y.dtype)
    out_cases.append({**case, "output": [round(float(v), 3) for v in y.ravel()]})

doc = {
    "versions": {"keras": keras.__version__, "scipy": scipy.__version__, "numpy": np.__version__},
    "source": "keras.src.legacy.preprocessing.image.ImageDataGenerator(fill_mode, cval).apply_transform on (H, W, C) float32",
    "images": {k: {"shape": list(v.shape), "data": [round(float(t), 3) for t in v.ravel()]} for k, v in IMAGES.items()},
    "cases": out_cases,
}
path = OUT / "keras_augment.json"
path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
print(f"wrote {path} ({path.stat().st_size // 1024} KB, {len(out_cases)} cases)")
