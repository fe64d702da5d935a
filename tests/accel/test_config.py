from __future__ import annotations

import re
from pathlib import Path

import pytest

from rtlgen.accel.config import AccelConfig, load_config, parse_config
from rtlgen.errors import ConfigError
from rtlgen.paths import REPO_ROOT

DEFAULT = REPO_ROOT / "flows" / "accel_default.toml"


def test_default_config_loads():
    cfg = load_config(DEFAULT)
    assert (cfg.units, cfg.lanes, cfg.multipliers) == (2, 16, 4)
    assert cfg.select_bits == 2
    assert cfg.weight_word_bits == 16 * 10
    assert cfg.unit_multipliers[0][1] == "mul8u_DG8"
    assert re.fullmatch(r"[0-9a-f]{16}", cfg.config_hash())


def test_round_trip_and_hash(tmp_path: Path):
    cfg = load_config(DEFAULT)
    out = tmp_path / "a.toml"
    out.write_text(cfg.to_toml())
    again = load_config(out)
    assert again == cfg
    assert again.config_hash() == cfg.config_hash()
    other = cfg.with_multipliers([["mul8u_1JJQ"] * 4, ["mul8u_1JJQ"] * 4])
    assert other.config_hash() != cfg.config_hash()


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.toml"
    p.write_text(text)
    return p


GOOD = """version = 1
[accelerator]
units = 1
lanes = 2
multipliers = 2
[memory]
activation_bytes = 64
weight_words = 16
channels = 4
"""


def test_multipliers_optional(tmp_path: Path):
    cfg = load_config(_write(tmp_path, GOOD))
    assert cfg.unit_multipliers is None
    with pytest.raises(ConfigError, match=r"bad\.toml: .*no \[\[unit\]\] multipliers"):
        cfg.require_multipliers()


@pytest.mark.parametrize("edit, message", [
    (("lanes = 2", "lanes = 0"), r"^.*bad\.toml: 'accelerator\.lanes' must lie in 1\.\.64, not 0$"),
    (("lanes = 2", "lanes = \"x\""), r"^.*bad\.toml: 'accelerator\.lanes' must be an integer"),
    (("channels = 4\n", ""), r"^.*bad\.toml: missing key 'memory\.channels'$"),
    (("version = 1", "version = 2"), r"^.*bad\.toml: 'version' must be 1, not 2$"),
    (("units = 1", "units = 1\nfoo = 3"), r"^.*bad\.toml: unknown key\(s\) \['foo'\] in \[accelerator\]"),
])
def test_bad_values_name_file_and_key(tmp_path: Path, edit, message):
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, GOOD.replace(*edit)))


def test_bank_size_checked(tmp_path: Path):
    text = GOOD + '[[unit]]\nmultipliers = ["mul8u_1JJQ"]\n'
    with pytest.raises(ConfigError, match=r"unit\[0\]\.multipliers lists 1 multipliers, but "
                                          r"accelerator\.multipliers = 2"):
        load_config(_write(tmp_path, text))


def test_bad_toml(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_config(_write(tmp_path, "version = = 1"))


def test_resolved_uses_catalog_hashes():
    class Entry:
        def __init__(self, h): self.hash = h

    class Cat:
        def get(self, ident):
            if ident == "nope":
                raise KeyError("unknown multiplier 'nope'")
            return Entry("h_" + ident)

    cfg = AccelConfig(units=1, lanes=2, multipliers=2, activation_bytes=64, weight_words=16,
                      channels=4, unit_multipliers=(("a", "b"),))
    assert cfg.resolved(Cat()).unit_multipliers == (("h_a", "h_b"),)
    with pytest.raises(ConfigError, match=r"unit\[0\]\.multipliers\[1\] = 'nope'"):
        cfg.with_multipliers([["a", "nope"]]).resolved(Cat())


def test_weights_store_is_optional_and_hashed_only_when_set(tmp_path: Path):
    from dataclasses import replace

    from rtlgen.accel.config import DEFAULT_WEIGHTS_STORE

    cfg = load_config(_write(tmp_path, GOOD))
    assert cfg.weights_store_bytes == DEFAULT_WEIGHTS_STORE
    # left out at its default: hashes of configurations older than the field stay
    assert "weights_store_bytes" not in cfg.canonical() and "weights_store" not in cfg.to_toml()
    small = load_config(_write(tmp_path, GOOD + "weights_store_bytes = 4096\n"))
    assert small.weights_store_bytes == 4096 and small.config_hash() != cfg.config_hash()
    assert small == replace(cfg, weights_store_bytes=4096, source=small.source)
    (tmp_path / "again.toml").write_text(small.to_toml())
    assert load_config(tmp_path / "again.toml") == small
    with pytest.raises(ConfigError, match=r"^.*bad\.toml: 'memory\.weights_store_bytes' must lie in 16\.\.16777216, not 8"):
        load_config(_write(tmp_path, GOOD + "weights_store_bytes = 8\n"))
