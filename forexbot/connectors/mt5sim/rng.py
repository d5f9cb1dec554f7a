"""Counter-based random numbers: the value at index ``i`` depends only on (key, i).

The feed must produce the same ticks for a minute whether it generates the whole day at once
(to build M1 bars) or that one minute on demand (``copy_ticks_range``). A sequential generator
would have to replay the day; a counter-based one just hashes the index, so any slice of the
stream can be produced in O(slice) with vectorised numpy. The hash is SplitMix64's output
function, a well-tested 64-bit mixer.

Normal deviates come from one uniform each through a tabulated inverse normal CDF (2**14
intervals, linear interpolation, tails cut at about 4 sigma; the table stays in cache). Beyond
speed (no log/cos), the interpolation uses only multiplications and additions, which numpy
computes identically whatever the array's shape, so a regenerated minute matches its day bit
for bit.
"""

from __future__ import annotations

import hashlib
from functools import cache

import numpy as np
from numpy.typing import NDArray

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
_TABLE_BITS = 14

U64Array = NDArray[np.uint64]
F64Array = NDArray[np.float64]


def derive_key(seed: int, *parts: str) -> int:
    """A 64-bit stream key for (seed, parts...), stable across runs and platforms."""
    text = "|".join([str(seed), *parts]).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def hash64(key: int, index: U64Array) -> U64Array:
    """SplitMix64 of ``key + (index + 1) * golden``: independent uniform 64-bit words."""
    x = (index + np.uint64(1)) * _GOLDEN + np.uint64(key)
    x ^= x >> _S30
    x *= _MIX1
    x ^= x >> _S27
    x *= _MIX2
    x ^= x >> _S31
    return x


def split_uniforms(words: U64Array) -> tuple[F64Array, F64Array]:
    """Two uniforms in the open interval (0, 1) from the high and low halves of each word."""
    scale = 2.0**-32
    high = ((words >> _S32).astype(np.float64) + 0.5) * scale
    low = ((words & _LOW32).astype(np.float64) + 0.5) * scale
    return high, low


def _inverse_normal_cdf(p: F64Array) -> F64Array:
    """Acklam's rational approximation of the standard normal quantile (|error| < 1.2e-9)."""
    a = (-39.69683028665376, 220.9460984245205, -275.9285104469687,
         138.3577518672690, -30.66479806614716, 2.506628277459239)  # fmt: skip
    b = (-54.47609879822406, 161.5858368580409, -155.6989798598866,
         66.80131188771972, -13.28068155288572)  # fmt: skip
    c = (-7.784894002430293e-03, -0.3223964580411365, -2.400758277161838,
         -2.549732539343734, 4.374664141464968, 2.938163982698783)  # fmt: skip
    d = (7.784695709041462e-03, 0.3224671290700398, 2.445134137142996, 3.754408661907416)

    def tail(q: F64Array) -> F64Array:
        num = ((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]
        result: F64Array = num / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        return result

    low = 0.02425
    q = p - 0.5
    r = q * q
    num = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
    central = num / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    lower = tail(np.sqrt(-2 * np.log(np.clip(p, 1e-300, None))))
    upper = -tail(np.sqrt(-2 * np.log(np.clip(1 - p, 1e-300, None))))
    result: F64Array = np.where(p < low, lower, np.where(p > 1 - low, upper, central))
    return result


@cache
def _normal_table() -> tuple[F64Array, F64Array]:
    """Quantiles at k / 2**14 (ends at half a cell) and the slopes between them."""
    n = 1 << _TABLE_BITS
    grid = np.arange(n + 1, dtype=np.float64) / n
    grid[0], grid[-1] = 0.5 / n, 1 - 0.5 / n
    values = _inverse_normal_cdf(grid)
    return values[:-1].copy(), np.diff(values)


def normals_from(u: F64Array) -> F64Array:
    """Standard normal deviates from uniforms in (0, 1), by the tabulated quantile."""
    values, slopes = _normal_table()
    scaled = u * float(1 << _TABLE_BITS)
    cell = scaled.astype(np.int64)
    result: F64Array = values[cell] + (scaled - cell) * slopes[cell]
    return result


def normals(key: int, index: U64Array) -> F64Array:
    """One standard normal per index."""
    return normals_from(split_uniforms(hash64(key, index))[0])
