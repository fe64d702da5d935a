"""The accelerator top: the layer engines, the activation memory, the host ports or the AXI front end.

Two forms:

* with host ports (the default, and with a front end beside the engine): one layer engine
  (:mod:`rtlgen.accel.engine`: its dataflow, pipeline and cycle count) holding every unit's
  bank; a layer runs on the unit its descriptor names, the other units idle;
* the device (a front end made with the engine's configuration, ``gen accel --axi``): one engine
  per compute unit, each with its unit's bank and its own weight and parameter memories, run by
  the sequencer's walkers (:mod:`rtlgen.accel.sequencer`) at the same time; one activation
  memory with a read and a write port per engine and one for ``ACT_ADDR``/``ACT_DATA``.

Host ports (synchronous to ``clk``; use them while ``busy`` is low)
------------------------------------------------------------------
``cfg_we/cfg_addr/cfg_data`` load descriptor registers; ``start`` runs the layer, ``busy`` is high
until the last byte is written, ``done`` then stays high until the next start.
``act_we/act_addr/act_wdata`` write the activation memory, ``act_addr`` -> ``act_rdata`` reads
it (data one cycle after the address). ``wgt_we/wgt_addr/wgt_wdata`` and
``par_we/par_addr/par_wdata`` write the weight and parameter memories.

With an AXI front end (``device``, :mod:`rtlgen.accel.loader`), ``s_axil_*``/``s_axis_*`` sit
beside these ports, and ``CTRL.START`` (refused until both images are accepted) is a second
``start`` of one layer. A front end made with the engine's configuration (``gen accel --axi``
does) holds the on-chip sequencer (:mod:`rtlgen.accel.sequencer`) instead, and the top is then a
device with no host ports: its inputs are the AXI ports, ``clk`` and ``rst``; ``busy``, ``done``,
``cycles`` and ``issued`` stay as outputs (summed over the engines). ``CTRL.START`` runs the
sequencer, whose walkers drive each engine's configuration port, weight and parameter memories
and ``start``; a walker's vector unit (ADD, pool and PAD descriptors, :mod:`rtlgen.accel.vector`)
uses its engine's activation-memory port while the engine is idle; ``ACT_ADDR``/``ACT_DATA``
have a port of their own, so the host can place the next input of a batch while the units run.
Each engine of the device has a clock of its own, gated (with ``clock_gating``, the default)
to the cycles after which it runs or its walker writes it (:mod:`rtlgen.accel.sequencer`,
"Engine clocks"): an idle unit's flip-flops get no clock edge. Every read port of the device's
activation memory has an enable: an engine's reads in the cycles
it issues a product, a vector unit's when it uses the byte, ``ACT_DATA``'s when its address
changed or a byte was written there.
"""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, ClockDomain, ClockSignal, DomainRenamer, Module, Mux, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtlgen.accel.config import AccelConfig
from rtlgen.accel.descriptor import PARAM_BITS
from rtlgen.accel.engine import Engine, EngineIO, build_engine
from rtlgen.accel.multiplier import MultiplierSpec
from rtlgen.accel.ports import read_on_change

__all__ = ["Accelerator"]


class Accelerator(wiring.Component):
    """The layer engine; with ``device`` (an AXI front end,
    :class:`rtlgen.accel.loader.DeviceFrontend`) also the ports ``s_axil_*`` and ``s_axis_*``:
    ``CTRL.START`` over AXI4-Lite then runs the network from the stored images (a front end made
    with ``engine=``, module docstring) or starts one layer like the ``start`` port."""

    def __init__(self, config: AccelConfig, banks: list[list[MultiplierSpec]], *,
                 device: Any = None, clock_gating: bool = True):
        if len(banks) != config.units or any(len(b) != config.multipliers for b in banks):
            raise ValueError(f"banks must be {config.units} lists of {config.multipliers} "
                             "multiplier specs")
        self.config = config
        self.banks = banks
        self.device = device
        self.clock_gating = clock_gating
        c = config
        axi = {} if device is None else {"s_axil": In(device.signature.members["s_axil"].signature.flip()),
                                         "s_axis": In(device.signature.members["s_axis"].signature.flip())}
        host = {} if self.networked else {
            "cfg_we": In(1), "cfg_addr": In(5), "cfg_data": In(32), "start": In(1),
            "act_we": In(1), "act_addr": In(c.activation_addr_bits), "act_wdata": In(8), "act_rdata": Out(8),
            "wgt_we": In(1), "wgt_addr": In(c.weight_addr_bits), "wgt_wdata": In(c.weight_word_bits),
            "par_we": In(1), "par_addr": In(c.channel_addr_bits), "par_wdata": In(PARAM_BITS),
        }
        super().__init__({**axi, **host, "busy": Out(1), "done": Out(1), "cycles": Out(32), "issued": Out(32)})
        #: the host-port form's engine ports (its read enables are measured in tests)
        self.engine_io = EngineIO.make(c)

    @property
    def networked(self) -> bool:
        """Whether the on-chip sequencer runs the network (a front end made with the engine's
        configuration): then the top is a device whose only inputs are the AXI ports, the clock
        and the reset. The host ports are left out: the sequencer owns the engine, and a board's
        CPU reaches the device through AXI only."""
        return self.device is not None and getattr(self.device, "engine", None) is not None

    def elaborate(self, platform):
        c = self.config
        m = Module()
        fe = self.device
        if self.networked:
            return self._elaborate_device(m)
        # --- one engine with every unit's bank, driven by the host ports -------------------
        io = self.engine_io
        build_engine(m, c, self.banks, io, clock_gating=self.clock_gating)
        m.submodules.act_mem = act_mem = Memory(shape=8, depth=c.activation_bytes, init=[])
        act_rd, act_wr = act_mem.read_port(), act_mem.write_port()
        for name in ("cfg_we", "cfg_addr", "cfg_data", "wgt_we", "wgt_addr", "wgt_wdata", "par_we", "par_addr",
                     "par_wdata"):
            m.d.comb += getattr(io, name).eq(getattr(self, name))
        m.d.comb += [self.act_rdata.eq(act_rd.data), io.act_rdata.eq(act_rd.data),
                     act_rd.addr.eq(Mux(io.busy, io.act_raddr, self.act_addr)),
                     act_rd.en.eq(Mux(io.busy, io.act_re, 1)),
                     act_wr.en.eq(Mux(io.busy, io.act_we, self.act_we)),
                     act_wr.addr.eq(Mux(io.busy, io.act_waddr, self.act_addr)),
                     act_wr.data.eq(Mux(io.busy, io.act_wdata, self.act_wdata)),
                     self.busy.eq(io.busy), self.done.eq(io.done), self.cycles.eq(io.cycles),
                     self.issued.eq(io.issued)]
        start = self.start
        if fe is not None:      # the front end beside the engine: CTRL.START is a second start
            m.submodules.device = fe
            wiring.connect(m, wiring.flipped(self.s_axil), fe.s_axil)
            wiring.connect(m, wiring.flipped(self.s_axis), fe.s_axis)
            m.d.comb += [fe.run_busy.eq(io.busy), fe.run_done.eq(io.done)]
            start = self.start | fe.run_start
        m.d.comb += io.start.eq(start)
        return m

    def _elaborate_device(self, m: Module) -> Module:
        """The device: one engine per compute unit (its own bank, weight and parameter memories),
        each driven by its unit's walker of the sequencer, all on one activation memory with a
        read and a write port for ACT_ADDR/ACT_DATA and one of each per engine (shared with its
        walker's vector unit)."""
        c = self.config
        fe = self.device
        m.submodules.device = fe
        wiring.connect(m, wiring.flipped(self.s_axil), fe.s_axil)
        wiring.connect(m, wiring.flipped(self.s_axis), fe.s_axis)
        m.submodules.act_mem = act_mem = Memory(shape=8, depth=c.activation_bytes, init=[])
        host_rd, wr = act_mem.read_port(), act_mem.write_port()       # ACT_ADDR / ACT_DATA
        m.d.comb += [host_rd.addr.eq(fe.host_act_addr), fe.host_act_rdata.eq(host_rd.data), wr.en.eq(fe.host_act_we),
                     wr.addr.eq(fe.host_act_addr), wr.data.eq(fe.host_act_wdata)]
        writers = [wr]
        engines = []
        for u, bank in enumerate(self.banks):
            eng = Engine(c, [bank], clock_gating=self.clock_gating)
            io = eng.io
            if self.clock_gating:
                # the engine's own clock, clk AND en, with en (the sequencer's eng_clk_en: it runs
                # or is written this cycle; and reset) captured on clk's falling edge, so stable
                # while clk is high: an idle engine gets no clock edge (its state holds still
                # after done), as a bank's idle multipliers (rtlgen.accel.bank)
                dom = f"eng{u}"
                en = Signal(name=f"{dom}_clk_en")
                m.domains += [ClockDomain(dom, local=True),
                              ClockDomain(f"{dom}_en", clk_edge="neg", local=True, reset_less=True)]
                m.d.comb += [ClockSignal(f"{dom}_en").eq(ClockSignal()), ClockSignal(dom).eq(ClockSignal() & en),
                             ResetSignal(dom).eq(ResetSignal())]
                m.d[f"{dom}_en"] += en.eq(fe.eng_clk_en[u] | ResetSignal())
                eng = DomainRenamer(dom)(eng)
            m.submodules[f"engine{u}"] = eng
            m.d.comb += fe.eng_busy[u].eq(io.busy)
            engines.append(io)
            rd, wr = act_mem.read_port(), act_mem.write_port()
            for name in ("cfg_we", "cfg_addr", "cfg_data", "wgt_we", "wgt_addr", "wgt_wdata", "par_we", "par_addr",
                         "par_wdata", "start"):
                m.d.comb += getattr(io, name).eq(getattr(fe, f"eng_{name}")[u])
            m.d.comb += [io.act_rdata.eq(rd.data), fe.eng_done[u].eq(io.done),
                         fe.act_rdata[u].eq(rd.data)]
            # the engine while it runs, else its walker's vector unit
            m.d.comb += [rd.addr.eq(Mux(io.busy, io.act_raddr, fe.act_addr[u])),
                         rd.en.eq(Mux(io.busy, io.act_re, fe.act_re[u])),
                         wr.en.eq(Mux(io.busy, io.act_we, fe.act_we[u])),
                         wr.addr.eq(Mux(io.busy, io.act_waddr, fe.act_addr[u])),
                         wr.data.eq(Mux(io.busy, io.act_wdata, fe.act_wdata[u]))]
            writers.append(wr)
        # ACT_DATA's port reads only when what it shows may change: a new ACT_ADDR, or a byte
        # written at that address (the engines and vector units write all through a run, so
        # only their writes there count): a run costs it no reads
        read_on_change(m, host_rd, writers, same_address=True)
        busy = Cat(*(io.busy for io in engines)).any()
        m.d.comb += [fe.run_busy.eq(busy), fe.run_done.eq(Cat(*(io.done for io in engines)).any()),
                     self.busy.eq(busy), self.done.eq(fe.run_done),
                     self.cycles.eq(sum(io.cycles for io in engines)),
                     self.issued.eq(sum(io.issued for io in engines))]
        return m
