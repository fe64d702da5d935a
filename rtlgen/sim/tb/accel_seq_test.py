"""cocotb test of a whole network on the generated accelerator's sequencer (top ``rtlgen_accel``
made with its AXI front end, ``gen accel --axi``), driven only through
:class:`rtlgen.hil.driver.AccelDriver` on cocotbext-axi masters: stream ``config.bin`` and
``weights.bin``, then per input write it, run, read the output back.

Runs inside the simulator (built and started by :mod:`rtlgen.accel.seqsim`). Reads the job from
the JSON file named by ``$RTLGEN_SEQ_JOB`` (``{"networks": [{"config": path, "weights": path,
"inputs": [hex or null, ...], "slots": S (optional)}, ...], "poll_cycles", "max_polls"}``;
null: start without writing an input; with ``slots``, the inputs run as one batch,
:meth:`rtlgen.hil.driver.AccelDriver.run_batch`, and the network has one run with ``outputs``) and writes ``$RTLGEN_SEQ_RESULTS``:
per network the two load verdicts and per input the run's outcome (``done``, ``cycles``,
``layers``, ``code``, ``offset``, ``config_reads``, ``weights_reads``, ``engine_clocks``) and the output
bytes (hex).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb

from rtlgen.hil.driver import AccelDriver, CocotbAxiTransport
from rtlgen.hil.network import PERIOD_NS, reset_device


async def _reads(drv: AccelDriver) -> dict:
    """The run's walker reads of the two image memories (the read enables' cycles) and its
    engines' clocked cycles."""
    return {"config_reads": await drv.read_reg("CONFIG_READS"), "weights_reads": await drv.read_reg("WEIGHTS_READS"),
            "engine_clocks": await drv.read_reg("ENGINE_CLOCKS")}


@cocotb.test()
async def run_network(dut):
    job = json.loads(Path(os.environ["RTLGEN_SEQ_JOB"]).read_text())
    await reset_device(dut)
    transport = CocotbAxiTransport(dut, period_ns=PERIOD_NS)
    drv = AccelDriver(transport, max_polls=job.get("max_polls", 10_000))
    out: dict = {"identity": await drv.identify(), "networks": []}
    for net in job["networks"]:
        config = Path(net["config"]).read_bytes()
        rec: dict = {}
        loaded = await drv.load_config(config)
        rec["config"] = {"accepted": loaded.accepted, "describe": loaded.describe()}
        loaded = await drv.load_weights(Path(net["weights"]).read_bytes(), check=False)
        rec["weights"] = {"accepted": loaded.accepted, "describe": loaded.describe()}
        rec["runs"] = []
        if rec["config"]["accepted"] and rec["weights"]["accepted"] and net.get("slots"):
            # the inputs as one batch through the units at once
            res, outs = await drv.run_batch(config, [bytes.fromhex(x) for x in net["inputs"]], slots=net["slots"],
                                            poll_cycles=job.get("poll_cycles", 2000))
            rec["runs"].append({"done": res.done, "cycles": res.cycles, "layers": res.layers, "code": int(res.code),
                                "offset": res.offset, "describe": res.describe(), "status": await drv.status(),
                                "outputs": [o.hex() for o in outs], **await _reads(drv)})
        elif rec["config"]["accepted"] and rec["weights"]["accepted"]:
            # an input of None: START without writing one (a config.bin with no plan says nowhere)
            for x in net["inputs"]:
                if x is not None:
                    await drv.write_input(config, bytes.fromhex(x))
                res = await drv.run(poll_cycles=job.get("poll_cycles", 2000))
                run = {"done": res.done, "cycles": res.cycles, "layers": res.layers, "code": int(res.code),
                       "offset": res.offset, "describe": res.describe(), "status": await drv.status(),
                       **await _reads(drv)}
                run["output"] = (await drv.read_output(config)).hex() if res.done else ""
                rec["runs"].append(run)
        out["networks"].append(rec)
    Path(os.environ["RTLGEN_SEQ_RESULTS"]).write_text(json.dumps(out))
