"""Whole trainings against Keras on the real data: the fingers chapter's two CNNs (notebook 03) and
notebook 01's CIFAR-10 CNN, each trained by the tutorial's own Keras code and by our notebook's
cells in the Rust (evcxr) kernel, on the same files and the same two threads. Prints both wall times
and both test accuracies (numbers, not a pass/fail). See scripts/bench-trainings.

Usage: bench_trainings.py <datasets-folder> [--only fingers|cifar10] [--side keras|ours]
       [--fingers-epochs N] [--cifar-epochs N]
"""
import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

THREADS = {"RAYON_NUM_THREADS": "2", "CANDLE_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}


# --- Keras: the tutorials' code ----------------------------------------------------------------
def keras_child(task, data, epochs):
    import numpy as np
    import tensorflow as tf
    from PIL import Image
    from tensorflow.keras.layers import Activation, BatchNormalization, Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
    from tensorflow.keras.models import Model, Sequential
    from tensorflow.keras.utils import to_categorical

    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    results = []
    if task == "fingers":
        def load(split):
            files = sorted((Path(data) / "fingers" / split).glob("*.png"))
            x = np.stack([np.asarray(Image.open(f).convert("L"), dtype=np.float32) / 255.0 for f in files])
            y = np.array([int(re.search(r"_(\d)[LR]\.png$", f.name).group(1)) for f in files])
            return x.reshape((-1, 128, 128, 1)), to_categorical(y, 6)
        x_train, y_train = load("train")
        x_test, y_test = load("test")
        for name, bn in [("fingers CNN", False), ("fingers CNN+BN", True)]:
            X_input = Input(shape=x_train.shape[1:])
            X = Conv2D(64, kernel_size=4, strides=2)(X_input)
            if bn:
                X = BatchNormalization(axis=3)(X)
            X = Activation("relu")(X)
            X = Conv2D(32, kernel_size=3, strides=2)(X)
            if bn:
                X = BatchNormalization(axis=3)(X)
            X = Activation("relu")(X)
            X = Flatten()(X)
            X = Dense(6, activation="softmax", name="fc")(X)
            model = Model(inputs=X_input, outputs=X)
            model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
            t0 = time.perf_counter()
            model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
            secs = time.perf_counter() - t0
            results.append((name, secs, model.evaluate(x_test, y_test, verbose=0)[1]))
    else:
        classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

        def load(split):
            xs, ys = [], []
            for label, c in enumerate(classes):
                for f in sorted((Path(data) / "cifar10" / split / c).glob("*.jpg")):
                    xs.append(np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255.0)
                    ys.append(label)
            return np.stack(xs), to_categorical(np.array(ys), 10)
        x_train, y_train = load("train")
        x_test, y_test = load("test")
        model = Sequential()
        model.add(Input((32, 32, 3)))
        for filters, drop in [(32, 0.3), (64, 0.5), (128, 0.5)]:
            model.add(Conv2D(filters, (3, 3), padding="same", activation="relu"))
            model.add(BatchNormalization())
            model.add(Conv2D(filters, (3, 3), padding="same", activation="relu"))
            model.add(BatchNormalization())
            model.add(MaxPooling2D((2, 2)))
            model.add(Dropout(drop))
        model.add(Flatten())
        model.add(Dense(128, activation="relu"))
        model.add(Dropout(0.5))
        model.add(Dense(10, activation="softmax"))
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        t0 = time.perf_counter()
        model.fit(x_train, y_train, batch_size=64, epochs=epochs, validation_data=(x_test, y_test), verbose=0)
        secs = time.perf_counter() - t0
        results.append(("CIFAR-10 CNN", secs, model.evaluate(x_test, y_test, verbose=0)[1]))
    for name, secs, acc in results:
        print(f"RESULT|{name}|{secs:.1f}|{acc:.4f}", flush=True)


# --- ours: the notebooks' cells in the Rust kernel ---------------------------------------------
SETUP = f''':dep candlebook = {{ path = "{ROOT / "crates" / "candlebook"}" }}
use candlebook::prelude::*;
use std::time::Instant;
let device = best_device();
let root = DataRoot::locate()?;'''

FINGERS = '''let train = fingers(&root, Split::Train, &LoadOptions::default(), &device)?;
let test = fingers(&root, Split::Test, &LoadOptions::default(), &device)?;
let x_train_img = train.to_f32()?.images;
let x_test_img = test.to_f32()?.images;
let y_train_1h = train.one_hot()?;
let y_test_1h = test.one_hot()?;'''

FINGERS_CNN = '''let mut model = Sequential::new(Input::image(128, 128, 1), &device).seed(101);
model.add(Conv2D::new(64, (4, 4)).strides((2, 2)))?;
{bn1}model.add(ActivationLayer::new(Activation::Relu))?;
model.add(Conv2D::new(32, (3, 3)).strides((2, 2)))?;
{bn2}model.add(ActivationLayer::new(Activation::Relu))?;
model.add(Flatten::new())?;
model.add(Dense::new(6).activation(Activation::Softmax).name("fc"))?;
model.compile(Optimizer::adam(), Loss::categorical_crossentropy(), true);
let t0 = Instant::now();
model.fit(&x_train_img, &y_train_1h, Fit::new().batch_size(32).epochs({epochs}).verbose(false))?;
let secs = t0.elapsed().as_secs_f64();
println!("RESULT|{name}|{{secs:.1}}|{{:.4}}", model.evaluate(&x_test_img, &y_test_1h, 32)?.accuracy()?);'''

CIFAR = '''let cifar_train = cifar10(&root, Split::Train, &LoadOptions::default(), &device)?.shuffled(0)?;
let cifar_test = cifar10(&root, Split::Test, &LoadOptions::default(), &device)?.shuffled(0)?;
let x_train = cifar_train.to_f32()?.images;
let x_test = cifar_test.to_f32()?.images;
let y_train = cifar_train.one_hot()?;
let y_test = cifar_test.one_hot()?;
let mut model = zoo::cifar10_cnn(&device)?;
model.compile(Optimizer::adam(), Loss::categorical_crossentropy(), true);
let t0 = Instant::now();
model.fit(&x_train, &y_train, Fit::new().batch_size(64).epochs({epochs}).validation_data(&x_test, &y_test).verbose(false))?;
let secs = t0.elapsed().as_secs_f64();
println!("RESULT|CIFAR-10 CNN|{{secs:.1}}|{{:.4}}", model.evaluate(&x_test, &y_test, 64)?.accuracy()?);'''


def ours(task, data, epochs):
    from bench_notebook import Kernel

    k = Kernel({"CANDLEBOOK_DATA": str(Path(data).resolve()), **THREADS})
    try:
        k.run(SETUP)
        cells = []
        if task == "fingers":
            cells.append(FINGERS)
            bn = "model.add(BatchNormalization::new())?;\n"
            cells.append(FINGERS_CNN.format(name="fingers CNN", bn1="", bn2="", epochs=epochs))
            cells.append(FINGERS_CNN.format(name="fingers CNN+BN", bn1=bn, bn2=bn, epochs=epochs))
        else:
            cells.append(CIFAR.format(epochs=epochs))
        out = []
        for c in cells:
            out.append(k.run(c)[1])
        return parse("".join(out))
    finally:
        k.close()


def parse(text):
    rows = {}
    for line in text.splitlines():
        if line.startswith("RESULT|"):
            _, name, secs, acc = line.split("|")
            rows[name] = (float(secs), float(acc))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--only", choices=["fingers", "cifar10"])
    ap.add_argument("--side", choices=["keras", "ours"], help="run one side only")
    ap.add_argument("--fingers-epochs", type=int, default=4, help="notebook 03 trains its CNNs 4 epochs")
    ap.add_argument("--cifar-epochs", type=int, default=14)
    ap.add_argument("--keras-child", help=argparse.SUPPRESS)
    ap.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.keras_child:
        keras_child(a.keras_child, a.data, a.epochs)
        return
    os.environ.update(THREADS)
    keras_python = str(ROOT / ".tools" / "keras-venv" / "bin" / "python")
    print(f"{'training':16s} {'epochs':>6s} {'keras s':>9s} {'ours s':>9s} {'keras/ours':>10s} {'keras acc':>9s} {'ours acc':>9s}", flush=True)
    for task in ["fingers", "cifar10"]:
        if a.only and a.only != task:
            continue
        epochs = a.fingers_epochs if task == "fingers" else a.cifar_epochs
        keras = {}
        if a.side != "ours":
            k = subprocess.run([keras_python, __file__, a.data, "--keras-child", task, "--epochs", str(epochs)], capture_output=True, text=True)
            if k.returncode != 0:
                raise SystemExit(f"keras {task} failed:\n{k.stderr[-3000:]}")
            keras = parse(k.stdout)
        mine = ours(task, a.data, epochs) if a.side != "keras" else {}
        for name in sorted(set(keras) | set(mine)):
            ks, ka = keras.get(name, (float("nan"), float("nan")))
            os_, oa = mine.get(name, (float("nan"), float("nan")))
            print(f"{name:16s} {epochs:6d} {ks:9.1f} {os_:9.1f} {ks / os_:10.2f} {ka:9.4f} {oa:9.4f}", flush=True)


if __name__ == "__main__":
    main()
