"""Stage 8: hardware in the loop, a network through the generated accelerator's RTL.

:mod:`.host` builds the harness, runs the simulator processes and gathers the figures;
:mod:`.simside` runs inside the simulator's Python and compares every RTL layer with the emulation.
"""
from rtlgen.hil.host import HilJob, HilReport, run_hil

__all__ = ["HilJob", "HilReport", "run_hil"]
