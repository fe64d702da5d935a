"""Flow files: the shipped ones parse; bad ones fail naming file and key; the step cache."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from rtlgen.errors import ConfigError
from rtlgen.flow import load_flow
from rtlgen.flow.cache import StepCache, content_hash, step_key

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_digits_flow_parses(tmp_path, monkeypatch) -> None:
    from rtlgen import resources

    monkeypatch.chdir(tmp_path)
    cfg = load_flow(ROOT / "flows" / "digits_default.toml")
    assert cfg.model_zoo == "digits" and cfg.model_path is None
    assert cfg.accel == resources.FLOWS_DIR / "accel_digits.toml"
    # no 'out' in the shipped flow: the run goes to the working folder, never into the package
    assert cfg.out == tmp_path / "build" / "flows" / "digits_default"
    assert cfg.hil_images >= 1 and cfg.max_loss
    assert cfg.weight_tuning == "none"
    assert cfg.objectives == ("quality", "energy", "throughput")


def test_shipped_resnet8_flow_parses(shared_data: Path) -> None:
    cfg = load_flow(ROOT / "flows" / "resnet8_cifar10.toml")
    assert cfg.model_path is not None and cfg.model_path.resolve() == \
        (shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite").resolve()
    assert cfg.images_path is not None and cfg.images_path.is_file()
    assert cfg.netlist_dirs and all(d.is_dir() for d in cfg.netlist_dirs)
    assert cfg.objectives == ("quality", "energy", "throughput")


BASE = """
[flow]
version = 1
name = "t"
[model]
zoo = "digits"
[accelerator]
config = "{accel}"
"""


def _write(tmp_path: Path, extra: str, base: str = BASE) -> Path:
    p = tmp_path / "f.toml"
    p.write_text(base.format(accel=ROOT / "flows" / "accel_digits.toml") + extra)
    return p


@pytest.mark.parametrize("extra, key", [
    ("[search]\ngenerations = 0\n", "search.generations"),
    ("[search]\nencoding = 'sideways'\n", "search.encoding"),
    ("[search]\nweight_tuning = 'retrain'\n", "search.weight_tuning"),
    ("[search]\npopulaton = 3\n", "search.populaton"),
    ("[search]\nprefix_cache_mb = -1\n", "search.prefix_cache_mb"),
    ("[search]\nobjectives = 'throughput'\n", "search.objectives"),
    ("[search]\nsplit_layers = 'yes'\n", "search.split_layers"),
    ("[select]\nmax_loss = [2.0]\n", "select.max_loss[0]"),
    ("[library]\nnetlists = ['no/such/folder']\n", "library.netlists[0]"),
    ("[hil]\nimages = 'two'\n", "hil.images"),
    ("[[generate]]\nfamily = 'roup'\nparams = { p = 'x' }\n", "generate[0].params.p"),
])
def test_bad_values_name_file_and_key(tmp_path: Path, extra: str, key: str) -> None:
    p = _write(tmp_path, extra)
    with pytest.raises(ConfigError) as exc:
        load_flow(p)
    assert str(p.resolve()) in str(exc.value) and key in str(exc.value)


def test_version_and_model_and_toml_errors(tmp_path: Path) -> None:
    p = _write(tmp_path, "", BASE.replace("version = 1", "version = 7"))
    with pytest.raises(ConfigError, match="flow.version"):
        load_flow(p)
    p = _write(tmp_path, "", BASE.replace('zoo = "digits"', 'path = "m.tflite"'))
    with pytest.raises(ConfigError, match="model.path"):
        load_flow(p)
    p.write_text("[flow\nversion = 1\n")
    with pytest.raises(ConfigError, match=r"f\.toml:1"):
        load_flow(p)


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.toml").write_text((ROOT / "flows" / "accel_digits.toml").read_text())
    p = tmp_path / "sub" / "f.toml"
    p.write_text(BASE.format(accel="a.toml").replace('name = "t"', 'name = "t"\nout = "../run"'))
    cfg = load_flow(p)
    assert cfg.accel == (tmp_path / "sub" / "a.toml").resolve() or cfg.accel.resolve() == (tmp_path / "sub" / "a.toml")
    assert cfg.out.resolve() == (tmp_path / "run").resolve()


def test_step_cache_follows_content(tmp_path: Path) -> None:
    f = tmp_path / "in.txt"
    f.write_text("one")
    k1 = step_key("s", {"a": 1}, [f])
    assert step_key("s", {"a": 1}, [f]) == k1
    assert step_key("s", {"a": 2}, [f]) != k1
    assert step_key("s", {"a": 1}, [f], ["up"]) != k1
    f.touch()                       # same content: same key
    assert step_key("s", {"a": 1}, [f]) == k1
    f.write_text("two")
    assert step_key("s", {"a": 1}, [f]) != k1
    out = tmp_path / "out.bin"
    out.write_bytes(b"x")
    cache = StepCache(tmp_path / "run")
    cache.store("s", "K", {"v": 3}, [out])
    assert cache.lookup("s", "K") == {"v": 3}
    assert cache.lookup("s", "other") is None
    out.write_bytes(b"y")           # an output changed behind the cache's back: rerun
    assert cache.lookup("s", "K") is None
    d = tmp_path / "d"
    (d / "x").mkdir(parents=True)
    (d / "x" / "f").write_text("1")
    h = content_hash(d)
    (d / "x" / "f").write_text("2")
    assert content_hash(d) != h


def test_objectives_are_read(tmp_path: Path) -> None:
    assert load_flow(_write(tmp_path, "")).objectives == ("quality", "energy")
    three = ("quality", "energy", "throughput")
    # the quality by its generic name or by the search's quality objective's, in any order
    assert load_flow(_write(tmp_path, "[search]\nobjectives = ['accuracy', 'energy', 'throughput']\n")).objectives == three
    assert load_flow(_write(tmp_path, "[search]\nobjectives = ['throughput', 'quality', 'energy']\n")).objectives == three
    assert load_flow(_write(tmp_path, "[search]\nquality = 'agreement'\nobjectives = ['agreement', 'energy']\n"
                            )).objectives == ("quality", "energy")


@pytest.mark.parametrize("extra, message", [
    ("objectives = ['accuracy', 'energy', 'speed']",
     r"search\.objectives\[2\]: 'speed' is not one of quality \(or 'accuracy', the search\.quality\), energy, "
     r"throughput"),
    ("quality = 'agreement'\nobjectives = ['accuracy', 'energy']",
     r"search\.objectives\[0\]: 'accuracy' is not one of quality \(or 'agreement', the search\.quality\), energy, "
     r"throughput"),
    ("objectives = ['quality', 'throughput']",
     r"search\.objectives: must include quality and energy; energy missing \(got \['quality', 'throughput'\]\)"),
    ("objectives = ['quality', 'energy', 'accuracy']", r"search\.objectives\[2\]: 'accuracy' is listed twice"),
])
def test_bad_objectives_are_one_clear_line(tmp_path: Path, extra: str, message: str) -> None:
    p = _write(tmp_path, f"[search]\n{extra}\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(p.resolve()))}: {message}$") as exc:
        load_flow(p)
    assert "\n" not in str(exc.value)


def test_energy_model_path_is_read_and_checked(tmp_path: Path) -> None:
    assert load_flow(_write(tmp_path, "")).energy_model is None
    (tmp_path / "e.json").write_text("{}")
    base = BASE.replace('config = "{accel}"', 'config = "{accel}"\nenergy_model = "e.json"')
    assert load_flow(_write(tmp_path, "", base)).energy_model == tmp_path / "e.json"
    with pytest.raises(ConfigError, match=r"accelerator\.energy_model.*file .*missing\.json not found"):
        load_flow(_write(tmp_path, "", base.replace("e.json", "missing.json")))


def test_split_layers_is_read(tmp_path: Path) -> None:
    assert load_flow(_write(tmp_path, "")).split_layers is False
    assert load_flow(_write(tmp_path, "[search]\nsplit_layers = true\n")).split_layers is True


def test_prefix_cache_budget_is_read(tmp_path: Path) -> None:
    assert load_flow(_write(tmp_path, "")).prefix_cache_mb == 512
    assert load_flow(_write(tmp_path, "[search]\nprefix_cache_mb = 0\n")).prefix_cache_mb == 0


@pytest.mark.parametrize("name, granularity, tuning, candidates", [
    ("maxdnn_resnet8", "filter", "none", ("mul8u_roup_*",)),
    ("alwann_resnet8", "layer", "uniform", ()),
])
def test_paper_flows_parse(shared_data: Path, name, granularity, tuning, candidates) -> None:
    cfg = load_flow(ROOT / "flows" / f"{name}.toml")
    assert (cfg.granularity, cfg.weight_tuning, cfg.candidates) == (granularity, tuning, candidates)
    assert cfg.accel == ROOT / "flows" / "accel_tiles4.toml"
    assert cfg.hil_images == 0 and cfg.verify == "none"


@pytest.mark.parametrize("tiles", [1, 2, 3, 4])
def test_tile_accelerators_load(tiles: int) -> None:
    from rtlgen.accel.config import load_config

    cfg = load_config(ROOT / "flows" / f"accel_tiles{tiles}.toml")
    assert (cfg.units, cfg.multipliers, cfg.unit_multipliers) == (1, tiles, None)


def test_candidate_patterns_in_the_flow() -> None:
    from rtlgen.errors import CatalogError
    from rtlgen.flow.steps import candidate_names

    entries = [{"name": "mul8u_array", "names": ["mul8u_array", "mul8u_roup_p0_r0"], "signed": False},
               {"name": "mul8u_roup_p2_r8", "names": ["mul8u_roup_p2_r8"], "signed": False},
               {"name": "mul8u_drum_k4", "names": ["mul8u_drum_k4"], "signed": False},
               {"name": "mul8s_roup_p1_r0", "signed": True}]      # a run from before "names": its name
    assert candidate_names(entries, "signmag", ["mul8u_roup_*"]) == ["mul8u_roup_p0_r0", "mul8u_roup_p2_r8"]
    assert candidate_names(entries, "raw", ["mul8s_roup_*"]) == ["mul8s_roup_p1_r0"]
    with pytest.raises(CatalogError, match=r"^search\.candidates pattern 'mul8u_bam_\*' matches no multiplier"):
        candidate_names(entries, "signmag", ["mul8u_bam_*"])
