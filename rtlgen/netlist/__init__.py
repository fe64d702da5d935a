"""Stage 1: a gate-level multiplier netlist becomes a 256x256 truth table.

* :mod:`.reader`: Verilog (pyverilog) to a bit-level networkx DAG; :mod:`.liberty`: the standard
  cells a netlist may instantiate; :mod:`.yosys`: running Yosys, flattening;
* :mod:`.evaluate`: bit-parallel evaluation; :mod:`.multiplier`: file to table in one call;
* :mod:`.table` owns the truth-table convention ``T[a, b]`` (ports bound by name) and signedness;
* :mod:`.metrics`: EvoApprox's error metrics; :mod:`.export`: ``.npy``, C header, TFApprox ``.bin``.
"""
from rtlgen.netlist.reader import Netlist, parse_netlist_text, read_netlist

__all__ = ["Netlist", "read_netlist", "parse_netlist_text"]
