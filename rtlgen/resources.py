"""Files that travel inside the package (package data), found the same way in a checkout and in
an installed wheel.

The repository's top-level ``hdl/``, ``sim/``, ``netlists/generated`` and the default flows in
``flows/`` are links to these, for readers of the checkout.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["PACKAGE_DIR", "HDL_DIR", "TB_PACKAGE", "GENERATED_NETLISTS", "FLOWS_DIR", "DEFAULT_FLOW",
           "DIGITS_MODEL"]

PACKAGE_DIR = Path(__file__).resolve().parent
#: Verilog harnesses of the cocotb testbenches.
HDL_DIR = PACKAGE_DIR / "sim" / "hdl"
#: The package of cocotb test modules; the simulators import them by dotted name.
TB_PACKAGE = "rtlgen.sim.tb"
#: The shipped generated multiplier netlists and their manifest (``rtlgen gen sweep``).
GENERATED_NETLISTS = PACKAGE_DIR / "data" / "netlists" / "generated"
#: Flow files shipped with the package: the embedded default and its accelerator.
FLOWS_DIR = PACKAGE_DIR / "data" / "flows"
DEFAULT_FLOW = FLOWS_DIR / "digits_default.toml"
#: The embedded digits CNN (:mod:`rtlgen.zoo.digits`).
DIGITS_MODEL = PACKAGE_DIR / "data" / "digits_cnn.tflite"
