"""Training and inference throughput: candlebook (Rust, CPU) against Keras/TensorFlow (CPU), same
models, same batch sizes, same thread count, synthetic data, alternating runs in one go.

Usage: bench_train.py <our-binary> [--steps N] [--rounds R] [--no-predict] [models...]
Each run is a fresh process. Training: two warm-up steps, then N timed steps (forward, backward,
Adam; Keras's train_on_batch). Inference: one warm-up call, then N timed calls of predict on one
batch, in batches of 32 (Keras's model.predict(x, batch_size=32)).
Prints one line per model and mode with the best of R rounds on each side and ratio = ours / keras.
"""
import argparse
import os
import subprocess
import sys
import time

MODELS = {"cifar10_cnn": 64, "fingers_cnn_bn": 32, "asl_cnn": 32, "faces_alexnet": 32}


def keras_model(name):
    import keras
    from keras import layers as L

    if name == "cifar10_cnn":
        m = keras.Sequential([keras.Input((32, 32, 3))])
        for filters, drop in [(32, 0.3), (64, 0.5), (128, 0.5)]:
            for _ in range(2):
                m.add(L.Conv2D(filters, (3, 3), padding="same", activation="relu"))
                m.add(L.BatchNormalization())
            m.add(L.MaxPooling2D((2, 2)))
            m.add(L.Dropout(drop))
        m.add(L.Flatten())
        m.add(L.Dense(128, activation="relu"))
        m.add(L.Dropout(0.5))
        m.add(L.Dense(10, activation="softmax"))
    elif name == "fingers_cnn_bn":
        m = keras.Sequential([keras.Input((128, 128, 1))])
        for filters, k in [(64, 4), (32, 3)]:
            m.add(L.Conv2D(filters, (k, k), strides=(2, 2)))
            m.add(L.BatchNormalization())
            m.add(L.Activation("relu"))
        m.add(L.Flatten())
        m.add(L.Dense(6, activation="softmax"))
    elif name == "asl_cnn":
        m = keras.Sequential([keras.Input((28, 28, 1))])
        pool = lambda: L.MaxPooling2D((2, 2), strides=2, padding="same")
        m.add(L.Conv2D(75, (3, 3), padding="same", activation="relu"))
        m.add(L.BatchNormalization())
        m.add(pool())
        m.add(L.Conv2D(50, (3, 3), padding="same", activation="relu"))
        m.add(L.Dropout(0.2))
        m.add(L.BatchNormalization())
        m.add(pool())
        m.add(L.Conv2D(25, (3, 3), padding="same", activation="relu"))
        m.add(L.BatchNormalization())
        m.add(pool())
        m.add(L.Flatten())
        m.add(L.Dense(512, activation="relu"))
        m.add(L.Dropout(0.3))
        m.add(L.Dense(24, activation="softmax"))
    elif name == "faces_alexnet":
        m = keras.Sequential([keras.Input((224, 224, 3))])
        pool = lambda: L.MaxPooling2D((3, 3), strides=(2, 2), padding="same")
        m.add(L.Conv2D(32, (11, 11), strides=(4, 4), activation="relu", padding="same"))
        m.add(pool())
        m.add(L.BatchNormalization())
        m.add(L.Conv2D(64, (5, 5), activation="relu", padding="same"))
        m.add(pool())
        m.add(L.BatchNormalization())
        for filters in [128, 64, 32]:
            m.add(L.Conv2D(filters, (3, 3), activation="relu", padding="same"))
        m.add(L.Flatten())
        for _ in range(2):
            m.add(L.Dense(64, activation="relu"))
            m.add(L.Dropout(0.5))
        m.add(L.Dense(2, activation="softmax"))
    else:
        raise SystemExit(f"unknown model {name}")
    return m


def run_keras(name, steps, mode):
    """Runs in a child process: prints img_per_s=..."""
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    batch = MODELS[name]
    m = keras_model(name)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    shape = (batch,) + tuple(m.input_shape[1:])
    rng = np.random.default_rng(0)
    x = rng.random(shape, dtype=np.float32)
    classes = m.output_shape[-1]
    y = (np.arange(batch) % classes).astype(np.int64)
    if mode == "predict":
        # PREDICT_IMAGES in crates/models/src/throughput.rs: eight batches of 32 per call
        batch = 256
        x = rng.random((batch,) + tuple(m.input_shape[1:]), dtype=np.float32)
        m.predict(x, batch_size=32, verbose=0)
        t0 = time.perf_counter()
        for _ in range(steps):
            m.predict(x, batch_size=32, verbose=0)
        dt = time.perf_counter() - t0
    else:
        for _ in range(2):
            m.train_on_batch(x, y)
        t0 = time.perf_counter()
        for _ in range(steps):
            m.train_on_batch(x, y)
        dt = time.perf_counter() - t0
    print(f"model={name} batch={batch} steps={steps} img_per_s={steps * batch / dt:.1f}")


def parse(out):
    for tok in out.split():
        if tok.startswith("img_per_s="):
            return float(tok.split("=", 1)[1])
    raise RuntimeError(f"no img_per_s in output: {out!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours", nargs="?")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-predict", action="store_true", help="training only")
    ap.add_argument("--keras-child", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="train", help=argparse.SUPPRESS)
    ap.add_argument("models", nargs="*")
    a = ap.parse_intermixed_args()
    if a.keras_child:
        run_keras(a.keras_child, a.steps, a.mode)
        return
    env = dict(os.environ, RAYON_NUM_THREADS="2", CANDLE_NUM_THREADS="2", OMP_NUM_THREADS="2", TF_CPP_MIN_LOG_LEVEL="2")
    modes = ["train"] if a.no_predict else ["train", "predict"]
    for name in a.models or list(MODELS):
        for mode in modes:
            best = {"ours": 0.0, "keras": 0.0}
            for _ in range(a.rounds):
                cmd = [sys.executable, __file__, "--keras-child", name, "--mode", mode, "--steps", str(a.steps)]
                k = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if k.returncode != 0:
                    raise SystemExit(f"keras {mode} run failed for {name}:\n{k.stderr[-2000:]}")
                best["keras"] = max(best["keras"], parse(k.stdout))
                o = subprocess.run([a.ours, name, str(a.steps), mode], env=env, capture_output=True, text=True)
                if o.returncode != 0:
                    raise SystemExit(f"our {mode} run failed for {name}:\n{o.stderr[-2000:]}")
                best["ours"] = max(best["ours"], parse(o.stdout))
            print(f"{name:16s} {mode:7s} batch={MODELS[name]:3d}  ours={best['ours']:8.1f} img/s  keras={best['keras']:8.1f} img/s  ratio={best['ours'] / best['keras']:.2f}", flush=True)

if __name__ == "__main__":
    main()
