"""Stage 3a: hardware cost of a netlist on a liberty cell library.

* :mod:`.pdk`: the processes (sky130hd by default, osu018, gf180mcu, asap7) and their liberty files;
* :mod:`.synth`: Yosys to the liberty's cells; :mod:`.sta`: OpenSTA delay and slews;
* :mod:`.activity`: simulated switching activity under an operand stream (owns the stream model);
* :mod:`.power`: the liberty power model shared by the multiplier cost and the accelerator power;
* :mod:`.multiplier`: the multiplier cost flow, cached in the catalog.
"""
