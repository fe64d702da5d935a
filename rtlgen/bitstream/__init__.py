"""Stage 6: the configuration bitstream that the emulator and the accelerator both read.

:mod:`.format` owns the binary layout of ``config.bin`` (magic ``RTLB``, version, descriptors,
CRC-32); :mod:`.weights` that of ``weights.bin`` (magic ``RTLW``: every MAC layer's int8 weights
in the weight-memory layout, and its int32 biases).
"""
