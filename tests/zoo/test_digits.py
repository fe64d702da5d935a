from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import tflite
from ai_edge_litert import interpreter as litert
from sklearn.datasets import load_digits

from rtlgen.errors import ModelError
from rtlgen.zoo import digits as digits_mod
from rtlgen.zoo import digits_model_path, load_digits_images, save_images_npz
from rtlgen.zoo.train_digits import TrainConfig, build_digits_model, main

# Measured with LiteRT's reference kernels on the 360 held-out images: 96.67% (348/360; the
# float model 96.94%). The floor sits below that by more than one image's worth yet far above
# what a broken quantization gives (a wrong zero point, transposed filter or bias scale drops it
# to chance or by tens of points).
ACCURACY_FLOOR = 0.95

EXPECTED_OPS = [
    "CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MAX_POOL_2D", "PAD",
    "CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX",
]  # fmt: skip

_OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}


def _run_reference(model: bytes | Path, x_codes: np.ndarray) -> np.ndarray:
    kw = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    interp = litert.Interpreter(**kw, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    interp.resize_tensor_input(0, list(x_codes.shape))
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], (x_codes.astype(np.int16) - 128).astype(np.int8))
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


class _Graph:
    """The committed model read with the ``tflite`` package: tensors by index, ops in order."""

    def __init__(self, data: bytes):
        self.model = tflite.Model.GetRootAsModel(data, 0)
        self.sg = self.model.Subgraphs(0)

    def ops(self) -> list[tuple[str, list[int], list[int]]]:
        out = []
        for i in range(self.sg.OperatorsLength()):
            op = self.sg.Operators(i)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            name = _OP_NAMES[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
            out.append((name, list(op.InputsAsNumpy()), list(op.OutputsAsNumpy())))
        return out

    def quant(self, t: int) -> tuple[np.ndarray, np.ndarray, int]:
        q = self.sg.Tensors(t).Quantization()
        return q.ScaleAsNumpy(), q.ZeroPointAsNumpy(), q.QuantizedDimension()

    def data(self, t: int) -> np.ndarray:
        tensor = self.sg.Tensors(t)
        raw = self.model.Buffers(tensor.Buffer()).DataAsNumpy()
        dtype = {tflite.TensorType.INT8: np.int8, tflite.TensorType.INT32: np.int32}[tensor.Type()]
        return raw.view(dtype).reshape(tensor.ShapeAsNumpy())

    def name(self, t: int) -> str:
        return self.sg.Tensors(t).Name().decode()

    def constants(self) -> dict[str, np.ndarray]:
        return {
            self.name(t): self.data(t)
            for t in range(self.sg.TensorsLength())
            if self.sg.Tensors(t).Buffer() != 0
        }


@pytest.fixture(scope="module")
def committed() -> bytes:
    return digits_model_path().read_bytes()


def test_model_is_packaged_and_small(committed: bytes) -> None:
    path = digits_model_path()
    assert path.parent.name == "data" and path.parent.parent.name == "rtlgen"
    assert committed[4:8] == b"TFL3"
    assert len(committed) < 16 * 1024


def test_missing_model_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digits_mod, "_MODEL", tmp_path / "digits_cnn.tflite")
    with pytest.raises(ModelError, match=r"digits_cnn\.tflite: the embedded digits model is missing"):
        digits_model_path()


def test_reference_kernels_classify_held_out_digits() -> None:
    x, y = load_digits_images("test")
    out = _run_reference(digits_model_path(), x)
    assert out.shape == (360, 10) and out.dtype == np.int8
    # Softmax output: scale 1/256, zero point -128, so the probabilities sum to about 1.
    prob_sums = (out.astype(np.int32) + 128).sum(axis=1) / 256
    assert np.all(np.abs(prob_sums - 1.0) < 0.05), prob_sums.min()
    accuracy = float(np.mean(out.argmax(axis=1) == y))
    assert accuracy >= ACCURACY_FLOOR, f"int8 accuracy {accuracy:.4f} below {ACCURACY_FLOOR}"


def test_graph_and_quantization_follow_tflite_int8_conventions(committed: bytes) -> None:
    g = _Graph(committed)
    ops = g.ops()
    assert [name for name, _, _ in ops] == EXPECTED_OPS
    inp = g.sg.InputsAsNumpy()[0]
    assert list(g.sg.Tensors(inp).ShapeAsNumpy()) == [1, 8, 8, 1]
    assert g.sg.Tensors(inp).Type() == tflite.TensorType.INT8
    scale, zp, _ = g.quant(inp)
    assert scale.tolist() == [1.0] and zp.tolist() == [-128]

    for name, ins, outs in ops:
        in_scale, in_zp, _ = g.quant(ins[0])
        out_scale, out_zp, _ = g.quant(outs[0])
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            w, b = g.data(ins[1]), g.data(ins[2])
            w_scale, w_zp, w_axis = g.quant(ins[1])
            b_scale, b_zp, _ = g.quant(ins[2])
            # Per channel along O of OHWI (conv), C of 1HWC (depthwise); per tensor for FC.
            axis = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}[name]
            channels = 1 if name == "FULLY_CONNECTED" else w.shape[axis]
            assert w.dtype == np.int8 and b.dtype == np.int32
            assert len(w_scale) == channels and w_axis == axis, name
            assert np.all(w_zp == 0) and np.all(b_zp == 0), name
            # Symmetric, max-abs scaled: each channel reaches +-127 and never -128.
            per_channel = np.moveaxis(w, axis, 0).reshape(channels, -1) if channels > 1 else w.reshape(1, -1)
            assert np.all(np.abs(per_channel).max(axis=1) == 127) and w.min() >= -127, name
            expected_b_scale = (np.float32(in_scale[0]) * w_scale).astype(np.float32)
            assert np.allclose(b_scale, expected_b_scale, rtol=1e-6, atol=0), name
            assert b.shape == (len(b_scale) if channels > 1 else w.shape[0],)
        if name in ("MAX_POOL_2D", "AVERAGE_POOL_2D", "PAD", "RESHAPE"):
            assert (out_scale.tolist(), out_zp.tolist()) == (in_scale.tolist(), in_zp.tolist()), name
        if name == "SOFTMAX":
            assert out_scale.tolist() == [1 / 256] and out_zp.tolist() == [-128]
    # Outputs of fused ReLUs start at real 0, so their zero point is the lowest code.
    for name, ins, outs in ops:
        if name in ("CONV_2D", "ADD"):
            assert g.quant(outs[0])[1].tolist() == [-128], g.name(outs[0])


def test_images_are_the_documented_split_and_codes() -> None:
    digits = load_digits()
    x, y = load_digits_images("test")
    assert x.shape == (360, 8, 8, 1) and x.dtype == np.uint8 and y.dtype == np.uint8
    np.testing.assert_array_equal(y, digits.target[-360:])
    v = digits.images[-360:].astype(np.int64)
    np.testing.assert_array_equal(x[..., 0], (255 * v + 8) // 16)
    assert digits_mod.pixel_codes(np.array([0, 8, 16])).tolist() == [0, 128, 255]
    xt, yt = load_digits_images("train")
    assert len(xt) == 1437
    np.testing.assert_array_equal(yt, digits.target[:1437])
    xa, _ = load_digits_images("all")
    np.testing.assert_array_equal(xa, np.concatenate([xt, x]))
    with pytest.raises(ValueError, match=r"^split must be one of 'train', 'test', 'all', not 'val'$"):
        load_digits_images("val")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^digits pixel values must be integers in 0\.\.16$"):
        digits_mod.pixel_codes(np.array([17]))


def test_images_npz_has_the_cifar10_layout(tmp_path: Path) -> None:
    path = save_images_npz(tmp_path / "digits_test.npz")
    with np.load(path) as f:
        assert sorted(f.files) == ["x", "y"]
        x, y = f["x"], f["y"]
    assert x.dtype == np.uint8 and x.shape == (360, 8, 8, 1) and y.dtype == np.uint8
    ref_x, ref_y = load_digits_images("test")
    np.testing.assert_array_equal(x, ref_x)
    np.testing.assert_array_equal(y, ref_y)
    assert [p.name for p in tmp_path.iterdir()] == ["digits_test.npz"]  # no temporary left


def _first_difference(got: bytes, want: bytes) -> str:
    a, b = _Graph(got).constants(), _Graph(want).constants()
    if a.keys() != b.keys():
        return f"constant tensors differ: {sorted(a.keys() ^ b.keys())}"
    for name in b:
        if a[name].shape != b[name].shape:
            return f"tensor {name}: shape {a[name].shape}, committed {b[name].shape}"
        diff = np.argwhere(a[name] != b[name])
        if len(diff):
            idx = tuple(int(i) for i in diff[0])
            return f"tensor {name}[{idx}]: regenerated {a[name][idx]}, committed {b[name][idx]}"
    return "constant data equal; quantization parameters or layout differ"


# Training is float64 numpy with one seeded generator. Its floats depend on the BLAS kernel, but
# the int8 rounding absorbs that: forcing OpenBLAS's Prescott, Nehalem or Zen kernels and turning
# off numpy's AVX2 paths gave the same bytes (checked 2026-11-22 on this machine).
@pytest.mark.slow
def test_committed_model_is_what_the_script_produces(committed: bytes) -> None:
    data, float_model = build_digits_model(TrainConfig())
    assert data == committed, _first_difference(data, committed)
    # Quantization keeps the float model's decisions on (nearly) every held-out image.
    x, _ = load_digits_images("test")
    int8_pred = _run_reference(data, x).argmax(axis=1)
    float_pred = float_model.predict(x / 255.0)
    agreement = float(np.mean(int8_pred == float_pred))
    assert agreement >= 0.98, f"int8 and float predictions agree on only {agreement:.4f}"


def test_script_writes_a_loadable_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m" / "digits.tflite"
    assert main(["--out", str(out), "--epochs", "1", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^int8 accuracy \(LiteRT reference kernels\): \d+\.\d\d%$", text, re.M), text
    x, _ = load_digits_images("test")
    assert _run_reference(out, x[:4]).shape == (4, 10)


def test_emulator_is_bit_exact_with_reference_kernels_on_every_tensor() -> None:
    # The digits model is what the default flow emulates: every tensor of every one of the 1,797
    # images must match LiteRT (it covers DEPTHWISE_CONV_2D, MAX_POOL_2D and PAD, which
    # ResNet-8 does not).
    from rtlgen.emulate.emulator import Emulator, quantize_input
    from rtlgen.nn.tflite import load_tflite

    x, _ = load_digits_images("all")
    path = digits_model_path()
    interp = litert.Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
    )
    interp.resize_tensor_input(0, list(x.shape))
    interp.allocate_tensors()
    x_q = (x.astype(np.int16) - 128).astype(np.int8)
    emulator = Emulator(load_tflite(path))
    np.testing.assert_array_equal(quantize_input(emulator.graph, x), x_q)
    interp.set_tensor(0, x_q)
    interp.invoke()
    values = emulator.run_batch(x_q)
    assert len(values) == len(emulator.graph.ops) + 1
    for t, got in sorted(values.items()):
        want = interp.get_tensor(t).reshape(got.shape)
        diff = np.argwhere(got != want)
        assert not len(diff), (
            f"tensor {t} ({_Graph(path.read_bytes()).name(t)}) differs first at {tuple(diff[0])}: "
            f"emulated {got[tuple(diff[0])]}, LiteRT {want[tuple(diff[0])]}"
        )
