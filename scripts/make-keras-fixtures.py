"""Writes the models crate's Keras reference fixtures (run through scripts/make-keras-fixtures).

Every number the tests compare with is what a Keras 3 / TensorFlow call made here returned; the
inputs are drawn from seeded generators or written out below. Arrays are stored as
{"shape": [...], "data": [...]} (row-major, Keras layouts: images (N, H, W, C), Conv2D kernels
(kh, kw, in, out), Dense kernels (in, out)); values that JSON cannot hold are the strings "nan",
"inf" and "-inf".

Files (in the folder given as the only argument):
- keras_losses_metrics.json: model.evaluate of a weightless model (Input -> Activation) compiled
  with a cross-entropy loss and metrics=["accuracy"]: the loss, the accuracy, and which accuracy
  class Keras picked for those shapes (or the error Keras raised for mismatched shapes).
- keras_early_stopping.json: model.fit with EarlyStopping, the monitored value of each epoch
  scripted by a callback placed before it (and two plain fits with a learning rate of 0): how many
  epochs ran, the best epoch, and which epoch's weights the model holds afterwards.
- keras_layer_arguments.json: which layer arguments Keras 3 accepts (with the output shape) and
  which it rejects (with its error).
- keras_nan_input.json: fits on data holding NaN (shuffle off, weights given), TensorFlow's ops
  run one by one (run_eagerly=True; XLA agrees): the first (epoch, batch) whose reported loss is
  not finite, or null when Keras never reported one.
- keras_max_pool_nan.json: tf.nn.max_pool2d (what keras.layers.MaxPooling2D runs) on inputs
  holding NaN and -inf: outputs and input gradients.
- keras_conv_strides.json: Conv2D with unequal strides: outputs and gradients of one layer, and
  two SGD training steps of two small models.
"""
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

OUT = Path(sys.argv[1])
OUT.mkdir(parents=True, exist_ok=True)
VERSIONS = {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__}


def num(v):
    v = float(v)
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def arr(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [num(v) for v in a.ravel()]}


def weights_of(model):
    return {f"{l.name}/{w.name}": arr(w.numpy()) for l in model.layers for w in l.weights}


def write(name, doc, what):
    doc = {"generated_by": "scripts/make-keras-fixtures", "versions": VERSIONS, "what": what, **doc}
    (OUT / name).write_text(json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n")
    print(f"wrote {OUT / name}")


def first_line(e):
    return f"{type(e).__name__}: {str(e).strip().splitlines()[0]}"


# ---------------------------------------------------------------------------------------------
# Losses and the "accuracy" metric
# ---------------------------------------------------------------------------------------------

LOSSES = {
    "binary_crossentropy": keras.losses.BinaryCrossentropy,
    "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
    "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
}


def losses_metrics():
    cases = []

    def case(name, activation, loss, from_logits, x, y):
        keras.backend.clear_session()
        x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
        model = keras.Sequential([keras.Input((x.shape[1],)), layers.Activation(activation)])
        model.compile(optimizer="sgd", loss=LOSSES[loss](from_logits=from_logits), metrics=["accuracy"])
        entry = {"name": name, "activation": activation, "loss": loss, "from_logits": from_logits, "x": arr(x), "y": arr(y)}
        try:
            r = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
            picked = [type(m).__name__ for m in model._compile_metrics.metrics]
            entry["keras"] = {"loss": num(r["loss"]), "accuracy": num(r["accuracy"]), "accuracy_metric": picked[0]}
        except Exception as e:  # noqa: BLE001 - the error is the reference
            entry["keras"] = {"error": first_line(e)}
        cases.append(entry)

    two = [[0.9, 0.2], [0.4, 0.7], [0.0, 1.0], [0.5, 0.5], [1.7, -0.3], [1e-9, 0.6]]
    two_y = [[1, 0], [1, 0], [0, 1], [1, 1], [1, 0], [0, 0]]
    one = [[0.9], [0.5], [0.51], [0.0], [1.0], [0.3]]
    one_y = [1, 1, 1, 0, 1, 0]
    logits = [[-30.0], [-2.0], [0.0], [0.3], [2.0], [40.0]]
    logit_y = [0, 1, 0, 1, 1, 0]
    # binary cross-entropy on a 2-unit linear head (values outside [0, 1] and at 0/1 are clipped)
    case("bce_linear_two_units", "linear", "binary_crossentropy", False, two, two_y)
    case("bce_sigmoid_two_units", "sigmoid", "binary_crossentropy", False, [[2.0, -1.0], [0.2, 0.1], [-3.0, 4.0], [0.0, 0.0], [5.0, 1.0]], [[1, 0], [0, 1], [0, 1], [1, 1], [0, 0]])
    # one unit, targets (N,) and (N, 1)
    case("bce_one_unit_targets_n", "linear", "binary_crossentropy", False, one, one_y)
    case("bce_one_unit_targets_n1", "linear", "binary_crossentropy", False, one, [[v] for v in one_y])
    case("bce_one_unit_soft_targets", "linear", "binary_crossentropy", False, [[0.8], [0.2], [0.9], [0.1]], [[0.7], [0.3], [1.0], [0.0]])
    # a sigmoid output: Keras takes the loss from the logits behind it (no clipping)
    case("bce_sigmoid_output", "sigmoid", "binary_crossentropy", False, logits, logit_y)
    # from_logits=True: the "accuracy" metric still thresholds the output at 0.5
    case("bce_from_logits", "linear", "binary_crossentropy", True, logits, [[v] for v in logit_y])
    # categorical and sparse
    rng = np.random.default_rng(3)
    z = rng.normal(size=(5, 3)).astype(np.float32) * 2
    labels = [2, 0, 1, 1, 0]
    onehot = np.eye(3, dtype=np.float32)[labels]
    case("cce_softmax", "softmax", "categorical_crossentropy", False, z, onehot)
    case("cce_linear_unnormalised", "linear", "categorical_crossentropy", False, [[0.2, 0.3, 0.1], [0.5, 0.25, 0.25], [0.0, 0.0, 2.0], [1.0, 3.0, 0.0], [0.1, 0.1, 0.1]], onehot)
    case("sparse_softmax_targets_n", "softmax", "sparse_categorical_crossentropy", False, z, labels)
    case("sparse_softmax_targets_n1", "softmax", "sparse_categorical_crossentropy", False, z, [[v] for v in labels])
    # shapes Keras rejects
    case("bce_two_targets_one_unit", "linear", "binary_crossentropy", False, one, two_y)
    case("bce_n_targets_two_units", "linear", "binary_crossentropy", False, two, one_y)
    case("bce_three_targets_two_units", "linear", "binary_crossentropy", False, two, [[1, 0, 1]] * 6)
    case("cce_two_targets_three_units", "softmax", "categorical_crossentropy", False, z, onehot[:, :2])
    write("keras_losses_metrics.json", {"cases": cases}, "model.evaluate(x, y) of Input -> Activation(activation), compile(loss, metrics=['accuracy'])")


# ---------------------------------------------------------------------------------------------
# EarlyStopping
# ---------------------------------------------------------------------------------------------


def early_stopping():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    cases = []

    def run(name, monitor, values, epochs, patience=0, min_delta=0.0, restore=False, lr=0.1):
        keras.backend.clear_session()
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((4,)), layers.Dense(2, activation="softmax")])
        model.compile(optimizer=keras.optimizers.SGD(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        snapshots, seen = [], []

        class Script(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if values is not None:
                    logs[monitor] = values[epoch]
                seen.append(logs[monitor])
                snapshots.append([w.copy() for w in self.model.get_weights()])

        es = keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, min_delta=min_delta, restore_best_weights=restore)
        hist = model.fit(x, y, epochs=epochs, batch_size=16, shuffle=False, validation_data=(x, y), callbacks=[Script(), es], verbose=0)
        final = model.get_weights()
        held = [e for e, s in enumerate(snapshots) if all(np.array_equal(a, b) for a, b in zip(s, final))]
        assert len(held) == 1 or lr == 0.0, (name, held)
        cases.append(
            {
                "name": name,
                "monitor": monitor,
                "patience": patience,
                "min_delta": min_delta,
                "restore_best_weights": restore,
                "max_epochs": epochs,
                "scripted": values is not None,
                # the scripted value of every epoch that could run, or what a real fit monitored
                "values": [num(v) for v in (values if values is not None else seen)],
                "keras": {
                    "epochs_run": len(hist.history["loss"]),
                    # 1-based, as printed ("Epoch 4: early stopping"); 0 when it did not stop
                    "stopped_epoch": es.stopped_epoch + 1 if es.stopped_epoch > 0 else 0,
                    "best_epoch": es.best_epoch + 1,
                    "weights_of_epoch": held[0] + 1 if lr > 0.0 else None,
                },
            }
        )

    flat = [1.0] * 10
    run("never_improves_patience_3", "val_loss", flat, 10, patience=3)
    run("never_improves_patience_0", "val_loss", flat, 10, patience=0)
    run("never_improves_patience_1", "val_loss", flat, 10, patience=1)
    run("improves_then_plateaus", "val_loss", [1.0, 0.9, 0.8, 0.85, 0.8, 0.81, 0.79, 0.795, 0.8, 0.9, 0.7], 11, patience=2)
    run("improves_then_plateaus_restore", "val_loss", [1.0, 0.9, 0.8, 0.85, 0.8, 0.81, 0.79, 0.795, 0.8, 0.9, 0.7], 11, patience=2, restore=True)
    run("min_delta", "val_loss", [1.0, 0.95, 0.935, 0.93, 0.9, 0.899, 0.885, 0.87, 0.86], 9, patience=2, min_delta=0.02, restore=True)
    run("min_delta_patience_0", "loss", [1.0, 0.95, 0.94, 0.93, 0.9], 5, patience=0, min_delta=0.05)
    run("accuracy_rises_then_stalls", "val_accuracy", [0.5, 0.6, 0.6, 0.7, 0.65, 0.69, 0.7, 0.7, 0.75], 9, patience=2, restore=True)
    run("accuracy_min_delta", "accuracy", [0.5, 0.55, 0.56, 0.565, 0.6, 0.7], 6, patience=1, min_delta=0.02)
    # differences below float32 resolution are no improvement (Keras compares in float32)
    run("below_float32_resolution", "val_loss", [1.0, 0.99999999, 0.99999998, 0.9999999, 0.99999985, 0.9], 6, patience=1)
    run("nan_is_no_improvement", "val_loss", [0.5, float("nan"), 0.6, 0.4, float("nan"), float("nan"), 0.45], 7, patience=2, restore=True)
    run("keeps_improving_restore", "val_loss", [1.0, 0.9, 0.8, 0.7, 0.6], 5, patience=1, restore=True)
    run("patience_longer_than_training", "val_loss", flat[:5], 5, patience=10, restore=True)
    # real fits: a learning rate of 0 leaves every metric where it was after the first epoch
    run("lr0_val_loss_patience_1", "val_loss", None, 10, patience=1, restore=True, lr=0.0)
    run("lr0_loss_patience_3", "loss", None, 10, patience=3, lr=0.0)
    write("keras_early_stopping.json", {"cases": cases}, "model.fit(..., callbacks=[script, EarlyStopping(monitor, patience, min_delta, restore_best_weights)]); epochs 1-based")


# ---------------------------------------------------------------------------------------------
# NaN in the input
# ---------------------------------------------------------------------------------------------


def nan_input():
    cases = []
    image = (6, 6, 1)

    def build(kind):
        L = layers
        if kind == "dense_relu":
            return [keras.Input((12,)), L.Dense(8, activation="relu"), L.Dense(3, activation="softmax")]
        if kind == "dense_bn_relu":
            return [keras.Input((12,)), L.Dense(8), L.BatchNormalization(), L.Activation("relu"), L.Dense(3, activation="softmax")]
        if kind == "conv_relu_dense":
            return [keras.Input(image), L.Conv2D(4, 3, padding="same", activation="relu"), L.Flatten(), L.Dense(3, activation="softmax")]
        if kind == "conv_bn_relu":
            return [keras.Input(image), L.Conv2D(4, 3, padding="same"), L.BatchNormalization(), L.Activation("relu"), L.Flatten(), L.Dense(3, activation="softmax")]
        if kind == "conv_relu_avg_pool":
            return [keras.Input(image), L.Conv2D(4, 3, padding="same", activation="relu"), L.AveragePooling2D(2), L.Flatten(), L.Dense(3, activation="softmax")]
        if kind == "conv_relu_max_pool":
            return [keras.Input(image), L.Conv2D(4, 3, padding="same", activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(3, activation="softmax")]
        if kind == "max_pool_first":
            return [keras.Input(image), L.MaxPooling2D(2), L.Flatten(), L.Dense(3, activation="softmax")]
        raise ValueError(kind)

    def case(name, kind, nan_cells, positive_head=False, n=8, batch_size=2, epochs=2):
        keras.backend.clear_session()
        keras.utils.set_random_seed(7)
        rng = np.random.default_rng(11)
        model = keras.Sequential(build(kind))
        if positive_head:
            # every Dense weight 0.1: a window of -3.4e38 (an all-NaN max-pooling window) then
            # overflows every logit to -inf, whatever the other weights
            head = model.layers[-1]
            head.set_weights([np.full(w.shape, 0.1, np.float32) for w in head.get_weights()])
        shape = model.input_shape[1:]
        x = rng.random((n, *shape)).astype(np.float32)
        for cell in nan_cells:
            x[cell] = np.nan
        y = rng.integers(0, 3, size=n)
        initial = [w.copy() for w in model.get_weights()]
        weights = weights_of(model)

        def fit(**compile_args):
            model.set_weights(initial)
            model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"], **compile_args)
            seen = []

            class Record(keras.callbacks.Callback):
                def on_epoch_begin(self, epoch, logs=None):
                    self.epoch = epoch

                def on_train_batch_end(self, batch, logs=None):
                    seen.append((self.epoch + 1, batch + 1, logs["loss"]))

            model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, callbacks=[Record()], verbose=0)
            bad = [[e, b] for e, b, l in seen if not np.isfinite(l)]
            return (bad[0] if bad else None), seen

        # TensorFlow's ops one by one (eager); XLA gives the same. The default compiled CPU graph
        # differs only where TensorFlow fuses a MatMul/Conv2D, its bias and a ReLU into one oneDNN
        # kernel, whose ReLU maps NaN to 0 (tf.nn.relu itself returns NaN): recorded, not used.
        first, seen = fit(run_eagerly=True)
        first_xla, _ = fit(jit_compile=True)
        assert first == first_xla, (name, first, first_xla)
        first_graph, _ = fit()
        cases.append(
            {
                "name": name,
                "model": kind,
                "x": arr(x),
                "y": [int(v) for v in y],
                "weights": weights,
                "optimizer": {"name": "sgd", "learning_rate": 0.05},
                "batch_size": batch_size,
                "epochs": epochs,
                "keras": {"first_non_finite": first, "running_losses": [num(l) for _, _, l in seen], "default_cpu_graph_first_non_finite": first_graph},
            }
        )

    case("dense_relu", "dense_relu", [(5, 3)])
    case("dense_bn_relu", "dense_bn_relu", [(3, 0)])
    case("conv_relu_dense", "conv_relu_dense", [(3, 2, 4, 0)])
    case("conv_bn_relu", "conv_bn_relu", [(2, 5, 5, 0)])
    case("conv_relu_avg_pool", "conv_relu_avg_pool", [(6, 0, 0, 0)])
    # a whole NaN image: every pooling window of the ReLU convolution is NaN
    case("conv_relu_max_pool_nan_image", "conv_relu_max_pool", [(4,)], positive_head=True)
    # max pooling straight on the input: a NaN never wins while its window has a number
    case("max_pool_first_nan_last_in_window", "max_pool_first", [(3, 1, 1, 0)])
    case("max_pool_first_nan_first_in_window", "max_pool_first", [(5, 2, 2, 0), (5, 0, 5, 0)])
    write(
        "keras_nan_input.json",
        {"cases": cases},
        "model.fit(x, y, shuffle=False) on x holding NaN, compiled with run_eagerly=True (jit_compile=True agrees); epochs and batches 1-based",
    )


# ---------------------------------------------------------------------------------------------
# Max pooling over NaN and -inf
# ---------------------------------------------------------------------------------------------


def max_pool_nan():
    nan, inf = np.nan, np.inf
    cases = []

    def case(name, x, pool, strides, padding):
        x = np.asarray(x, np.float32)
        probe = (np.arange(1, 1 + np.prod(tf.nn.max_pool2d(x, pool, strides, padding).shape)) * 0.25).astype(np.float32)
        xv = tf.Variable(x)
        with tf.GradientTape() as tape:
            y = tf.nn.max_pool2d(xv, pool, strides, padding)
            loss = tf.reduce_sum(y * probe.reshape(y.shape))
        dx = tape.gradient(loss, xv).numpy()
        layer = keras.layers.MaxPooling2D(pool, strides, padding.lower())(x).numpy()
        assert np.array_equal(layer, y.numpy(), equal_nan=True), name
        # XLA also skips NaN, but leaves a window without a number at -inf instead of float32's
        # lowest value; the reference is the CPU kernel's (what Keras runs on the CPU)
        xla = tf.function(lambda v: tf.nn.max_pool2d(v, pool, strides, padding), jit_compile=True)(x).numpy()
        lowest = y.numpy() == np.finfo(np.float32).min
        assert np.array_equal(np.where(lowest, -np.inf, y.numpy()), xla, equal_nan=True), (name, xla, y.numpy())
        cases.append({"name": name, "pool": list(pool), "strides": list(strides), "padding": padding.lower(), "x": arr(x), "probe": arr(probe), "y": arr(y.numpy()), "dx": arr(dx)})

    def planes(*ps):
        return np.stack([np.asarray(p, np.float32) for p in ps], axis=-1)[None]

    a = np.arange(16, dtype=np.float32).reshape(4, 4)
    b = a.copy()
    b[1, 1] = nan  # last cell of the first window
    b[2, 2] = nan  # first cell of the last window
    b[0, 3] = -inf
    c = np.array([[nan, nan, 1, 2], [nan, nan, 3, nan], [-inf, -inf, nan, -inf], [-inf, -inf, -inf, 5]], np.float32)
    case("valid_2x2", planes(b, c), (2, 2), (2, 2), "VALID")
    d = np.arange(25, dtype=np.float32).reshape(5, 5) * 0.5 - 3
    d[0, 0] = nan
    d[2, 3] = nan
    d[4, 4] = nan
    e = np.full((5, 5), -inf, np.float32)
    e[1, 1] = nan
    e[3, 0] = 2.0
    case("same_3x3_stride_2", planes(d, e), (3, 3), (2, 2), "SAME")
    f = np.array([[1, nan, 3], [nan, nan, nan], [4, nan, -inf]], np.float32)
    case("same_2x2_stride_1", planes(f), (2, 2), (1, 1), "SAME")
    case("valid_2x1_stride_1x2", planes(c), (2, 1), (1, 2), "VALID")
    write("keras_max_pool_nan.json", {"cases": cases}, "tf.nn.max_pool2d(x, pool, strides, padding) and d/dx of sum(y * probe); x (N, H, W, C)")


# ---------------------------------------------------------------------------------------------
# Convolutions with unequal strides
# ---------------------------------------------------------------------------------------------


def conv_strides():
    rng = np.random.default_rng(23)
    layer_cases = []
    for (h, w, cin, cout, k, strides, padding) in [
        (7, 6, 2, 3, (3, 3), (2, 1), "same"),
        (6, 9, 2, 3, (2, 3), (1, 2), "valid"),
        (8, 7, 1, 4, (3, 3), (3, 2), "same"),
        (9, 10, 2, 2, (3, 2), (2, 3), "valid"),
        (5, 11, 3, 2, (1, 4), (1, 3), "same"),
        (13, 5, 2, 3, (5, 3), (4, 1), "same"),
        (10, 10, 2, 3, (4, 4), (2, 1), "valid"),
        (7, 7, 2, 2, (3, 3), (2, 2), "same"),
    ]:
        x = rng.normal(size=(2, h, w, cin)).astype(np.float32)
        kern = (rng.normal(size=(*k, cin, cout)) * 0.5).astype(np.float32)
        bias = (rng.normal(size=(cout,)) * 0.1).astype(np.float32)
        xv, kv, bv = tf.Variable(x), tf.Variable(kern), tf.Variable(bias)
        conv = layers.Conv2D(cout, k, strides=strides, padding=padding)
        conv.build((None, h, w, cin))
        conv.kernel.assign(kern)
        conv.bias.assign(bias)
        with tf.GradientTape() as tape:
            y = tf.nn.conv2d(xv, kv, (1, *strides, 1), padding.upper()) + bv
            probe = rng.normal(size=y.shape).astype(np.float32)
            loss = tf.reduce_sum(y * probe)
        dx, dk, db = tape.gradient(loss, [xv, kv, bv])
        via_layer = conv(x).numpy()
        assert np.allclose(via_layer, y.numpy(), atol=1e-5), "Conv2D layer and tf.nn.conv2d disagree"
        layer_cases.append(
            {
                "name": f"{h}x{w}x{cin}_k{k[0]}x{k[1]}_s{strides[0]}x{strides[1]}_{padding}",
                "strides": list(strides),
                "padding": padding,
                "x": arr(x),
                "kernel": arr(kern),
                "bias": arr(bias),
                "y": arr(via_layer),
                "probe": arr(probe),
                "dx": arr(dx.numpy()),
                "dkernel": arr(dk.numpy()),
                "dbias": arr(db.numpy()),
            }
        )

    train_cases = []
    L = layers
    for name, make, shape in [
        (
            "conv_s2x1_conv_s1x2_dense",
            lambda: [L.Conv2D(4, (3, 3), strides=(2, 1), padding="same", activation="relu"), L.Conv2D(3, (2, 3), strides=(1, 2), activation="relu"), L.Flatten(), L.Dense(3, activation="softmax")],
            (9, 8, 2),
        ),
        (
            "conv_s1x2_avg_pool_dense",
            lambda: [L.Conv2D(4, (3, 3), strides=(1, 2), padding="same", activation="relu"), L.AveragePooling2D(2), L.Flatten(), L.Dense(3, activation="softmax")],
            (8, 9, 1),
        ),
        (
            "conv_s3x1_max_pool_bn_dense",
            lambda: [L.Conv2D(5, (3, 2), strides=(3, 1), padding="same", activation="relu"), L.MaxPooling2D(2), L.BatchNormalization(), L.Flatten(), L.Dense(3, activation="softmax")],
            (9, 8, 2),
        ),
    ]:
        keras.backend.clear_session()
        keras.utils.set_random_seed(29)
        model = keras.Sequential([keras.Input(shape), *make()])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        x = rng.normal(size=(2, 4, *shape)).astype(np.float32)
        y = rng.integers(0, 3, size=(2, 4))
        entry = {"name": name, "input_shape": list(shape), "learning_rate": 0.1, "x": arr(x), "y": y.tolist(), "initial": weights_of(model), "losses": [], "after": []}
        for step in range(2):
            entry["losses"].append(num(model.train_on_batch(x[step], y[step])))
            entry["after"].append(weights_of(model))
        train_cases.append(entry)
    write(
        "keras_conv_strides.json",
        {"layers": layer_cases, "training": train_cases},
        "Conv2D with unequal strides: layers[] y = conv(x) + bias and d/d(x, kernel, bias) of sum(y * probe); training[] two train_on_batch steps (SGD, sparse categorical cross-entropy)",
    )


# ---------------------------------------------------------------------------------------------
# Layer arguments Keras rejects
# ---------------------------------------------------------------------------------------------


def layer_arguments():
    cases = []

    def case(cls, **args):
        shape = (12,) if cls == "Dense" else (8, 8, 3)
        try:
            kw = dict(args)
            if "l2" in kw:
                kw["kernel_regularizer"] = keras.regularizers.l2(kw.pop("l2"))
            keras.backend.clear_session()
            model = keras.Sequential([keras.Input(shape), getattr(layers, cls)(**kw)])
            model(np.ones((1, *shape), np.float32), training=True)
            verdict = {"accepted": True, "output_shape": list(model.output_shape[1:])}
        except Exception as e:  # noqa: BLE001 - the error is the reference
            verdict = {"accepted": False, "error": first_line(e)}
        cases.append({"class": cls, "input_shape": list(shape), "args": {k: num(v) if isinstance(v, float) else v for k, v in args.items()}, "keras": verdict})

    case("Dense", units=0)
    case("Dense", units=3)
    case("Dense", units=3, l2=-1.0)
    case("Dense", units=3, l2=float("nan"))
    case("Dense", units=3, l2=0.0)
    case("Conv2D", filters=0, kernel_size=[3, 3])
    case("Conv2D", filters=4, kernel_size=[0, 0])
    case("Conv2D", filters=4, kernel_size=[3, 0])
    case("Conv2D", filters=4, kernel_size=[3, 3], strides=[0, 0])
    case("Conv2D", filters=4, kernel_size=[3, 3], strides=[2, 0])
    case("Conv2D", filters=4, kernel_size=[3, 3], strides=[2, 1])
    case("Conv2D", filters=4, kernel_size=[3, 3], strides=[1, 3], padding="same")
    case("Conv2D", filters=4, kernel_size=[9, 9])
    case("Conv2D", filters=4, kernel_size=[9, 9], padding="same")
    for cls in ("MaxPooling2D", "AveragePooling2D"):
        case(cls, pool_size=[0, 0])
        case(cls, pool_size=[2, 0])
        case(cls, pool_size=[2, 2], strides=[0, 0])
        case(cls, pool_size=[2, 2], strides=[1, 3])
        case(cls, pool_size=[9, 9])
        case(cls, pool_size=[9, 9], padding="same")
    for rate in (-0.1, 0.0, 0.5, 1.0, 1.5, float("nan")):
        case("Dropout", rate=rate)
    write("keras_layer_arguments.json", {"cases": cases}, "keras.Sequential([Input(input_shape), <class>(**args)]) built and called: accepted (with the output shape) or the error raised")


losses_metrics()
layer_arguments()
early_stopping()
nan_input()
max_pool_nan()
conv_strides()
