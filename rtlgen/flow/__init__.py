"""The end-to-end flow: ``rtlgen flow run FLOW.toml`` (:mod:`.run`), its configuration
(:mod:`.config`), step cache (:mod:`.cache`), steps (:mod:`.steps`) and report (:mod:`.report`)."""
from __future__ import annotations

from rtlgen.flow.config import FLOW_VERSION, FlowConfig, load_flow, parse_flow
from rtlgen.flow.run import FlowResult, run_flow

__all__ = ["FLOW_VERSION", "FlowConfig", "FlowResult", "load_flow", "parse_flow", "run_flow"]
