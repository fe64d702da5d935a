from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtlgen.cost.activity import (ActivitySpec, CompiledNetlist, arc_activity, net_activity, operand_stream,
                             simulate, simulate_stream, tabulate_mapped)
from rtlgen.errors import NetlistError
from rtlgen.cost.synth import synthesize
from rtlgen.netlist.table import exact_table

TINY = """
module tiny(A, B, O);
  input [7:0] A;
  input [7:0] B;
  output [15:0] O;
  assign O = {15'b0, A[0] & B[0]};
endmodule
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> CompiledNetlist:
    path = tmp_path_factory.mktemp("tiny") / "tiny.v"
    path.write_text(TINY)
    from rtlgen.paths import liberty_path

    return CompiledNetlist(synthesize(path, liberty=liberty_path()))  # OSU018: one AND2X1, pins A, B, Y


def _find(evoapprox_dir: Path, name: str) -> Path:
    return next(evoapprox_dir.rglob(f"{name}.v"))


def test_spec_rejects_bad_histograms():
    with pytest.raises(ValueError, match=r"^a_hist must be a length-256 array"):
        ActivitySpec.make(np.ones(255))
    with pytest.raises(ValueError, match=r"^b_hist must hold finite non-negative weights$"):
        ActivitySpec.make(None, -np.ones(256))
    with pytest.raises(ValueError, match=r"^a_hist sums to 0.0"):
        ActivitySpec.make(np.zeros(256))
    with pytest.raises(ValueError, match=r"^n_vectors must be an integer >= 2"):
        ActivitySpec.make(n_vectors=1)
    with pytest.raises(ValueError, match=r"^operand sequence a must hold bit patterns 0..255$"):
        ActivitySpec.from_operands([0, 256], [0, 0])


def test_spec_key_identifies_the_stream():
    h = np.zeros(256)
    h[3] = 2.0
    assert ActivitySpec.make().key == ActivitySpec.make().key
    assert ActivitySpec.make(h).key == ActivitySpec.make(h / 2).key  # normalized
    assert ActivitySpec.make(np.ones(256)).key == ActivitySpec.make().key  # uniform is uniform
    keys = {ActivitySpec.make().key, ActivitySpec.make(h).key, ActivitySpec.make(None, h).key,
            ActivitySpec.make(seed=1).key, ActivitySpec.make(n_vectors=100).key,
            ActivitySpec.from_operands([1, 2], [3, 4]).key}
    assert len(keys) == 6


def test_operand_stream_follows_histograms():
    a_hist = np.zeros(256)
    a_hist[[0, 200]] = [3, 1]
    b_hist = np.zeros(256)
    b_hist[17] = 1
    a, b = operand_stream(ActivitySpec.make(a_hist, b_hist, n_vectors=20000, seed=5))
    assert set(np.unique(a)) == {0, 200}
    assert abs(np.mean(a == 0) - 0.75) < 0.02
    assert np.all(b == 17)
    a2, _ = operand_stream(ActivitySpec.make(a_hist, b_hist, n_vectors=20000, seed=5))
    assert np.array_equal(a, a2)  # seeded


def test_synthesized_exact_multipliers_tabulate_exactly(evoapprox_dir):
    for name, signed in (("mul8u_1JJQ", False), ("mul8s_1KV6", True)):
        table = tabulate_mapped(CompiledNetlist(synthesize(_find(evoapprox_dir, name))), signed)
        diff = np.argwhere(table != exact_table(signed))
        assert len(diff) == 0, f"{name}: first mismatch at (a, b) = {tuple(diff[0])}"


def test_constant_stream_has_no_activity(evoapprox_dir):
    compiled = CompiledNetlist(synthesize(_find(evoapprox_dir, "mul8u_DG8")))
    waves = simulate_stream(compiled, ActivitySpec.from_operands(np.full(500, 173), np.full(500, 91)))
    nets = net_activity(waves)
    assert max(nets.toggle_rate.values()) == 0.0
    assert set(nets.prob_one.values()) <= {0.0, 1.0}
    assert all(sum(r) == 0.0 for r in arc_activity(waves).rates.values())


def test_uniform_operands_toggle_inputs_half_the_cycles(evoapprox_dir):
    compiled = CompiledNetlist(synthesize(_find(evoapprox_dir, "mul8u_17MN")))
    nets = net_activity(simulate_stream(compiled, ActivitySpec.make(n_vectors=40000, seed=2)))
    bits = nets.port_bits(compiled)
    assert sorted(bits) == sorted([f"A[{i}]" for i in range(8)] + [f"B[{i}]" for i in range(8)])
    for name, (toggles, p1) in bits.items():
        assert abs(toggles - 0.5) < 0.02, name
        assert abs(p1 - 0.5) < 0.02, name


def test_activity_of_one_gate_by_hand(tiny):
    # O[0] = A[0] & B[0]; cycles: (a, b) = (0,1) (1,1) (1,0) (0,0) (1,1)
    a = np.array([0, 1, 1, 0, 1])
    b = np.array([1, 1, 0, 0, 1])
    assert [op.type for op in tiny.cells] == ["AND2X1"]
    waves = simulate(tiny, {"A": a, "B": b})
    out = tiny.outputs["O"][0]
    assert waves.value(out).tolist() == [False, True, False, False, True]
    assert all(not waves.value(bit).any() for bit in tiny.outputs["O"][1:])
    nets = net_activity(waves)
    assert nets.toggle_rate[out] == pytest.approx(3 / 4)
    assert nets.prob_one[out] == pytest.approx(2 / 5)
    (op,) = tiny.cells
    pin_of = {net: pin for pin, net in op.inputs.items()}
    pa, pb = pin_of[tiny.inputs["A"][0]], pin_of[tiny.inputs["B"][0]]
    rates = arc_activity(waves).rates
    # rise by A alone (cycle 1), fall by B alone (cycle 2), rise by A and B together (cycle 4)
    assert rates[(op.name, pa, "Y")] == pytest.approx((1.5 / 4, 0, 0, 0))
    assert rates[(op.name, pb, "Y")] == pytest.approx((0.5 / 4, 0, 0, 1 / 4))


def test_operand_ports_are_checked(tmp_path):
    path = tmp_path / "odd.v"
    path.write_text("module odd(X, B, O); input [7:0] X; input [7:0] B; output [15:0] O;\n"
                    "assign O = {X, B}; endmodule\n")
    compiled = CompiledNetlist(synthesize(path))
    with pytest.raises(NetlistError, match=r"expected two 8-bit inputs A and B, found X\[8\], B\[8\]$"):
        compiled.operand_ports()
