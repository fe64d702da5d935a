from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest

from rtlgen.errors import LibertyError
from rtlgen.netlist.liberty import compile_function, default_library, parse_function, read_liberty
from rtlgen.paths import liberty_path


def _eval_tree(expr, env):
    """An independent interpreter of operator trees, to check the numpy compiler against."""
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


# Known OSU018 functions, written as Python over the input pins.
_KNOWN = {
    ("AOI21X1", "Y"): lambda A, B, C: not ((A and B) or C),
    ("FAX1", "YC"): lambda A, B, C: (A + B + C) >= 2,
    ("FAX1", "YS"): lambda A, B, C: (A + B + C) % 2 == 1,
    ("HAX1", "YC"): lambda A, B: A and B,
    ("HAX1", "YS"): lambda A, B: A != B,
    ("MUX2X1", "Y"): lambda A, B, S: not (A if S else B),
    ("OAI22X1", "Y"): lambda A, B, C, D: not ((A or B) and (C or D)),
    ("XNOR2X1", "Y"): lambda A, B: A == B,
}


def test_cell_functions_compile_to_their_truth_tables():
    lib = read_liberty(liberty_path())
    checked = 0
    for name, cell in lib.cells.items():
        if not cell.combinational:
            continue
        ins = sorted(cell.inputs)
        combos = list(itertools.product([False, True], repeat=len(ins)))
        columns = {pin: np.array([c[i] for c in combos], dtype=bool) for i, pin in enumerate(ins)}
        for pin, tree in cell.functions.items():
            names, fn = compile_function(tree)
            assert set(names) <= set(ins)
            got = fn(**{k: columns[k] for k in names}) if names else fn(__n=columns[ins[0]])
            for row, combo in enumerate(combos):
                env = dict(zip(ins, combo))
                assert bool(got[row]) == _eval_tree(tree, env), f"{name}.{pin} at {env}"
                if (name, pin) in _KNOWN:
                    assert bool(got[row]) == bool(_KNOWN[name, pin](**env)), f"{name}.{pin} at {env}"
            checked += 1
    assert checked >= 25


def test_sequential_and_tristate_cells_are_not_combinational():
    lib = read_liberty(liberty_path())
    assert lib.cell("DFFPOSX1").sequential and not lib.cell("DFFPOSX1").combinational
    assert lib.cell("LATCH").sequential and not lib.cell("LATCH").functions
    tbuf = lib.cell("TBUFX1")
    assert tbuf.tristate and not tbuf.sequential and not tbuf.combinational
    assert lib.cell("INVX1").combinational and lib.cell("INVX1").functions == {"Y": ("not", ("pin", "A"))}
    assert "TBUFX1" in lib and "NOPE" not in lib


def test_function_syntax():
    names, fn = compile_function(parse_function("(A B)+!C' ^ D"))
    assert names == ("A", "B", "C", "D")
    a, b, c, d = (np.array(x, dtype=bool) for x in zip(*itertools.product([0, 1], repeat=4)))
    # precedence: ' and ! bind tightest, then ^, then AND (space), then OR
    assert np.array_equal(fn(A=a, B=b, C=c, D=d), (a & b) | (c ^ d))
    assert parse_function("1") == ("const", 1)
    assert np.array_equal(compile_function(parse_function("0"))[1](x=a), np.zeros(16, dtype=bool))
    with pytest.raises(ValueError, match=r"^cannot parse liberty function '\(A & B'"):
        parse_function("(A & B")


def test_library_units_and_cells():
    lib = read_liberty(liberty_path())
    assert lib.voltage == 1.8 and lib.time_unit_ns == 1.0 and lib.cap_unit_pf == 1.0
    assert lib.leakage_unit_mw == pytest.approx(1e-6)
    hax = lib.cell("HAX1")
    assert hax.area == 80 and hax.inputs == ["A", "B"] and hax.outputs == ["YC", "YS"]
    assert hax.leakage == pytest.approx(0.161137) and hax.pins["A"].capacitance > 0
    assert lib.cell("DFFPOSX1").sequential and not hax.sequential
    with pytest.raises(LibertyError, match=r"cell 'NOPE' is not in the library osu018_stdcells; it has AND2X1"):
        lib.cell("NOPE")


def test_library_identity_and_cache():
    lib = read_liberty(liberty_path())
    assert lib.sha256 == hashlib.sha256(liberty_path().read_bytes()).hexdigest()
    assert lib.hash == lib.sha256[:16]
    assert read_liberty(str(liberty_path())) is lib and default_library() is lib


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
    bad.write_text("library (x) {\n  nom_voltage : 1.0;\n  cell (INV) {\n    area  1;\n  }\n}\n")
    with pytest.raises(LibertyError, match=r"bad\.lib:4: cannot parse liberty file: unexpected '1' "):
        read_liberty(bad)
    bad.write_text("library (x) {\n  nom_voltage : 1.0;\n  cell (INV) {\n    area : 1;\n")
    with pytest.raises(LibertyError, match=r"bad\.lib:\d+: cannot parse liberty file: unexpected end of file"):
        read_liberty(bad)
    with pytest.raises(LibertyError, match=r"nosuch\.lib: liberty file not found$"):
        read_liberty(tmp_path / "nosuch.lib")


def _one_cell_lib(function: str) -> str:
    return ("library (x) {\n  nom_voltage : 1.0;\n  cell (G) {\n    area : 2;\n"
            '    pin (A) { direction : input; capacitance : 0.1; }\n'
            f'    pin (Y) {{ direction : output; function : "{function}"; }}\n  }}\n}}\n')


def test_bad_cell_functions_name_the_file_and_cell(tmp_path):
    lib_file = tmp_path / "one.lib"
    lib_file.write_text(_one_cell_lib("!A"))
    lib = read_liberty(lib_file)
    assert lib.cell("G").functions == {"Y": ("not", ("pin", "A"))} and lib.cell("G").area == 2
    bad = tmp_path / "badfunc.lib"
    bad.write_text(_one_cell_lib("(A &"))
    with pytest.raises(LibertyError, match=r"badfunc\.lib: cell G pin Y: cannot parse liberty function '\(A &'"):
        read_liberty(bad)
    other = tmp_path / "otherpin.lib"
    other.write_text(_one_cell_lib("A & Q"))
    with pytest.raises(LibertyError, match=r"otherpin\.lib: cell G pin Y: function refers to \['Q'\], "
                                           r"which are not input pins \(\['A'\]\)"):
        read_liberty(other)


_ASAP7_LIKE = """library (units) {
  capacitive_load_unit (1,ff);
  leakage_power_unit : "1pW";
  time_unit : 1ps ;
  voltage_unit : "1V";
  nom_voltage : 0.7;
  power_lut_template (p2) { variable_1 : input_transition_time; variable_2 : total_output_net_capacitance;
    index_1 ("1, 2"); index_2 ("1, 2"); }
  cell (INV) {
    area : 0.05;
    leakage_power () { when : "A"; value : 10; }
    leakage_power () { when : "!A"; value : 30; }
    pin (A) { direction : input; capacitance : 0.5;
      internal_power () { rise_power (scalar) { values ("0.25"); } fall_power (scalar) { values ("0.75"); } } }
    pin (Y) { direction : output; function : "!A";
      internal_power () { related_pin : "A";
        rise_power (p2) { index_1 ("10, 30"); index_2 ("1, 3"); values ("1, 2", "3, 4"); }
        fall_power (p2) { index_1 ("10, 30"); index_2 ("1, 3"); values ("5, 6", "7, 8"); } } }
  }
}
"""


def test_units_scalar_tables_state_leakage_and_gzip(tmp_path):
    """ps, fF, pW, V (as ASAP7), an unquoted time unit (as gf180mcu), scalar tables (as sky130),
    leakage only in state-dependent groups (as gf180mcu and ASAP7), read from a .gz file."""
    import gzip

    path = tmp_path / "units.lib.gz"
    path.write_bytes(gzip.compress(_ASAP7_LIKE.encode()))
    lib = read_liberty(path)
    assert (lib.time_unit_ns, lib.cap_unit_pf, lib.leakage_unit_mw, lib.voltage_unit_v) == \
        pytest.approx((1e-3, 1e-3, 1e-9, 1.0))
    assert lib.voltage == pytest.approx(0.7) and lib.energy_unit_pj == pytest.approx(1e-3)  # fF x V^2 = fJ
    inv = lib.cell("INV")
    assert inv.leakage == pytest.approx(20.0)  # mean of the two states
    (passive,) = inv.pins["A"].internal_power
    assert passive.rise(0.0, 123.0) == 0.25 and passive.fall(5.0, 0.0) == 0.75
    (arc,) = inv.pins["Y"].internal_power
    # index_1 is the input transition (ps), index_2 the load (fF): values[slew][load]
    assert arc.rise(3.0, 10.0) == pytest.approx(2.0) and arc.rise(1.0, 30.0) == pytest.approx(3.0)
    assert arc.fall(2.0, 20.0) == pytest.approx((5 + 6 + 7 + 8) / 4)
    assert lib.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
