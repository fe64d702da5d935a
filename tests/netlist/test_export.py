"""Table export: TFApprox .bin against the published TFApprox lookup tables, .npy and C header."""
from __future__ import annotations

import numpy as np
import pytest

from rtlgen.netlist.export import c_header, export_table, read_tfapprox_bin, tfapprox_bin
from rtlgen.netlist.multiplier import netlist_table
from rtlgen.netlist.table import exact_table


def test_tfapprox_bin_equals_published_luts(shared_data):
    """Independent oracle: TFApprox's own LUTs of the 32 master-branch EvoApprox netlists."""
    root = shared_data / "evoapproxlib-master-tfapprox"
    netlists = sorted((root / "netlists").glob("*.v"))
    assert len(netlists) == 32
    for v in netlists:
        published = (root / "tfapprox_luts" / f"{v.stem}.bin").read_bytes()
        t = netlist_table(v, signed=False)
        ours = tfapprox_bin(t, signed=False)
        if ours != published:
            pub = read_tfapprox_bin(published)
            a, b = np.argwhere(pub != t)[0]
            pytest.fail(f"{v.name}: TFApprox LUT differs first at (a, b) = ({a}, {b}): ours {t[a, b]}, LUT {pub[a, b]}")


def test_bin_layout_is_activation_major_with_weight_on_port_a():
    t = np.zeros((256, 256), dtype=np.int32)
    t[3, 200] = 77  # port A (weight) = 3, port B (activation) = 200
    data = tfapprox_bin(t, False)
    assert np.frombuffer(data, "<u2")[(200 << 8) | 3] == 77
    assert np.array_equal(read_tfapprox_bin(data), t)


def test_signed_tables_cannot_go_to_bin():
    with pytest.raises(ValueError, match=r"^the TFApprox \.bin format holds unsigned products only"):
        tfapprox_bin(exact_table(True), True)


def test_npy_and_header(tmp_path):
    t = exact_table(True)
    export_table(t, True, tmp_path / "t.npy")
    assert np.array_equal(np.load(tmp_path / "t.npy"), t)
    h = c_header(t, True, "mul8s_1KV6")
    assert "static const int16_t mul8s_1KV6[256][256]" in h
    first_row = h.split("{\n  {")[1].split("}")[0]
    assert [int(v) for v in first_row.split(",")] == list(t[0])
    assert "int32_t" in c_header(exact_table(False), False, "m")
    with pytest.raises(ValueError, match=r"^unknown export format 'txt'"):
        export_table(t, True, tmp_path / "t.txt")
