"""Temporal smoothing without lag: the One-Euro filter (Casiez, Roussel, Vogel, CHI 2012).

A first-order low-pass whose cutoff rises with the signal's speed: still points are smoothed hard
(jitter goes), fast motion passes almost unfiltered (no lag on a sudden jaw drop).
"""

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class OneEuroConfig:
    """min_cutoff: Hz at rest. beta: cutoff increase per unit of speed (units/s). derivative_cutoff: Hz
    for the speed estimate."""

    min_cutoff: float = 1.0
    beta: float = 0.05
    derivative_cutoff: float = 1.0


def _alpha(cutoff: np.ndarray | float, rate: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau * rate)


class OneEuroFilter:
    """`filter(x)` for successive samples x (any array shape, filtered per element) at `rate` Hz."""

    def __init__(self, rate: float, config: OneEuroConfig | None = None) -> None:
        self.rate = rate
        self.config = config or OneEuroConfig()
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the past (e.g. when the face was lost)."""
        self._value = self._speed = None

    def __call__(self, sample: np.ndarray, dt: float | None = None) -> np.ndarray:
        """`dt`: seconds since the previous sample, for samples that come at an uneven rate (a live
        stream); None: 1 / `rate`."""
        sample = np.asarray(sample, np.float64)
        if self._value is None:
            self._value, self._speed = sample.copy(), np.zeros_like(sample)
            return sample.copy()
        rate = self.rate if dt is None else 1.0 / max(dt, 1e-3)
        speed = (sample - self._value) * rate
        a = _alpha(self.config.derivative_cutoff, rate)
        self._speed = a * speed + (1 - a) * self._speed
        cutoff = self.config.min_cutoff + self.config.beta * np.abs(self._speed)
        a = _alpha(cutoff, rate)
        self._value = a * sample + (1 - a) * self._value
        return self._value.copy()
