from __future__ import annotations

import itertools

import numpy as np
import pytest

from rtlgen import liberty as lead_liberty
from rtlgen.celllib import compile_function, read_liberty
from rtlgen.errors import LibertyError
from rtlgen.paths import liberty_path


def _eval_tree(expr, env):
    op = expr[0]
    if op == "const":
        return bool(expr[1])
    if op == "pin":
        return env[expr[1]]
    if op == "not":
        return not _eval_tree(expr[1], env)
    vals = [_eval_tree(x, env) for x in expr[1:]]
    if op == "and":
        return all(vals)
    if op == "or":
        return any(vals)
    assert op == "xor"
    return sum(vals) % 2 == 1


def test_cell_functions_agree_with_the_sympy_reader():
    """Our liberty-expression compiler against rtlgen.liberty (liberty-parser + sympy)."""
    ours = read_liberty(liberty_path())
    theirs = lead_liberty.read_liberty(liberty_path())
    checked = 0
    for name, cell in theirs.cells.items():
        mine = ours.cells[name]
        for pin, tree in cell.outputs.items():
            names, fn = compile_function(mine.pins[pin].function)
            ins = list(mine.inputs)
            for combo in itertools.product([False, True], repeat=len(ins)):
                env = dict(zip(ins, combo))
                got = bool(fn(**{k: np.array([env[k]]) for k in names})[0]) if names else None
                assert got == _eval_tree(tree, env), f"{name}.{pin} at {env}"
            checked += 1
    assert checked >= 20


def test_function_syntax():
    names, fn = compile_function("(A B)+!C' ^ D")
    assert names == ("A", "B", "C", "D")
    a, b, c, d = (np.array(x, dtype=bool) for x in zip(*itertools.product([0, 1], repeat=4)))
    # precedence: ' and ! bind tightest, then ^, then AND (space), then OR
    assert np.array_equal(fn(A=a, B=b, C=c, D=d), (a & b) | (c ^ d))
    with pytest.raises(ValueError, match=r"missing '\)'"):
        compile_function("(A & B")


def test_library_units_and_cells():
    lib = read_liberty(liberty_path())
    assert lib.voltage == 1.8 and lib.time_unit_ns == 1.0 and lib.cap_unit_pf == 1.0
    assert lib.leakage_unit_mw == pytest.approx(1e-6)
    hax = lib.cell("HAX1")
    assert hax.area == 80 and hax.inputs == ["A", "B"] and hax.outputs == ["YC", "YS"]
    assert lib.cell("DFFPOSX1").sequential and not hax.sequential
    with pytest.raises(LibertyError, match=r"cell 'NOPE' is not in the library osu018_stdcells; it has AND2X1"):
        lib.cell("NOPE")


def test_power_table_interpolates_like_the_liberty():
    lib = read_liberty(liberty_path())
    (arc_a,) = [p for p in lib.cell("HAX1").pins["YC"].internal_power if p.related_pin == "A"]
    t = arc_a.rise
    # liberty values of HAX1 YC rise_power related to A (index_1 load, index_2 transition)
    assert t(0.005, 0.06) == pytest.approx(0.037026)
    assert t(0.15, 1.2) == pytest.approx(0.069391)
    assert t(0.0125, 0.42) == pytest.approx(0.042862)
    mid = t((0.005 + 0.0125) / 2, (0.06 + 0.18) / 2)
    assert mid == pytest.approx((0.037026 + 0.033786 + 0.037638 + 0.034849) / 4)
    # linear extrapolation beyond the last load point
    assert t(0.225, 0.06) == pytest.approx(0.0393 + (0.0393 - 0.039016))


def test_malformed_liberty_is_located(tmp_path):
    bad = tmp_path / "bad.lib"
    bad.write_text("library (x) {\n  nom_voltage : 1.0;\n  cell (INV) {\n    area : 1;\n")
    with pytest.raises(LibertyError, match=r"bad\.lib:\d+: expected '\}', found 'end of file'$"):
        read_liberty(bad)
