"""config.bin + weights.bin of a model (rtlgen.accel.images, ``rtlgen bitstream build``): the
emulator computes from the two images exactly what it computes from the assignment."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from rtlgen.accel.config import AccelConfig, load_config
from rtlgen.accel.images import build_images
from rtlgen.bitstream import format as bsm
from rtlgen.bitstream import weights as wm
from rtlgen.cli import main
from rtlgen.emulate import emulator_for
from rtlgen.emulate.assignment import parse_assignment
from rtlgen.emulate.from_bitstream import check_weights, emulator_from_images, model_weights
from rtlgen.errors import BitstreamError, ConfigError
from rtlgen.library.catalog import Catalog
from rtlgen.netlist.table import exact_table, table_hash
from rtlgen.nn.tflite import load_tflite
from rtlgen.zoo.digits import digits_model_path, load_digits_images, save_images_npz

SHAPE = dict(activation_bytes=32768, weight_words=4096, channels=256)
EXACT_U = table_hash(exact_table(False), False)


@pytest.fixture(scope="module")
def lib(tmp_path_factory) -> Path:
    """A catalog of made-up approximate tables (fast to build; the images do not care)."""
    root = tmp_path_factory.mktemp("lib")
    cat = Catalog(root)
    eu, es = exact_table(False), exact_table(True)
    cat.add(eu, False, "mul8u_exact")
    cat.add(eu & ~63, False, "mul8u_trunc6")
    cat.add(np.clip(eu + (np.arange(256)[:, None] % 7) * 9, 0, 65535), False, "mul8u_noisy")
    cat.add(es, True, "mul8s_exact")
    cat.add(es & ~15, True, "mul8s_trunc4")
    cat.save()
    return root


@pytest.fixture(scope="module")
def catalog(lib: Path) -> Catalog:
    return Catalog.open(lib)


def _resolver(catalog: Catalog):
    return lambda name: (catalog.table(name), catalog.get(name).signed)


@pytest.fixture(scope="module")
def digits():
    x, _ = load_digits_images("test")
    return load_tflite(digits_model_path()), x[:100]


@pytest.fixture(scope="module")
def dscnn(shared_data: Path):
    folder = shared_data / "mlperf_tiny_kws"
    with np.load(folder / "kws01_test1000.npz") as f:
        x = f["x"][:40]
    return load_tflite(folder / "kws_ref_model.tflite"), x


def _approximate(graph, rng: np.random.Generator, tuning: str = "none") -> dict:
    """Every MAC layer approximate, at every granularity and encoding the schema has."""
    from rtlgen.emulate.layers import compile_mac_layers

    layers = compile_mac_layers(graph)
    spec: dict = {}
    for i, op in enumerate(graph.conv_ops()):
        o, g = layers[op.index].kernel_shape
        if i % 2 == 0 and g == 1:
            spec[str(i)] = {"filters": list(rng.choice(["mul8u_trunc6", "mul8u_noisy", "exact"], o)), "encoding": "offset"}
        elif i % 2 == 0:
            spec[str(i)] = {"kernels": [list(rng.choice(["mul8s_trunc4", "mul8s_exact"], g)) for _ in range(o)],
                            "encoding": "raw"}
        elif g == 1:
            spec[str(i)] = "mul8u_noisy"
        else:
            spec[str(i)] = {"multiplier": "mul8u_trunc6", "encoding": "offset"}
    for i, _ in enumerate(graph.mac_ops(("FULLY_CONNECTED",))):
        spec[f"fc:{i}"] = {"multiplier": "mul8u_noisy", "encoding": "offset"}
    return {"layers": spec, "weight_tuning": tuning}


def _same_logits(graph, x, images, assignment, catalog, **images_kw) -> None:
    bs = bsm.decode(bsm.encode(images.config))          # through the bytes, as a device gets them
    weights = wm.decode(wm.encode(images.weights))
    got = emulator_from_images(graph, bs, weights, _resolver(catalog)).run(x).logits
    want = emulator_for(graph, assignment, _resolver(catalog), calib_images=x).run(x).logits
    bad = np.argwhere(got != want)
    assert bad.size == 0, f"first differing logit at {tuple(bad[0])}"
    return got


@pytest.mark.parametrize("tuning", ["none", "uniform", "histogram"])
def test_digits_images_compute_the_assignment(digits, catalog, tuning) -> None:
    graph, x = digits
    a = parse_assignment(_approximate(graph, np.random.default_rng(1), tuning))
    config = AccelConfig(units=2, lanes=4, multipliers=4, **SHAPE)
    images = build_images(graph, config, catalog, a, calib_images=x)
    got = _same_logits(graph, x, images, a, catalog)
    assert (got != emulator_for(graph).run(x).logits).any()          # the assignment is approximate
    assert [d.key for d in images.config.layers] == ["0", "1", "2", "fc:0"]
    assert {d.granularity for d in images.config.layers} >= {"filter", "layer", "kernel"}
    if tuning != "none":
        assert any(d.weight_remap for d in images.config.layers)
    # the remaps are config.bin's: weights.bin holds the model's own weights
    assert images.weights == model_weights(graph, 4)


def test_dscnn_images_compute_the_assignment(dscnn, catalog) -> None:
    graph, x = dscnn
    a = parse_assignment(_approximate(graph, np.random.default_rng(2)))
    config = AccelConfig(units=3, lanes=16, multipliers=3, **SHAPE)
    images = build_images(graph, config, catalog, a)
    kinds = [d.kind for d in images.config.layers]
    assert kinds.count("depthwise_conv2d") == 4 and kinds.count("fully_connected") == 1 and len(kinds) == 10
    got = _same_logits(graph, x, images, a, catalog)
    assert (got != emulator_for(graph).run(x).logits).any()


def test_without_assignment_every_layer_is_exact(digits, catalog) -> None:
    graph, x = digits
    images = build_images(graph, AccelConfig(units=1, lanes=8, multipliers=2, **SHAPE), catalog)
    assert images.banks_chosen and images.config.units == ((bsm.MultiplierRef(EXACT_U, False, "mul8u_exact"),) * 2,)
    assert all(d.granularity == "layer" and d.selects == (0,) and d.encoding == "signmag" and not d.weight_remap
               for d in images.config.layers)
    got = emulator_from_images(graph, images.config, images.weights, _resolver(catalog)).run(x).logits
    assert np.array_equal(got, emulator_for(graph).run(x).logits)


def test_accelerator_hash_is_the_generated_accelerators(digits, catalog, tmp_path) -> None:
    graph, _ = digits
    banks = [["mul8u_trunc6", "mul8u_noisy", "mul8u_1JJQ_alias"], ["mul8s_trunc4", "mul8s_exact", "mul8u_exact"]]
    banks[0][2] = "mul8u_exact"
    config = AccelConfig(units=2, lanes=4, multipliers=3, unit_multipliers=tuple(map(tuple, banks)), **SHAPE)
    a = parse_assignment(_approximate(graph, np.random.default_rng(3)))
    images = build_images(graph, config, catalog, a)
    # rtlgen.accel.generate bakes config.resolved(catalog).config_hash() into the hardware
    assert images.config.accel_hash == config.resolved(catalog).config_hash()
    assert not images.banks_chosen and set(images.files()) == {"config.bin", "weights.bin"}
    assert [[m.name for m in u] for u in images.config.units] == banks
    # chosen banks: the accel.toml written beside names a configuration of the same hash
    free = build_images(graph, AccelConfig(units=2, lanes=4, multipliers=3, **SHAPE), catalog, a)
    (tmp_path / "accel.toml").write_bytes(free.files()["accel.toml"])
    assert load_config(tmp_path / "accel.toml").resolved(catalog).config_hash() == free.config.accel_hash


def test_layer_no_unit_carries_is_an_error(digits, catalog) -> None:
    graph, _ = digits
    config = AccelConfig(units=1, lanes=4, multipliers=2, unit_multipliers=(("mul8u_exact", "mul8u_trunc6"),),
                         source="a.toml", **SHAPE)
    a = parse_assignment({"layers": {"1": "mul8u_noisy"}})
    with pytest.raises(ConfigError, match=r"^a\.toml: layer 1 uses mul8u_noisy, which no unit carries together "
                                          r"\(unit 0: mul8u_exact, mul8u_trunc6\)$"):
        build_images(graph, config, catalog, a)
    with pytest.raises(ConfigError, match=r"^layer 0 uses 3 multipliers, which no unit has room for: the 2 unit\(s\) "
                                          r"of 2 slots hold \[0, 0\] already"):
        build_images(graph, AccelConfig(units=2, lanes=4, multipliers=2, **SHAPE), catalog,
                     parse_assignment({"layers": {"0": {"filters": ["mul8u_trunc6", "mul8u_noisy", "exact"] * 2
                                                                 + ["exact"] * 2}}}))
    with pytest.raises(ConfigError, match=r"weight_tuning 'histogram' needs calibration images"):
        build_images(graph, AccelConfig(units=1, lanes=4, multipliers=4, **SHAPE), catalog,
                     parse_assignment({"layers": {"0": "mul8u_noisy"}, "weight_tuning": "histogram"}))


def test_weights_of_another_model_rejected(digits, dscnn, catalog) -> None:
    graph, _ = digits
    images = build_images(graph, AccelConfig(units=1, lanes=4, multipliers=1, **SHAPE), catalog)
    other = model_weights(dscnn[0], 4)
    # config.bin (format version 2) names its weights.bin: the two images disagree
    at = bsm.model_hash_offset(images.config)
    assert images.config.model_hash == images.weights.model_hash
    with pytest.raises(BitstreamError, match=rf"^c\.bin: bitstream goes with the weights\.bin of model hash "
                                             rf"{images.weights.model_hash}, but w\.bin has {other.model_hash} "
                                             rf"\(at byte offset {at}\)$"):
        emulator_from_images(graph, images.config, other, _resolver(catalog), config_file="c.bin", weights_file="w.bin")
    # a config.bin tied to no weights.bin: the weights are checked against the model
    untied = dataclasses.replace(images.config, model_hash="")
    with pytest.raises(BitstreamError, match=r"^w\.bin: weights image is for the model with weights hash "
                                             rf"{other.model_hash}, not for .*digits.*\(at byte offset 16\)$"):
        emulator_from_images(graph, untied, other, _resolver(catalog), weights_file="w.bin")
    # config.bin alone, for another model: its model hash says so
    from rtlgen.emulate.from_bitstream import check_bitstream

    with pytest.raises(BitstreamError, match=rf"^bitstream is for the model with weights hash "
                                             rf"{images.weights.model_hash}, not for .*kws_ref_model.*"
                                             rf"\(at byte offset {at}\)$"):
        check_bitstream(dscnn[0], images.config)
    # one weight changed is another model
    layer = images.weights.layers[2]
    w = layer.weights.copy()
    w[0, 0, 0, 0] ^= 4
    changed = wm.WeightsImage(4, images.weights.layers[:2] + (wm.LayerWeights(layer.index, layer.kind, w, layer.bias),)
                              + images.weights.layers[3:])
    with pytest.raises(BitstreamError, match=r"at byte offset 16\)$"):
        check_weights(graph, changed)


def test_cli_build_decode_inspect_emulate(lib, catalog, tmp_path, capsys) -> None:
    model = digits_model_path()
    images_npz = save_images_npz(tmp_path / "digits.npz", "test")
    assign = tmp_path / "a.json"
    assign.write_text(json.dumps(_approximate(load_tflite(model), np.random.default_rng(4))))
    out = tmp_path / "imgs"
    accel = Path(__file__).resolve().parents[2] / "flows" / "accel_digits.toml"
    base = ["bitstream", "build", "--model", str(model), "--lib", str(lib), "--out", str(out)]
    # the shipped digits accelerator has 2 slots per unit, too few for this assignment: one line, nothing written
    assert main(base + ["--accel", str(accel), "--assign", str(assign)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "accel_digits.toml" in err and not out.exists()
    toml = tmp_path / "accel.toml"
    toml.write_text(AccelConfig(units=2, lanes=4, multipliers=4, name="t", **SHAPE).to_toml())
    assert main(base + ["--accel", str(toml), "--assign", str(assign)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["accel.toml", "config.bin", "weights.bin"]
    printed = capsys.readouterr().out
    assert "config.bin" in printed
    # the device's cycles per inference, as rtlgen.accel.schedule counts them from the two images
    from rtlgen.accel.schedule import batch_cycles

    images = ((out / "config.bin").read_bytes(), (out / "weights.bin").read_bytes())
    one = batch_cycles(*images, load_config(toml))
    assert f"on the device: {one.total:,} cycles per inference" in printed
    # and a stream of 16 inputs through both units, in the slots the activation memory holds
    slots = min(16, load_config(toml).activation_bytes // bsm.decode(images[0]).activation_span)
    many = batch_cycles(*images, load_config(toml), batch=16, slots=slots)
    assert f"16 inputs in one START with {slots} activation slots: {many.total:,} cycles" in printed
    bs = bsm.read_bitstream(out / "config.bin")
    weights = wm.read_weights(out / "weights.bin")
    assert weights.lanes == 4 and bs.accel_hash == load_config(out / "accel.toml").resolved(catalog).config_hash()
    # decode still reads config.bin, and checks it against the written configuration
    assert main(["bitstream", "decode", str(out / "config.bin"), "--accel", str(out / "accel.toml"), "--lib", str(lib),
                 "--out", str(tmp_path / "c.json")]) == 0
    assert json.loads((tmp_path / "c.json").read_text())["accel_hash"] == bs.accel_hash
    assert main(["bitstream", "inspect", str(out / "weights.bin")]) == 0
    assert f"model hash {weights.model_hash}" in capsys.readouterr().out
    # emulation from the two images == emulation of the assignment
    assert main(["bitstream", "emulate", str(out / "config.bin"), "--weights", str(out / "weights.bin"),
                 "--model", str(model), "--images", str(images_npz), "--lib", str(lib), "--limit", "60",
                 "--out", str(tmp_path / "img.npz")]) == 0
    assert main(["emulate", "--model", str(model), "--images", str(images_npz), "--lib", str(lib), "--assign",
                 str(assign), "--limit", "60", "--out", str(tmp_path / "asg.npz")]) == 0
    with np.load(tmp_path / "img.npz") as a, np.load(tmp_path / "asg.npz") as b:
        assert np.array_equal(a["logits"], b["logits"])
    # without --assign: exact, on the given banks
    out2 = tmp_path / "exact"
    banks = toml.read_text() + '\n[[unit]]\nmultipliers = ["mul8u_exact", "mul8u_trunc6", "mul8u_noisy", ' \
        '"mul8u_exact"]\n\n[[unit]]\nmultipliers = ["mul8s_exact", "mul8s_trunc4", "mul8u_exact", "mul8u_exact"]\n'
    toml.write_text(banks)
    assert main(["bitstream", "build", "--model", str(model), "--accel", str(toml), "--lib", str(lib),
                 "--out", str(out2)]) == 0
    assert sorted(p.name for p in out2.iterdir()) == ["config.bin", "weights.bin"]
    assert (out2 / "weights.bin").read_bytes() == (out / "weights.bin").read_bytes()
    assert all(d.selects == (0,) and d.unit == 0 for d in bsm.read_bitstream(out2 / "config.bin").layers)


def test_cli_build_writes_both_or_neither(lib, tmp_path, capsys) -> None:
    toml = tmp_path / "accel.toml"
    toml.write_text(AccelConfig(units=1, lanes=4, multipliers=1, **SHAPE).to_toml())
    out = tmp_path / "imgs"
    (out / "weights.bin").mkdir(parents=True)        # the second file cannot be written
    assert main(["bitstream", "build", "--model", str(digits_model_path()), "--accel", str(toml), "--lib", str(lib),
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "weights.bin" in err
    assert sorted(p.name for p in out.iterdir()) == ["weights.bin"]     # no config.bin, no temporaries


def test_share_ranges_are_whole_groups_of_lanes() -> None:
    from rtlgen.accel.images import share_ranges

    assert share_ranges(64, 2, 16) == [(0, 32), (32, 64)]
    assert share_ranges(80, 3, 16) == [(0, 32), (32, 64), (64, 80)]     # 5 groups: 2, 2, 1
    assert share_ranges(10, 2, 4) == [(0, 8), (8, 10)]                  # a partial last group
    with pytest.raises(ValueError, match=r"^10 output channels are 3 group\(s\) of 4 lanes: they split in 1 to 3 "
                                         r"shares, not 4$"):
        share_ranges(10, 4, 4)


def test_split_layers_compute_the_assignment(digits, catalog) -> None:
    """Every layer of the digits model split over two units whose banks hold the same multipliers
    in other slots: each share's selects name its own unit's slots, and the two images still
    compute the assignment exactly (with weight tuning: each share carries its multipliers'
    remaps)."""
    from rtlgen.accel.images import split_layer

    graph, x = digits
    a = parse_assignment(_approximate(graph, np.random.default_rng(1), "uniform"))
    bank = ("mul8u_trunc6", "mul8u_noisy", "mul8u_exact", "mul8s_trunc4", "mul8s_exact")
    config = AccelConfig(units=2, lanes=4, multipliers=5, unit_multipliers=(bank, bank[::-1]), **SHAPE)
    images = build_images(graph, config, catalog, a)
    whole = images.config
    for key, units in (("0", (1, 0)), ("1", (0, 1)), ("2", (1, 0)), ("fc:0", (0, 1))):
        images = split_layer(images, key, units)
    layers = images.config.layers
    assert [(d.key, d.unit, d.co_first, d.co_end) for d in layers][:2] == [("0", 1, 0, 4), ("0", 0, 4, 8)]
    assert len(layers) == 2 * len(whole.layers) and all(d.is_share for d in layers)
    assert images.config.version == bsm.VERSION == 5
    # ADD, pools and PAD stay where they were in the network's order
    order = [d.key for d in images.config.descriptors()]
    assert [k for i, k in enumerate(order) if i == 0 or k != order[i - 1]] == [d.key for d in whole.descriptors()]
    # a share on unit 1 selects unit 1's slot of the same multiplier
    for d in layers:
        names = [m.name for m in images.config.units[d.unit]]
        src = whole.layer(d.key)
        want = [whole.units[src.unit][s].name for s in src.own_selects()] if src.granularity == "layer" else \
            [whole.units[src.unit][s].name for s in src.select_array()[d.co_first:d.co_end].ravel()]
        assert [names[s] for s in d.own_selects()] == want
    assert any(d.weight_remap for d in layers)
    _same_logits(graph, x, images, a, catalog)
    # the shares' selects really decide: one share's channels on another multiplier of the same
    # signedness, the logits change
    d = next(d for d in layers if d.key == "0" and d.unit == 0)
    names = [m.name for m in images.config.units[0]]
    cur = names[int(d.own_selects()[0])]
    alt = names.index(next(n for n in names if n != cur and n[:5] == cur[:5]))
    sel = d.select_array().copy()
    if d.granularity == "layer":
        sel = np.array(alt)
    else:
        sel[d.co_first:d.co_end] = alt
    plain = tuple(dataclasses.replace(e, weight_remap=()) if e.key == "0" else e for e in layers)   # no remaps here
    base = dataclasses.replace(images.config, layers=plain)
    changed = dataclasses.replace(base, layers=tuple(dataclasses.replace(e, selects=tuple(sel.ravel()))
                                                     if e.key == "0" and e.unit == 0 else e for e in plain))
    got = emulator_from_images(graph, changed, images.weights, _resolver(catalog)).run(x).logits
    assert (got != emulator_from_images(graph, base, images.weights, _resolver(catalog)).run(x).logits).any()


def test_split_layer_refusals_are_one_line(digits, catalog) -> None:
    from rtlgen.accel.images import split_layer

    graph, _ = digits
    a = parse_assignment({"layers": {"0": "mul8u_noisy"}})
    config = AccelConfig(units=2, lanes=4, multipliers=2, source="a.toml",
                         unit_multipliers=(("mul8u_noisy", "mul8u_exact"), ("mul8u_exact", "mul8u_trunc6")), **SHAPE)
    images = build_images(graph, config, catalog, a)
    with pytest.raises(ConfigError, match=r"^a\.toml: layer 0: unit 1 lacks mul8u_noisy, which output channels 4\.\.7 use$"):
        split_layer(images, "0", (0, 1))
    with pytest.raises(ConfigError, match=r"^a\.toml: layer 1 cannot be split over units \[0, 2\]: name distinct units "
                                          r"of the 2 the accelerator has$"):
        split_layer(images, "1", (0, 2))
    with pytest.raises(ConfigError, match=r"^a\.toml: cannot split layer 7: no descriptor for layer 7"):
        split_layer(images, "7", (0, 1))
    four = build_images(graph, dataclasses.replace(config, units=4, unit_multipliers=config.unit_multipliers * 2),
                        catalog, a)
    with pytest.raises(ConfigError, match=r"^a\.toml: layer fc:0: 10 output channels are 3 group\(s\) of 4 lanes: they "
                                          r"split in 1 to 3 shares, not 4$"):
        split_layer(four, "fc:0", (0, 1, 2, 3))
    twice = split_layer(images, "1", (1, 0))
    with pytest.raises(ConfigError, match=r"^a\.toml: cannot split layer 1: layer 1 is split in 2 shares"):
        split_layer(twice, "1", (0, 1))


def test_cli_build_splits_layers(lib, tmp_path, capsys) -> None:
    """``rtlgen bitstream build --split KEY=U,U``: the layer in shares over those units; a bad
    value is a usage error (exit 2), a split the accelerator cannot run one line (exit 1), and
    nothing is written."""
    model = digits_model_path()
    toml = tmp_path / "accel.toml"
    toml.write_text(AccelConfig(units=2, lanes=4, multipliers=1, name="t", unit_multipliers=(("mul8u_exact",),) * 2,
                                **SHAPE).to_toml())
    out = tmp_path / "imgs"
    base = ["bitstream", "build", "--model", str(model), "--accel", str(toml), "--lib", str(lib), "--out", str(out)]
    assert main(base + ["--split", "0=1,0", "--split", "fc:0=0,1"]) == 0
    assert "4 layers, 0 approximate" in capsys.readouterr().out
    bs = bsm.read_bitstream(out / "config.bin")
    assert bs.version == 5 and [(d.key, d.unit) for d in bs.shares(0) + bs.shares("fc:0")] == [
        ("0", 1), ("0", 0), ("fc:0", 0), ("fc:0", 1)]
    graph, (x, _) = load_tflite(model), load_digits_images("test")
    got = emulator_from_images(graph, bs, wm.read_weights(out / "weights.bin"), _resolver(Catalog.open(lib)))
    assert np.array_equal(got.run(x[:20]).logits, emulator_for(graph).run(x[:20]).logits)
    out2 = tmp_path / "bad"
    with pytest.raises(SystemExit) as exc:
        main(base[:-1] + [str(out2), "--split", "0=1"])
    assert exc.value.code == 2 and "'0=1' is not KEY=UNIT,UNIT[,...]" in capsys.readouterr().err
    assert main(base[:-1] + [str(out2), "--split", "0=0,3"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "layer 0 cannot be split over units [0, 3]" in err and not out2.exists()
