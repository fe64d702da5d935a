"""cocotb test modules: they run inside the simulator's Python, imported by dotted name."""
