"""ResNet-8 conv layers through the generated accelerator's RTL (Verilator, cocotb), every
output byte compared with the emulation.

One Verilator build of ``tests/data/accel_sim.toml`` (2 units x 4 lanes x 4 multipliers; unit 0
unsigned, unit 1 mostly signed) runs every case in one simulation. Cases cover each operand
encoding at each selection granularity with mixed exact/approximate multipliers, two whole
layers, and spatial crops of the others; DS-CNN's depthwise layers run in the engine's depthwise
mode (one of them whole, three encodings, each granularity).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from rtlgen.accel.config import load_config
from rtlgen.accel.generate import generate_accelerator
from rtlgen.accel.rtlsim import VerilatorAccel
from rtlgen.paths import REPO_ROOT

from accel_cases import first_mismatch, make_case
from accel_library import build_library

pytestmark = [pytest.mark.sim, pytest.mark.slow, pytest.mark.data]

CONFIG = REPO_ROOT / "tests" / "data" / "accel_sim.toml"

# name: (layer, unit, bank slots, encoding, granularity, crop (y0, x0, size) or None[, model])
CASES = {
    "L0-signmag-layer-exact-full": (0, 0, [0], "signmag", "layer", None),
    "L5-offset-kernel-full": (5, 0, [0, 1, 2, 3], "offset", "kernel", None),
    "L1-signmag-filter": (1, 0, [0, 1, 2, 3], "signmag", "filter", (10, 4, 6)),
    "L6-signmag-kernel": (6, 0, [1, 2, 3], "signmag", "kernel", (3, 5, 7)),
    "L2-offset-layer": (2, 0, [1], "offset", "layer", (20, 20, 5)),
    "L8-offset-filter": (8, 0, [0, 2, 3], "offset", "filter", (4, 4, 6)),
    "L3-raw-kernel": (3, 1, [0, 1, 2], "raw", "kernel", (3, 5, 9)),
    "L4-raw-filter": (4, 1, [0, 1, 2], "raw", "filter", (6, 2, 5)),
    "L7-raw-layer": (7, 1, [2], "raw", "layer", (2, 2, 4)),
    # the classifier: a 1x1 conv of a 1x1 image, requantized with LiteRT's single rounding
    "FC-signmag-kernel-full": ("fc", 0, [0, 1, 2, 3], "signmag", "kernel", None),
    # DS-CNN's depthwise layers (25x5x64, 3x3): the engine's depthwise mode, one channel at a time
    "DW1-signmag-filter-full": (1, 0, [0, 1, 2, 3], "signmag", "filter", None, "dscnn"),
    "DW3-offset-kernel": (3, 0, [1, 2, 3], "offset", "kernel", (10, 0, 5), "dscnn"),
    "DW5-raw-layer": (5, 1, [1], "raw", "layer", (3, 0, 4), "dscnn"),
    "DW7-raw-kernel": (7, 1, [0, 1, 2], "raw", "kernel", (20, 0, 5), "dscnn"),
}


@pytest.fixture(scope="module")
def rtl_results(tmp_path_factory, shared_data: Path, evoapprox_dir: Path):
    tmp = tmp_path_factory.mktemp("accel_rtl")
    catalog = build_library(evoapprox_dir, tmp / "lib")
    config = load_config(CONFIG)
    design = generate_accelerator(config, catalog, tmp / "rtl")
    cases = [make_case(name, shared_data, config, catalog, layer=l, unit=u, bank_slots=s,
                       encoding=e, granularity=g, crop=c, seed=i, model=model[0] if model else "resnet8")
             for i, (name, (l, u, s, e, g, c, *model)) in enumerate(CASES.items())]
    sim = VerilatorAccel(design, tmp / "sim", config)
    results = sim.run([(c.name, c.job) for c in cases])
    return config, {c.name: (c, r) for c, r in zip(cases, results)}


@pytest.mark.parametrize("name", list(CASES))
def test_layer_matches_emulation(rtl_results, name):
    _, results = rtl_results
    case, result = results[name]
    message = first_mismatch(case, result.output)
    assert message is None, message


def test_exact_layer_matches_litert(rtl_results, shared_data: Path):
    """Independent oracle: with the exact multiplier the RTL reproduces LiteRT's tensor."""
    from resnet8_layers import litert_conv_outputs

    _, results = rtl_results
    case, result = results["L0-signmag-layer-exact-full"]
    litert = litert_conv_outputs(shared_data)[0]
    assert (result.output == litert).all()


def test_cycle_count_as_documented(rtl_results):
    config, results = rtl_results
    for name, (case, result) in results.items():
        d = case.job.descriptor
        # a depthwise layer runs one channel at a time
        products = (d.out_c if d.depthwise else d.groups(config.lanes)) * d.out_h * d.out_w * d.products
        assert result.issued == products, name
        estimate = case.job.cycle_estimate(config.lanes)
        assert estimate <= result.cycles <= estimate + config.lanes + 12, (name, result.cycles, estimate)
