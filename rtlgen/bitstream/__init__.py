"""Stage 6: the configuration bitstream that the emulator and the accelerator both read.

:mod:`.format` owns the binary layout (magic ``RTLB``, version, descriptors, CRC-32).
"""
