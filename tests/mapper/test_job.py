"""rtlgen.mapper.job: a real (tiny) search restricted to one multiplier family by a pattern."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from rtlgen import resources
from rtlgen.cli import main
from rtlgen.library.importer import import_folder
from rtlgen.mapper.job import MapJob, run_map_job
from rtlgen.mapper.search import SearchSettings
from rtlgen.zoo.digits import digits_model_path, save_images_npz

ACCEL = Path(__file__).resolve().parents[1] / "data" / "flow" / "accel_test.toml"
#: three ROUP points and two circuits of other families: the pattern must keep only the former.
#: mul8u_array and mul8u_roup_p0_r0 are two circuits of one function (the exact product): one
#: catalog entry, the array its default netlist
NETLISTS = ("mul8u_roup_p3_r0", "mul8u_roup_p2_r8", "mul8u_drum_k3", "mul8u_truncated_k8_compensate0", "mul8u_array",
            "mul8u_roup_p0_r0")


@pytest.fixture(scope="module")
def small_lib(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("roup-lib")
    src = tmp / "src"
    src.mkdir()
    for n in NETLISTS:
        shutil.copy(resources.GENERATED_NETLISTS / f"{n}.v", src / f"{n}.v")
    import_folder(src, tmp / "lib")
    return tmp / "lib", save_images_npz(tmp / "digits.npz", "test")


def test_roup_pattern_gives_the_search_only_roup(small_lib, tmp_path, monkeypatch) -> None:
    """The search space is built from the candidates run_map_job hands to map_network: with the
    pattern, the ROUP points only, the exact one among them (the search cannot place others)."""
    from rtlgen.mapper import job as job_module

    seen = {}

    def capture(layers, candidates, **kw):
        seen["names"] = [c.name for c in candidates]
        seen["exact"] = [c.name for c in candidates if c.is_exact]
        seen["cycles"] = kw["cycles"]
        return "report"

    monkeypatch.setattr(job_module, "map_network", capture)
    lib, images = small_lib
    rep = run_map_job(MapJob(model=digits_model_path(), images=images, accel=ACCEL, lib=lib, out=tmp_path / "map",
                             search="0:20", test="20:40", settings=SearchSettings(generations=1, pop_size=4, seed=4),
                             encoding="signmag", candidates=("mul8u_roup_*",), workers=1, progress=False))
    assert rep == "report"
    # the exact reference is ROUP(0, 0), the Booth circuit the pattern names, not the entry's
    # default array netlist: its energy and hardware are the Booth circuit's
    assert sorted(seen["names"]) == ["mul8u_roup_p0_r0", "mul8u_roup_p2_r8", "mul8u_roup_p3_r0"]
    assert seen["exact"] == ["mul8u_roup_p0_r0"]
    # the cycle model's inputs: the accelerator's lanes, the model's op descriptors
    from rtlgen.bitstream.opdesc import op_descriptors
    from rtlgen.nn.tflite import load_tflite

    assert seen["cycles"].lanes == 8
    assert seen["cycles"].ops == op_descriptors(load_tflite(digits_model_path())) and seen["cycles"].ops


def test_pattern_matching_nothing_is_one_line(small_lib, tmp_path, capsys) -> None:
    lib, images = small_lib
    rc = main(["map", "--model", str(digits_model_path()), "--images", str(images), "--accel", str(ACCEL),
               "--lib", str(lib), "--out", str(tmp_path / "map"), "--search", "0:40", "--test", "40:80",
               "--encoding", "signmag", "--candidates", "mul8u_roup_p9_*"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1, err
    assert re.match(r"^rtlgen map: .*candidates pattern 'mul8u_roup_p9_\*' matches no multiplier of the library "
                    r"\(\d+ names: ", err[0]), err[0]
