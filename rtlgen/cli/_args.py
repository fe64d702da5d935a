"""Argument types shared by the subcommands: numbers checked where argparse parses them, so a
bad value is a usage error (exit status 2) that names the option, before any work starts."""
from __future__ import annotations

import argparse

__all__ = ["non_negative_int", "positive_int", "positive_float"]


def _int(text: str, lowest: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= {lowest}, not {text!r}") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"expected an integer >= {lowest}, not {value}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (a first index, a count that may be zero)."""
    return _int(text, 0)


def positive_int(text: str) -> int:
    """An integer >= 1 (a number of images, workers, jobs, vectors)."""
    return _int(text, 1)


def positive_float(text: str) -> float:
    """A finite number > 0 (a clock period)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, not {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, not {text}")
    return value
