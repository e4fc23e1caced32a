"""`moetui compare --tolerance`: the smallest change a comparison calls faster or slower. Its own module so
that the command line shows the default without importing the statistics."""

from __future__ import annotations

import re

from moetui.errors import ConfigError

#: A change is called (faster, slower) only when its whole 95 % interval lies beyond this share of the base
#: value. Calibrated on this machine with bench/compare_calibration.py (README, "Reports that travel"):
#: identical back-to-back runs differ by more than either run's own drift shows.
DEFAULT_TOLERANCE = 0.05


def parse_tolerance(text: str) -> float:
    """`5%` -> 0.05.

    Raises:
        ConfigError: Not a percentage from 0 % to under 100 %.
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*%\s*", text)
    share = float(match.group(1)) / 100 if match else None
    if share is None or share >= 1:
        raise ConfigError(f"--tolerance: {text!r} is not a percentage from 0% to under 100% (e.g. 5%)")
    return share
