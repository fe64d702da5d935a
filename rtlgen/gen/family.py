"""What every multiplier family offers: a parameter schema, validation, a reference model and a
circuit.

A :class:`Spec` names one multiplier: family, signedness and integer parameter values (already
validated and normalised by the family). The reference model works on operand *values* (two's
complement values for a signed multiplier, see :mod:`rtlgen.netlist.table`) with only ``+ - * >> &`` and
comparisons, so the same code runs on Python ints and, element-wise, on numpy int64 arrays; it
never looks at the circuit. The circuit is an Amaranth component with ports ``A[7:0]``,
``B[7:0]`` and ``O[15:0]`` built from explicit gates (:mod:`rtlgen.gen.bits`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtlgen.netlist.table import check_table, operand_values

__all__ = ["Param", "Spec", "Family", "MultiplierPorts", "wrap_output"]


@dataclass(frozen=True)
class Param:
    """One integer parameter: its name, valid range per signedness, and what it means."""

    name: str
    lo: int
    hi_unsigned: int
    hi_signed: int
    help: str
    flag: bool = False  # a 0/1 parameter given on the command line as --NAME

    def hi(self, signed: bool) -> int:
        return self.hi_signed if signed else self.hi_unsigned


@dataclass(frozen=True)
class Spec:
    """One multiplier of a family: validated, normalised parameter values and signedness."""

    family: str
    signed: bool
    params: tuple[tuple[str, int], ...]
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __getitem__(self, name: str) -> int:
        for key, value in self.params:
            if key == name:
                return value
        raise KeyError(f"{self.family} has no parameter {name!r}")

    @property
    def values(self) -> dict[str, int]:
        return dict(self.params)

    @property
    def module_name(self) -> str:
        """Verilog module (and file stem): ``mul8s_``/``mul8u_`` so readers infer signedness."""
        parts = [f"mul8{'s' if self.signed else 'u'}", self.family]
        parts += [f"{key}{value}" for key, value in self.params]
        return "_".join(parts)

    def describe(self) -> str:
        args = ", ".join(f"{key}={value}" for key, value in self.params)
        return f"{self.family}({args}) {'signed' if self.signed else 'unsigned'}"


def wrap_output(total: Any, signed: bool) -> Any:
    """The 16-bit output for an exact integer ``total``: modulo 2**16, read per signedness."""
    raw = total & 0xFFFF
    return raw - ((raw >> 15) & 1) * 0x10000 if signed else raw


class MultiplierPorts(wiring.Component):
    """An 8x8 multiplier's interface; families fill ``O`` from ``A`` and ``B`` with gates."""

    # an explicit signature: with postponed annotations Amaranth cannot read class annotations
    def __init__(self, build):
        super().__init__({"A": In(8), "B": In(8), "O": Out(16)})
        self._build = build

    def elaborate(self, platform):
        m = Module()
        self._build(m, self.A, self.B, self.O)
        return m


class Family:
    """Base class of a multiplier family (one subclass per family, registered by name)."""

    name: ClassVar[str]
    title: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    signedness: ClassVar[tuple[bool, ...]] = (False, True)

    # -- parameters ----------------------------------------------------------------------------

    def spec(self, signed: bool, **values: int) -> Spec:
        """Validate ``values`` for ``signed`` and return the normalised :class:`Spec`.

        Raises ValueError naming the valid range (or the valid names) for a bad value.
        """
        if not isinstance(signed, bool):
            raise TypeError(f"signed must be a bool, not {type(signed).__name__}")
        if signed not in self.signedness:
            kinds = " or ".join("signed" if s else "unsigned" for s in self.signedness)
            raise ValueError(f"{self.name} multipliers are {kinds} only, not "
                             f"{'signed' if signed else 'unsigned'}")
        known = {p.name: p for p in self.params}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"{self.name} has no parameter {unknown[0]!r}; valid: "
                             + (", ".join(known) or "none"))
        checked: dict[str, int] = {}
        kind = "signed" if signed else "unsigned"
        article = "a" if signed else "an"
        for p in self.params:
            if p.name not in values:
                raise ValueError(f"{self.name} needs parameter {p.name} "
                                 f"({p.help}; {p.lo}..{p.hi(signed)} for {kind})")
            value = values[p.name]
            if isinstance(value, bool):
                value = int(value)
            if not isinstance(value, (int, np.integer)):
                raise TypeError(f"{self.name} parameter {p.name} must be an integer, "
                                f"not {type(value).__name__}")
            value = int(value)
            if not p.lo <= value <= p.hi(signed):
                raise ValueError(f"{self.name} parameter {p.name} must be in "
                                 f"{p.lo}..{p.hi(signed)} for {article} {kind} multiplier, not {value} "
                                 f"({p.help})")
            checked[p.name] = value
        checked, notes = self._normalise(signed, checked)
        return Spec(self.name, signed, tuple((p.name, checked[p.name]) for p in self.params),
                    tuple(notes))

    def _normalise(self, signed: bool, values: dict[str, int]) -> tuple[dict[str, int], list[str]]:
        """Map parameter points that denote the same multiplier to one; say so in notes."""
        return values, []

    # -- reference model -----------------------------------------------------------------------

    def reference(self, spec: Spec, a: Any, b: Any) -> Any:
        """Output value for operand values ``a`` (port A) and ``b`` (port B)."""
        self._check(spec)
        return self._reference(spec, a, b)

    def _reference(self, spec: Spec, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def reference_table(self, spec: Spec) -> np.ndarray:
        """The reference model over all 65,536 operand pairs, as a table (``T[a, b]``)."""
        v = operand_values(spec.signed).astype(np.int64)
        table = self.reference(spec, v[:, None], v[None, :])
        return check_table(np.broadcast_to(table, (256, 256)), spec.signed,
                           what=f"reference table of {spec.describe()}")

    # -- circuit -------------------------------------------------------------------------------

    def circuit(self, spec: Spec) -> MultiplierPorts:
        """The Amaranth component (ports A, B, O) built from gates."""
        self._check(spec)
        return MultiplierPorts(lambda m, a, b, o: self._build(spec, m, a, b, o))

    def _build(self, spec: Spec, m: Module, a, b, o) -> None:
        raise NotImplementedError

    def _check(self, spec: Spec) -> None:
        if spec.family != self.name:
            raise ValueError(f"spec of family {spec.family!r} given to family {self.name!r}")
