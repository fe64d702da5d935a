"""The accelerator generator: an Amaranth design of compute units with selectable multipliers.

See :mod:`rtlgen.accel.config` for the configuration file and :mod:`rtlgen.accel.top` for the
dataflow, the descriptor and the cycle count.
"""
from __future__ import annotations

from .config import AccelConfig, ConfigError, load_config, parse_config

__all__ = ["AccelConfig", "ConfigError", "load_config", "parse_config"]
