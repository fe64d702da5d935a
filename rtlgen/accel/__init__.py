"""The accelerator generator: an Amaranth design of compute units with selectable multipliers.

``rtlgen gen accel --config ACCEL.toml --lib LIBDIR --out build/accel/`` writes it as Verilog.

Modules, from the configuration to the running hardware:

* :mod:`~rtlgen.accel.config`: the TOML configuration (units, lanes, multipliers, memories) and
  its hash, which a bitstream records;
* :mod:`~rtlgen.accel.encoding`: the operand encodings (``signmag``, ``raw``, ``offset``) in
  hardware and their exact corrections;
* :mod:`~rtlgen.accel.multiplier`, :mod:`~rtlgen.accel.bank`: a multiplier (the library's
  netlist as an ``Instance``, or its table for Amaranth's simulator) and a lane's bank of them
  with operand isolation;
* :mod:`~rtlgen.accel.lane`, :mod:`~rtlgen.accel.unit`: MAC lanes and compute units;
* :mod:`~rtlgen.accel.requant`: TFLite requantization (two-step or single rounding);
* :mod:`~rtlgen.accel.top`: memories, configuration port, layer controller, epilogue; the
  dataflow and the cycle count per layer;
* :mod:`~rtlgen.accel.descriptor`, :mod:`~rtlgen.accel.job`: the layer descriptor and memory
  layouts, and a layer packaged as the words a host writes;
* :mod:`~rtlgen.accel.compose`: bitstreams made by hand from a model's layers (tests, benchmarks,
  bring-up);
* :mod:`~rtlgen.accel.generate`: Verilog output (top, netlists, file list, lint waivers,
  manifest); :mod:`~rtlgen.accel.synth`: Yosys synthesis to liberty cells;
* :mod:`~rtlgen.accel.regmap`, :mod:`~rtlgen.accel.axi`, :mod:`~rtlgen.accel.loader`: the
  device's register map (as data, with its Markdown and C header), AXI4-Lite/AXI4-Stream in
  Amaranth, and the front end that checks and stores ``config.bin`` and ``weights.bin``;
  :mod:`~rtlgen.accel.devsim`
  runs it in a simulator (testbench ``sim/tb/accel_axi_test.py``, driver :mod:`rtlgen.hil.driver`);
* :mod:`~rtlgen.accel.sequencer`, :mod:`~rtlgen.accel.vector`, :mod:`~rtlgen.accel.seqsim`: the
  on-chip sequencer that runs a whole network from the two stored images, its vector unit (ADD,
  pools, PAD) and its simulation; :mod:`~rtlgen.accel.schedule`: the cycles such a run takes,
  exactly, from the two images (``RUN_CYCLES``, per descriptor and phase);
* :mod:`~rtlgen.accel.rtlsim`: layer jobs through the Verilog in Verilator (cocotb runner,
  testbench ``sim/accel_tb.py``);
* :mod:`~rtlgen.accel.gatesim`, :mod:`~rtlgen.accel.power`, :mod:`~rtlgen.accel.workload`: the
  mapped gates in Icarus, every net's activity per cycle, and power and energy per layer run
  through the cost flow's liberty power model (``rtlgen accel power``).
"""
from __future__ import annotations

from rtlgen.accel.config import AccelConfig, ConfigError, load_config, parse_config
from rtlgen.accel.descriptor import FIELDS, LayerDescriptor, param_image, weight_image
from rtlgen.accel.job import ConvJob, conv_job

__all__ = ["AccelConfig", "ConfigError", "ConvJob", "FIELDS", "LayerDescriptor", "conv_job",
           "load_config", "param_image", "parse_config", "weight_image"]
