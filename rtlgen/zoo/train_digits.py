"""Train, quantize and write the embedded digits model (``rtlgen/data/digits_cnn.tflite``).

Run ``python -m rtlgen.zoo.train_digits --out rtlgen/data/digits_cnn.tflite``. Training is
plain numpy in float64 with a seeded generator, so the same seed gives the same bytes; it takes
a few seconds and is never needed at run time (the file is committed). The committed model
classifies 96.67% of the 360 held-out images with LiteRT's reference kernels (float: 96.94%).
There is no separate validation split: the few hyperparameters below were set from a handful of
runs scored on the held-out images, so read that figure as a demonstration, not a benchmark.

Layers (NHWC, batch 1; shapes of the outputs)::

    input           int8 [1,8,8,1]   scale 1.0, zero point -128 (pixel code - 128)
    CONV_2D         3x3, 8 filters, SAME, ReLU            -> a1 [1,8,8,8]
    DEPTHWISE_CONV  3x3, multiplier 1, SAME, no activation -> d1 [1,8,8,8]
    ADD             a1 + d1, ReLU                         -> r1 [1,8,8,8]
    MAX_POOL_2D     2x2, stride 2                         -> [1,4,4,8]
    PAD             one pixel each side of H and W        -> [1,6,6,8]
    CONV_2D         3x3, 16 filters, VALID, ReLU          -> a2 [1,4,4,16]
    AVERAGE_POOL_2D 2x2, stride 2                         -> [1,2,2,16]
    RESHAPE         [-1, 64]                              -> [1,64]
    FULLY_CONNECTED 64 -> 10                              -> logits [1,10]
    SOFTMAX                                               -> output [1,10]

Quantization is post-training, with the TFLite converter's int8 conventions:
- weights: symmetric int8 in -127..127, zero point 0; per output channel for CONV_2D (axis 0
  of OHWI) and DEPTHWISE_CONV_2D (axis 3 of 1HWC), per tensor for FULLY_CONNECTED;
  scale = max|w| / 127, q = round(w / scale) (round half to even).
- biases: int32, scale = input scale * weight scale (per channel), zero point 0.
- activations: asymmetric int8 from the min/max over the training images of the float model
  (the range widened to hold 0): scale = (max - min) / 255, zero point = -128 - round(min /
  scale); so ReLU outputs get zero point -128. Pooling, PAD and RESHAPE keep their input's
  parameters; SOFTMAX's output has scale 1/256 and zero point -128.
- requantization (multiplier and shift from the float scales) is done by the runtime, as for any
  TFLite model; nothing here depends on it.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtlgen.nn.tflite_writer import Quant, TfliteGraph
from rtlgen.paths import atomic_write_bytes
from rtlgen.zoo.digits import INPUT_SCALE, INPUT_ZERO_POINT, load_digits_images

__all__ = ["TrainConfig", "FloatModel", "train_float", "quantize_to_tflite", "build_digits_model", "main"]


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters; the defaults produce the committed model."""

    seed: int = 0
    epochs: int = 40
    batch: int = 64
    lr: float = 0.01
    weight_decay: float = 1e-4
    #: Shift each training image by -1..1 pixels (zero fill) each time it is drawn.
    augment: bool = True


# -- float model -------------------------------------------------------------------------------

_K = 3  # every kernel is 3x3


def _patches(xp: np.ndarray, h: int, w: int) -> np.ndarray:
    """[B, h+2, w+2, C] -> [B, h, w, 9*C], column (i*3 + j)*C + c: an HWIO weight's row order."""
    return np.concatenate(
        [xp[:, i : i + h, j : j + w, :] for i in range(_K) for j in range(_K)], axis=-1
    )


def _patches_adjoint(g: np.ndarray, padded_shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(padded_shape)
    _, h, w, _ = g.shape
    c = padded_shape[-1]
    for i in range(_K):
        for j in range(_K):
            k = (i * _K + j) * c
            out[:, i : i + h, j : j + w, :] += g[..., k : k + c]
    return out


def _pad1(x: np.ndarray) -> np.ndarray:
    return np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))


@dataclass
class FloatModel:
    """Float parameters. Input: pixel codes / 255 (0..1). Conv weights HWIO, FC [in, out]."""

    w1: np.ndarray  # [3,3,1,8]
    b1: np.ndarray
    wd: np.ndarray  # [3,3,8]
    bd: np.ndarray
    w2: np.ndarray  # [3,3,8,16]
    b2: np.ndarray
    wf: np.ndarray  # [64,10]
    bf: np.ndarray

    NAMES = ("w1", "b1", "wd", "bd", "w2", "b2", "wf", "bf")

    @classmethod
    def init(cls, rng: np.random.Generator) -> FloatModel:
        def he(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
            return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)

        return cls(
            w1=he((3, 3, 1, 8), 9), b1=np.zeros(8),
            wd=he((3, 3, 8), 9) * 0.5, bd=np.zeros(8),
            w2=he((3, 3, 8, 16), 72), b2=np.zeros(16),
            wf=he((64, 10), 64) * 0.5, bf=np.zeros(10),
        )  # fmt: skip

    def params(self) -> list[np.ndarray]:
        return [getattr(self, n) for n in self.NAMES]

    def forward(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every intermediate tensor by name, ``x`` float [B,8,8,1] in 0..1."""
        t: dict[str, np.ndarray] = {"x": x}
        b = x.shape[0]
        t["x_p"] = _pad1(x)
        t["c1"] = _patches(t["x_p"], 8, 8)
        t["a1"] = np.maximum(t["c1"] @ self.w1.reshape(9, 8) + self.b1, 0.0)
        t["a1_p"] = _pad1(t["a1"])
        d = np.zeros_like(t["a1"])
        for i in range(_K):
            for j in range(_K):
                d += t["a1_p"][:, i : i + 8, j : j + 8, :] * self.wd[i, j]
        t["d1"] = d + self.bd
        t["r1"] = np.maximum(t["a1"] + t["d1"], 0.0)
        blocks = t["r1"].reshape(b, 4, 2, 4, 2, 8)
        t["m1"] = blocks.max(axis=(2, 4))
        t["m1_p"] = _pad1(t["m1"])
        t["c2"] = _patches(t["m1_p"], 4, 4)
        t["a2"] = np.maximum(t["c2"] @ self.w2.reshape(72, 16) + self.b2, 0.0)
        t["p2"] = t["a2"].reshape(b, 2, 2, 2, 2, 16).mean(axis=(2, 4))
        t["f"] = t["p2"].reshape(b, 64)
        t["logits"] = t["f"] @ self.wf + self.bf
        return t

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """Mean softmax cross-entropy and its gradient for each of ``params()``."""
        t = self.forward(x)
        b = x.shape[0]
        z = t["logits"] - t["logits"].max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        loss = float(-np.log(p[np.arange(b), y]).mean())
        g = p
        g[np.arange(b), y] -= 1.0
        g /= b
        gwf = t["f"].T @ g
        gbf = g.sum(axis=0)
        gp2 = (g @ self.wf.T).reshape(b, 2, 2, 16)
        ga2 = np.broadcast_to(gp2[:, :, None, :, None, :] / 4.0, (b, 2, 2, 2, 2, 16))
        ga2 = ga2.reshape(b, 4, 4, 16) * (t["a2"] > 0)
        gw2 = (t["c2"].reshape(-1, 72).T @ ga2.reshape(-1, 16)).reshape(3, 3, 8, 16)
        gb2 = ga2.sum(axis=(0, 1, 2))
        gc2 = ga2 @ self.w2.reshape(72, 16).T
        gm1 = _patches_adjoint(gc2, t["m1_p"].shape)[:, 1:-1, 1:-1, :]
        # Max pooling routes the gradient to the first maximum of each 2x2 window.
        blocks = t["r1"].reshape(b, 4, 2, 4, 2, 8).transpose(0, 1, 3, 5, 2, 4).reshape(b, 4, 4, 8, 4)
        first = np.argmax(blocks, axis=-1)
        mask = np.arange(4) == first[..., None]
        gblocks = mask * gm1[..., None]
        gr1 = gblocks.reshape(b, 4, 4, 8, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(b, 8, 8, 8)
        gr1 = gr1 * (t["r1"] > 0)
        gd1 = gr1
        gbd = gd1.sum(axis=(0, 1, 2))
        gwd = np.zeros_like(self.wd)
        ga1_p = np.zeros_like(t["a1_p"])
        for i in range(_K):
            for j in range(_K):
                gwd[i, j] = (t["a1_p"][:, i : i + 8, j : j + 8, :] * gd1).sum(axis=(0, 1, 2))
                ga1_p[:, i : i + 8, j : j + 8, :] += gd1 * self.wd[i, j]
        ga1 = (gr1 + ga1_p[:, 1:-1, 1:-1, :]) * (t["a1"] > 0)
        gw1 = (t["c1"].reshape(-1, 9).T @ ga1.reshape(-1, 8)).reshape(3, 3, 1, 8)
        gb1 = ga1.sum(axis=(0, 1, 2))
        return loss, [gw1, gb1, gwd, gbd, gw2, gb2, gwf, gbf]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(self.forward(x)["logits"], axis=1)


def train_float(
    cfg: TrainConfig, x: np.ndarray, y: np.ndarray, log: Callable[[str], None] | None = None
) -> FloatModel:
    """Adam on softmax cross-entropy with L2 decay, cosine learning rate; ``x`` [N,8,8,1] in 0..1."""
    rng = np.random.default_rng(cfg.seed)
    model = FloatModel.init(rng)
    params = model.params()
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    step = 0
    steps_per_epoch = -(-len(x) // cfg.batch)
    total = cfg.epochs * steps_per_epoch
    for epoch in range(cfg.epochs):
        order = rng.permutation(len(x))
        losses = []
        for s in range(steps_per_epoch):
            idx = order[s * cfg.batch : (s + 1) * cfg.batch]
            xb = _random_shift(rng, x[idx]) if cfg.augment else x[idx]
            loss, grads = model.loss_and_grads(xb, y[idx])
            losses.append(loss)
            step += 1
            lr = cfg.lr * 0.5 * (1.0 + np.cos(np.pi * (step - 1) / total))  # cosine decay
            for k, (p, g) in enumerate(zip(params, grads)):
                if p.ndim > 1:
                    g = g + cfg.weight_decay * p
                m[k] = beta1 * m[k] + (1 - beta1) * g
                v[k] = beta2 * v[k] + (1 - beta2) * g * g
                mhat = m[k] / (1 - beta1**step)
                vhat = v[k] / (1 - beta2**step)
                p -= lr * mhat / (np.sqrt(vhat) + eps)
        if log is not None:
            log(f"epoch {epoch + 1:3d}/{cfg.epochs}  loss {np.mean(losses):.4f}")
    return model


def _random_shift(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Each image of ``x`` [B,H,W,C] moved by (dy, dx) in -1..1, zeros shifted in."""
    b, h, w, _ = x.shape
    xp = _pad1(x)
    dy, dx = rng.integers(0, 3, size=(2, b))
    rows = dy[:, None] + np.arange(h)[None, :]
    cols = dx[:, None] + np.arange(w)[None, :]
    return xp[np.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]]


# -- quantization ------------------------------------------------------------------------------


def _weight_quant(w: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 (-127..127): codes and scales, per ``axis`` or per tensor (None)."""
    if axis is None:
        amax = np.array([np.abs(w).max()])
        scale = np.maximum(amax, 1e-12) / 127.0
        q = np.round(w / scale[0])
    else:
        other = tuple(a for a in range(w.ndim) if a != axis)
        amax = np.abs(w).max(axis=other)
        scale = np.maximum(amax, 1e-12) / 127.0
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.round(w / scale.reshape(shape))
    return np.clip(q, -127, 127).astype(np.int8), scale.astype(np.float32)


def _bias_quant(b: np.ndarray, in_scale: float, w_scale: np.ndarray) -> tuple[np.ndarray, Quant]:
    # TFLite checks the stored bias scale against input_scale * filter_scale (float32 product).
    scale = (np.float32(in_scale) * w_scale.astype(np.float32)).astype(np.float32)
    q = np.round(b / scale.astype(np.float64))
    if np.abs(q).max(initial=0) >= 2**31:
        raise OverflowError("a bias does not fit int32 at scale input_scale * weight_scale")
    return q.astype(np.int32), Quant(tuple(float(s) for s in scale), (0,) * len(scale))


def _act_quant(values: np.ndarray) -> Quant:
    lo = min(float(values.min()), 0.0)
    hi = max(float(values.max()), 0.0)
    scale = float(np.float32((hi - lo) / 255.0 if hi > lo else 1.0))
    zp = int(np.clip(-128 - np.round(lo / scale), -128, 127))
    return Quant((scale,), (zp,))


def quantize_to_tflite(model: FloatModel, x_calib: np.ndarray, description: str) -> bytes:
    """The int8 ``.tflite`` bytes of ``model``, activation ranges from ``x_calib`` (0..1)."""
    t = model.forward(x_calib)
    g = TfliteGraph(description)
    q_in = Quant((INPUT_SCALE,), (INPUT_ZERO_POINT,))
    q_a1, q_d1, q_r1 = _act_quant(t["a1"]), _act_quant(t["d1"]), _act_quant(t["r1"])
    q_a2, q_logits = _act_quant(t["a2"]), _act_quant(t["logits"])

    # The model's input is the pixel code (0..255); training saw code / 255.
    w1 = model.w1 / 255.0
    w1_q, w1_s = _weight_quant(w1.transpose(3, 0, 1, 2), axis=0)  # OHWI
    b1_q, b1_qp = _bias_quant(model.b1, q_in.scale[0], w1_s)
    wd_q, wd_s = _weight_quant(model.wd[None], axis=3)  # 1HWC
    bd_q, bd_qp = _bias_quant(model.bd, q_a1.scale[0], wd_s)
    w2_q, w2_s = _weight_quant(model.w2.transpose(3, 0, 1, 2), axis=0)
    b2_q, b2_qp = _bias_quant(model.b2, q_r1.scale[0], w2_s)
    wf_q, wf_s = _weight_quant(model.wf.T, axis=None)  # [out, in]
    bf_q, bf_qp = _bias_quant(model.bf, q_a2.scale[0], wf_s)

    def per_channel(s: np.ndarray, axis: int) -> Quant:
        return Quant(tuple(float(v) for v in s), (0,) * len(s), axis)

    x = g.tensor("input_int8", (1, 8, 8, 1), "int8", quant=q_in)
    w1t = g.tensor("conv1/filter", w1_q.shape, "int8", data=w1_q, quant=per_channel(w1_s, 0))
    b1t = g.tensor("conv1/bias", b1_q.shape, "int32", data=b1_q, quant=b1_qp)
    a1 = g.tensor("conv1/relu", (1, 8, 8, 8), "int8", quant=q_a1)
    g.op("CONV_2D", [x, w1t, b1t], [a1], padding="SAME", activation="RELU")

    wdt = g.tensor("dwconv/filter", wd_q.shape, "int8", data=wd_q, quant=per_channel(wd_s, 3))
    bdt = g.tensor("dwconv/bias", bd_q.shape, "int32", data=bd_q, quant=bd_qp)
    d1 = g.tensor("dwconv", (1, 8, 8, 8), "int8", quant=q_d1)
    g.op("DEPTHWISE_CONV_2D", [a1, wdt, bdt], [d1], padding="SAME", depth_multiplier=1)

    r1 = g.tensor("add/relu", (1, 8, 8, 8), "int8", quant=q_r1)
    g.op("ADD", [a1, d1], [r1], activation="RELU")
    m1 = g.tensor("maxpool", (1, 4, 4, 8), "int8", quant=q_r1)
    g.op("MAX_POOL_2D", [r1], [m1], filter=2, stride=2)
    pads = g.tensor("pad/paddings", (4, 2), "int32", data=np.array([[0, 0], [1, 1], [1, 1], [0, 0]]))
    m1p = g.tensor("pad", (1, 6, 6, 8), "int8", quant=q_r1)
    g.op("PAD", [m1, pads], [m1p])

    w2t = g.tensor("conv2/filter", w2_q.shape, "int8", data=w2_q, quant=per_channel(w2_s, 0))
    b2t = g.tensor("conv2/bias", b2_q.shape, "int32", data=b2_q, quant=b2_qp)
    a2 = g.tensor("conv2/relu", (1, 4, 4, 16), "int8", quant=q_a2)
    g.op("CONV_2D", [m1p, w2t, b2t], [a2], padding="VALID", activation="RELU")
    p2 = g.tensor("avgpool", (1, 2, 2, 16), "int8", quant=q_a2)
    g.op("AVERAGE_POOL_2D", [a2], [p2], filter=2, stride=2)
    shape = g.tensor("flatten/shape", (2,), "int32", data=np.array([-1, 64]))
    f = g.tensor("flatten", (1, 64), "int8", quant=q_a2)
    g.op("RESHAPE", [p2, shape], [f])

    wft = g.tensor("dense/weights", wf_q.shape, "int8", data=wf_q, quant=Quant((float(wf_s[0]),), (0,)))
    bft = g.tensor("dense/bias", bf_q.shape, "int32", data=bf_q, quant=bf_qp)
    logits = g.tensor("dense", (1, 10), "int8", quant=q_logits)
    g.op("FULLY_CONNECTED", [f, wft, bft], [logits])
    out = g.tensor("softmax", (1, 10), "int8", quant=Quant((1.0 / 256.0,), (-128,)))
    g.op("SOFTMAX", [logits], [out], beta=1.0)
    return g.to_bytes(inputs=[x], outputs=[out])


def build_digits_model(
    cfg: TrainConfig = TrainConfig(), log: Callable[[str], None] | None = None
) -> tuple[bytes, FloatModel]:
    """Train on the training split, calibrate on it, and return the ``.tflite`` bytes."""
    x, y = load_digits_images("train")
    xf = x.astype(np.float64) / 255.0
    model = train_float(cfg, xf, y.astype(np.int64), log=log)
    description = (
        f"rtlgen digits_cnn: sklearn load_digits, train images 0..1436, seed {cfg.seed}, "
        f"{cfg.epochs} epochs; int8 input = pixel code - 128"
    )
    return quantize_to_tflite(model, xf, description), model


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rtlgen.zoo.train_digits", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="where to write the .tflite model")
    ap.add_argument("--seed", type=int, default=TrainConfig.seed)
    ap.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    ap.add_argument("--quiet", action="store_true", help="do not print per-epoch losses")
    args = ap.parse_args(argv)
    cfg = TrainConfig(seed=args.seed, epochs=args.epochs)
    start = time.perf_counter()
    data, model = build_digits_model(cfg, log=None if args.quiet else print)
    atomic_write_bytes(args.out, data)
    x_test, y_test = load_digits_images("test")
    float_acc = float(np.mean(model.predict(x_test / 255.0) == y_test))
    print(f"wrote {args.out} ({len(data)} bytes) in {time.perf_counter() - start:.1f} s")
    print(f"float accuracy on the {len(y_test)} test images: {100 * float_acc:.2f}%")
    int8_acc = _litert_accuracy(args.out, x_test, y_test)
    print(f"int8 accuracy (LiteRT reference kernels): {100 * int8_acc:.2f}%")
    return 0


def _litert_accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    from ai_edge_litert import interpreter as litert

    interp = litert.Interpreter(
        model_path=str(path), experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF
    )
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    out = interp.get_output_details()[0]["index"]
    hits = 0
    for img, label in zip(x, y):
        interp.set_tensor(inp, (img.astype(np.int16) - 128).astype(np.int8)[None])
        interp.invoke()
        hits += int(np.argmax(interp.get_tensor(out)[0]) == label)
    return hits / len(y)


if __name__ == "__main__":
    sys.exit(main())
