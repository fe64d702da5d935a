from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from rtlgen.bitstream import format as bsm
from rtlgen.errors import BitstreamError
from rtlgen.netlist.table import exact_table


@pytest.fixture(scope="module")
def digits():
    from rtlgen.mapper import Candidate, SearchSpace
    from rtlgen.mapper.network import layer_infos
    from rtlgen.nn.tflite import load_tflite
    from rtlgen.zoo.digits import digits_model_path, load_digits_images

    graph = load_tflite(digits_model_path())
    x, y = load_digits_images("test")
    x, y = x[:80], y[:80]
    exact = exact_table(False)
    cands = [Candidate.from_table("exact", exact, False),
             Candidate.from_table("trunc6", exact & ~63, False),
             Candidate.from_table("noisy", np.clip(exact + (np.arange(256)[:, None] % 7) * 9, 0, 65535), False)]
    layers = layer_infos(graph, x)
    space = SearchSpace(layers, cands, n_units=2, slots_per_unit=3, granularity="kernel", split_levels=4)
    return graph, x, y, cands, space


def _resolver(cands):
    tables = {c.hash: (c.table, c.signed) for c in cands}
    return lambda name: tables[name]


def test_bitstream_emulation_equals_assignment_emulation(digits) -> None:
    from rtlgen.emulate.from_bitstream import emulator_from_bitstream
    from rtlgen.mapper.network import EmulatorAccuracy

    graph, x, y, cands, space = digits
    model = EmulatorAccuracy(graph, x, y, {c.hash: c.table for c in cands})
    rng = np.random.default_rng(0)
    xl, xu = space.bounds()
    for _ in range(3):
        m = space.decode(rng.integers(xl, xu + 1))
        bs = bsm.decode(bsm.encode(space.bitstream(m, "cafe")))
        got = emulator_from_bitstream(graph, bs, _resolver(cands)).run(x)
        want = model.run(space.assignment(m))
        bad = np.argwhere(got.logits != want.logits)
        assert bad.size == 0, f"first differing logit at {tuple(bad[0])}"


@pytest.mark.parametrize("tuning", ["uniform", "histogram"])
def test_tuned_search_point_equals_its_bitstream(digits, tuning) -> None:
    """Weight tuning as the search evaluates it == the remaps the bitstream carries."""
    from rtlgen.emulate.emulator import Emulator
    from rtlgen.emulate.from_bitstream import emulator_from_bitstream
    from rtlgen.mapper import SearchSpace
    from rtlgen.mapper.network import EmulatorAccuracy

    graph, x, y, cands, space0 = digits
    space = SearchSpace(space0.layers, cands, n_units=2, slots_per_unit=3, granularity="filter", split_levels=4,
                        weight_tuning=tuning)
    hists = Emulator(graph).activation_histograms(x)
    model = EmulatorAccuracy(graph, x, y, {c.hash: c.table for c in cands}, act_hists=hists)
    rng = np.random.default_rng(5)
    xl, xu = space.bounds()
    n_remaps = 0
    for _ in range(2):
        m = space.decode(rng.integers(xl, xu + 1))
        bs = bsm.decode(bsm.encode(space.bitstream(m, "cafe")))
        n_remaps += sum(len(d.weight_remap) for d in bs.layers)
        got = emulator_from_bitstream(graph, bs, _resolver(cands)).run(x)
        want = model.run(space.assignment(m))
        bad = np.argwhere(got.logits != want.logits)
        assert bad.size == 0, f"first differing logit at {tuple(bad[0])}"
    assert n_remaps > 0


def test_weight_remap_is_tuned_weights(digits) -> None:
    from rtlgen.emulate.emulator import Emulator
    from rtlgen.emulate.from_bitstream import emulator_from_bitstream
    from rtlgen.emulate.layers import compile_mac_layers
    from rtlgen.emulate.plan import LayerPlan

    graph, x, y, cands, space = digits
    m = space.decode(space.uniform_point(1))
    bs = space.bitstream(m, "cafe")
    v = np.arange(256, dtype=np.int64)
    v = np.where(v >= 128, v - 256, v)
    tuned = np.sign(v) * np.minimum(np.abs(v) & ~1, 127)  # clear the magnitude's LSB
    codes = bytes((tuned & 0xFF).astype(np.uint8))
    d0 = bs.layers[0]
    bs = dataclasses.replace(bs, layers=(dataclasses.replace(d0, weight_remap=(bsm.WeightRemap(0, codes),)),) + bs.layers[1:])
    bs = bsm.decode(bsm.encode(bs))
    got = emulator_from_bitstream(graph, bs, _resolver(cands)).run(x)
    layers = compile_mac_layers(graph)
    plans = {}
    for li, (op, info) in enumerate(zip(graph.mac_ops(), space.layers)):  # every MAC layer is assigned
        layer = layers[op.index]
        w = layer.weights
        if li == 0:  # every kernel of layer 0 is in slot 0 (the uniform point)
            w64 = w.astype(np.int64)
            w = (np.sign(w64) * (np.abs(w64) & ~1)).astype(np.int8)
        plans[op.index] = LayerPlan(info.encoding, (space.candidates[1].table,), np.zeros(layer.kernel_shape, np.int64), (),
                                    w).validate(layer)
    want = Emulator(graph, plans).run(x)
    assert np.array_equal(got.logits, want.logits)
    plain = emulator_from_bitstream(graph, bsm.decode(bsm.encode(space.bitstream(m, "cafe"))), _resolver(cands)).run(x)
    assert not np.array_equal(plain.logits, got.logits)  # the remap changed something


def test_bitstream_for_another_model_rejected(digits) -> None:
    from rtlgen.emulate.from_bitstream import emulator_from_bitstream

    graph, x, y, cands, space = digits
    bs = space.bitstream(space.decode(space.uniform_point(0)), "cafe")
    d = bs.layers[1]
    rq = dataclasses.replace(d.requant, multipliers=(d.requant.multipliers[0] + 1,) + d.requant.multipliers[1:])
    bad = dataclasses.replace(bs, layers=(bs.layers[0], dataclasses.replace(d, requant=rq)) + bs.layers[2:])
    with pytest.raises(BitstreamError, match=r"^cfg\.bin: layer 1: requantization multipliers is \(\d+, .* in the bitstream "
                                             r"but \(\d+, .* in the model .*; the bitstream was made for another model$"):
        emulator_from_bitstream(graph, bad, _resolver(cands), file="cfg.bin")


def test_op_descriptors_are_checked_against_the_model(digits) -> None:
    """Format version 4's op descriptors: the model's own pass (bases and position are the
    plan's, not checked); a changed parameter or an operator the model lacks is refused."""
    from rtlgen.bitstream.opdesc import op_descriptors
    from rtlgen.emulate.from_bitstream import emulator_from_bitstream

    graph, x, y, cands, space = digits
    bs = space.bitstream(space.decode(space.uniform_point(0)), "cafe")
    ops = op_descriptors(graph)
    assert [d.key for d in ops] == ["add:0", "max_pool_2d:0", "pad:0", "average_pool_2d:0"]
    moved = tuple(dataclasses.replace(d, in_base=100 + i, out_base=7) for i, d in enumerate(ops))
    good = dataclasses.replace(bs, ops=moved)
    want = emulator_from_bitstream(graph, bs, _resolver(cands)).run(x[:8]).logits
    assert np.array_equal(emulator_from_bitstream(graph, good, _resolver(cands)).run(x[:8]).logits, want)
    add = dataclasses.replace(ops[0], output_multiplier=ops[0].output_multiplier + 1)
    with pytest.raises(BitstreamError, match=r"^cfg\.bin: op add:0: output_multiplier is \d+ in the bitstream but "
                                             r"\d+ in the model .*; the bitstream was made for another model$"):
        emulator_from_bitstream(graph, dataclasses.replace(bs, ops=(add,)), _resolver(cands), file="cfg.bin")
    pool = dataclasses.replace(ops[1], index=1)
    with pytest.raises(BitstreamError, match=r"^cfg\.bin: op max_pool_2d:1: the model has no such operator \(its "
                                             r"ADD/pool/PAD operators: add:0, max_pool_2d:0, pad:0, average_pool_2d:0\)$"):
        emulator_from_bitstream(graph, dataclasses.replace(bs, ops=(pool,)), _resolver(cands), file="cfg.bin")


def test_cli_bitstream_emulate(digits, tmp_path, capsys) -> None:
    from rtlgen.cli import main
    from rtlgen.zoo.digits import digits_model_path, save_images_npz

    graph, x, y, cands, space = digits
    lib = tmp_path / "lib"
    from rtlgen.library.catalog import Catalog

    cat = Catalog(lib)
    for c in cands:
        cat.add(c.table, c.signed, c.name)
    cat.save()
    bs = space.bitstream(space.decode(space.uniform_point(2)), "cafe")
    bsm.write_bitstream(tmp_path / "cfg.bin", bs)
    images = save_images_npz(tmp_path / "d.npz", "test")
    out = tmp_path / "emu.npz"
    assert main(["bitstream", "emulate", str(tmp_path / "cfg.bin"), "--model", str(digits_model_path()), "--images",
                 str(images), "--lib", str(lib), "--limit", "80", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    res = np.load(out)
    assert res["logits"].shape == (80, 10)
    assert re.search(rf"80 images, top-1 accuracy {100 * float(res['accuracy']):.2f}%", text)
