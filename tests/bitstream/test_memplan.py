"""The activation-memory plan (rtlgen.bitstream.memplan): ping-pong on a chain, residual inputs
kept, RESHAPE sharing its input's bytes, and the refusal of a network that does not fit, also as
``rtlgen bitstream build``'s one stderr line and exit status 1."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtlgen.bitstream.memplan import plan_activations
from rtlgen.errors import BitstreamError
from rtlgen.nn.graph import Graph, Op, Tensor


def _graph(shapes: list[tuple[int, ...]], ops: list[tuple[str, tuple[int, ...], int]], out: int) -> Graph:
    """Tensors of ``shapes`` (int8, activations) plus one constant; ops as (kind, inputs, output)."""
    tensors = [Tensor(i, f"t{i}", s, "int8", None) for i, s in enumerate(shapes)]
    const = len(tensors)
    tensors.append(Tensor(const, "w", (4, 4), "int8", None, data=np.zeros((4, 4), np.int8)))
    return Graph(tuple(tensors), tuple(Op(i, k, (*ins, const) if k != "ADD" else ins, (o,))
                                       for i, (k, ins, o) in enumerate(ops)), (0,), (out,), "net.tflite")


def test_chain_ping_pongs() -> None:
    g = _graph([(1, 64), (1, 32), (1, 48), (1, 16)],
               [("FULLY_CONNECTED", (0,), 1), ("FULLY_CONNECTED", (1,), 2), ("FULLY_CONNECTED", (2,), 3)], 3)
    plan = plan_activations(g)
    assert [plan.bases[t] for t in range(4)] == [0, 64, 0, 48]
    assert plan.needed == 96 and plan.input == (0, 64) and plan.output == (48, 16)
    assert [plan.op_bases(op) for op in g.ops] == [(0, 64), (64, 0), (0, 48)]


def test_residual_input_kept_until_the_add_and_reshape_shares_bytes() -> None:
    # t0 -> conv -> t1 -> conv -> t2; add(t0, t2) -> t3; reshape(t3) -> t4
    g = _graph([(1, 4, 4, 2), (1, 4, 4, 2), (1, 4, 4, 2), (1, 4, 4, 2), (1, 32)],
               [("CONV_2D", (0,), 1), ("CONV_2D", (1,), 2), ("ADD", (0, 2), 3), ("RESHAPE", (3,), 4)], 4)
    plan = plan_activations(g)
    b = plan.bases
    assert b[0] == 0 and b[1] == 32 and b[2] == 64   # t0 is still live: t2 may not reuse it
    assert b[3] == 32 and b[4] == b[3]                # t1 is dead by then; the reshape is the same bytes
    assert plan.needed == 96
    for op in g.ops[:3]:                              # no op writes over what it reads
        out = (plan.bases[op.outputs[0]], plan.bases[op.outputs[0]] + 32)
        for t in op.inputs:
            if t in plan.bases:
                assert out[1] <= plan.bases[t] or plan.bases[t] + 32 <= out[0]


def test_refusal_names_needed_and_available() -> None:
    g = _graph([(1, 64), (1, 32)], [("FULLY_CONNECTED", (0,), 1)], 1)
    assert plan_activations(g, 96).needed == 96
    with pytest.raises(BitstreamError, match=r"^the activations of net\.tflite need 96 bytes of activation "
                                             r"memory .*, the accelerator has 95 \(activation_bytes\)$"):
        plan_activations(g, 95)


def test_bitstream_build_refuses_a_model_that_does_not_fit(tmp_path: Path, capsys) -> None:
    from rtlgen.accel.config import AccelConfig
    from rtlgen.cli import main
    from rtlgen.library.catalog import Catalog
    from rtlgen.netlist.table import exact_table
    from rtlgen.zoo.digits import digits_model_path

    cat = Catalog(tmp_path / "lib")
    cat.add(exact_table(False), False, "mul8u_exact")
    cat.save()
    base = ["bitstream", "build", "--model", str(digits_model_path()), "--lib", str(tmp_path / "lib")]
    for shape, pattern in ((dict(activation_bytes=512, weight_words=4096, channels=256),
                            r"need \d+ bytes of activation memory .*the accelerator has 512 \(activation_bytes\)"),
                           (dict(activation_bytes=32768, weight_words=8, channels=256),
                            r"layer \S+ needs \d+ weight-memory words .*the accelerator has 8 \(weight_words\)"),
                           (dict(activation_bytes=32768, weight_words=4096, channels=4),
                            r"layer \S+ needs \d+ parameter-memory entries, the accelerator has 4 \(channels\)")):
        toml = tmp_path / "small.toml"
        toml.write_text(AccelConfig(units=1, lanes=4, multipliers=1, **shape).to_toml())
        out = tmp_path / "out"
        assert main([*base, "--accel", str(toml), "--out", str(out)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "small.toml" in err, err
        assert __import__("re").search(pattern, err), err
        assert not out.exists()
