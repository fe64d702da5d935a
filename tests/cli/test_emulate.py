from __future__ import annotations

import json
import re

import numpy as np
import pytest

from rtlgen.library.catalog import Catalog
from rtlgen.cli import main
from rtlgen.zoo.digits import digits_model_path, load_digits_images

from emulate_helpers import truncated


@pytest.fixture()
def images(tmp_path):
    x, y = load_digits_images("test")
    p = tmp_path / "digits.npz"
    np.savez(p, x=x[:50], y=y[:50])
    return p


def test_exact_emulation_writes_logits_output_pred_and_prints_accuracy(tmp_path, images, capsys):
    out = tmp_path / "o" / "res.npz"
    assert main(["emulate", "--model", str(digits_model_path()), "--images", str(images),
                 "--limit", "20", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^top-1 accuracy: \d+\.\d\d%$", text, re.M), text
    r = np.load(out)
    assert r["logits"].dtype == np.int8 and r["logits"].shape == (20, 10)
    assert r["output"].shape[0] == 20 and r["pred"].shape == (20,)
    assert np.array_equal(r["pred"], r["logits"].argmax(axis=1))


def test_assignment_through_a_library(tmp_path, images, capsys):
    lib = tmp_path / "lib"
    cat = Catalog(lib)
    cat.add(truncated(False, 7), False, "mul8u_T7")
    cat.save()
    a = tmp_path / "a.json"
    a.write_text(json.dumps({"default": "mul8u_T7", "weight_tuning": "histogram"}))
    out_e, out_a = tmp_path / "e.npz", tmp_path / "a.npz"
    assert main(["emulate", "--model", str(digits_model_path()), "--images", str(images),
                 "--out", str(out_e)]) == 0
    assert main(["emulate", "--model", str(digits_model_path()), "--images", str(images),
                 "--lib", str(lib), "--assign", str(a), "--out", str(out_a)]) == 0
    assert not np.array_equal(np.load(out_e)["logits"], np.load(out_a)["logits"])


def test_bad_assignment_fails_cleanly_without_output(tmp_path, images, capsys):
    a = tmp_path / "a.json"
    a.write_text(json.dumps({"layers": {"0": {"filters": ["exact"]}}}))
    out = tmp_path / "res.npz"
    assert main(["emulate", "--model", str(digits_model_path()), "--images", str(images),
                 "--assign", str(a), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert re.search(r"^rtlgen emulate: error: .*a\.json: layers\['0'\]: 'filters' must list \d+ "
                     r"multipliers", err), err
    assert not out.exists()


def test_images_without_x(tmp_path, capsys):
    p = tmp_path / "bad.npz"
    np.savez(p, images=np.zeros((2, 8, 8, 1), np.uint8))
    assert main(["emulate", "--model", str(digits_model_path()), "--images", str(p),
                 "--out", str(tmp_path / "o.npz")]) == 1
    assert "bad.npz: image file lacks array(s) ['x']; expected 'x' (images) and 'y' (labels), found ['images']" in capsys.readouterr().err
