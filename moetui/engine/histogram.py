"""HdrHistogram settings shared by every recorder and report: 1 µs to 1 h at 3 significant digits."""

from __future__ import annotations

import base64
import struct
import zlib
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from itertools import accumulate, compress

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
#: The percentile ladder every snapshot carries, each with its label on screen: the one table of labels.
PERCENTILE_LABELS: dict[float, str] = {
    50.0: "p50",
    90.0: "p90",
    95.0: "p95",
    99.0: "p99",
    99.9: "p99.9",
    99.99: "p99.99",
    100.0: "max",
}
PERCENTILES: tuple[float, ...] = tuple(PERCENTILE_LABELS)
#: The percentiles a JSON report keeps (its schema is stable: no p99.99).
REPORT_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9, 100.0)


def report_key(percentile: float) -> str:
    """The JSON report's key for a percentile: its label with "_" for "." (p99.9 -> "p99_9")."""
    return PERCENTILE_LABELS[percentile].replace(".", "_")


def new_histogram() -> HdrHistogram:
    """An empty latency histogram in microseconds. Making one (~0.3 ms) is cheaper than reset() (~2 ms)."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def record_many(histogram: HdrHistogram, values: Iterable[int]) -> int:
    """Record each value as `histogram.record_value` would; returns how many fell outside its range.

    record_value costs ~2.7 µs a value (five Python calls), which at thousands of requests a second is
    several percent of the generator's core. Here equal values are counted once (Counter, in C) and hdrh's
    index arithmetic is inlined: the same counts, total, min and max (tests/engine/test_histogram.py).
    """
    counted = Counter(values)
    h = histogram
    unit, mask, half = h.unit_magnitude, h.sub_bucket_mask, h.sub_bucket_half_count
    half_magnitude = h.sub_bucket_half_count_magnitude
    bucket_shift = unit + half_magnitude + 1
    counts, counts_len = h.counts, h.counts_len
    recorded = missed = 0
    low, high = h.min_value, h.max_value
    for value, n in counted.items():
        if value < 0:
            missed += n
            continue
        bucket = (value | mask).bit_length() - bucket_shift
        index = ((bucket + 1) << half_magnitude) + (value >> (bucket + unit)) - half
        if index < 0 or index >= counts_len:
            missed += n
            continue
        counts[index] += n
        recorded += n
        low = min(low, value)
        high = max(high, value)
    if recorded:
        h.total_count += recorded
        h.min_value, h.max_value = low, high
    return missed


def percentiles_ms(histogram: HdrHistogram) -> dict[float, float]:
    """The percentile ladder in milliseconds, the same values as hdrh's get_percentile_to_value_dict.

    hdrh walks up to 23,552 buckets in a Python loop (~3 ms, and a snapshot needs several ladders: the
    event loop, and so the sends, waited that long). Here the running sum is one C-level `accumulate`
    over the buckets from the smallest value to the largest, and each percentile a bisection: ~10x less.
    """
    total = histogram.get_total_count()
    if total == 0:
        return {}
    first, last = _index_range(histogram)
    cumulative = list(accumulate(histogram.counts[first : last + 1]))
    if not cumulative or cumulative[-1] < total:  # counts outside min..max: never seen, but stay exact
        values = histogram.get_percentile_to_value_dict(list(PERCENTILES))
        return {p: values[p] / 1000 for p in PERCENTILES}
    ladder = {}
    for p in PERCENTILES:
        index = first + bisect_left(cumulative, histogram.get_target_count_at_percentile(p))
        ladder[p] = histogram.get_highest_equivalent_value(histogram.get_value_from_index(index)) / 1000
    return ladder


#: The most a histogram of these settings decompresses to: 23,552 counts of at most 9 bytes each (V2's LEB128)
#: after a 40-byte header, 212 KB. A report's histogram inflating past it is refused before it is inflated
#: further: 1 MB of zlib can hold a gigabyte.
MAX_DECODED_BYTES = 1 << 18
_COOKIE_HEADER = struct.Struct(">II")  # cookie, length of the compressed part
_PAYLOAD_HEADER = struct.Struct(">IIIIQQd")  # cookie, length, offset, digits, lowest, highest, ratio


class HistogramDecodeError(ValueError):
    """Not a histogram of moetui's settings in HdrHistogram's compressed base64 form."""


def decode(encoded: str | bytes) -> HdrHistogram:
    """A histogram from HdrHistogram's compressed base64 form, from a file as much as from a worker: its
    base64 checked, its zlib inflated to at most MAX_DECODED_BYTES, its settings moetui's (LOWEST_US,
    HIGHEST_US, SIGNIFICANT_DIGITS), before hdrh allocates and decodes it.

    Raises:
        HistogramDecodeError: Anything else (the message says what).
    """
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (ValueError, TypeError) as exc:
        raise HistogramDecodeError(f"not base64 ({exc})") from None
    if len(raw) < _COOKIE_HEADER.size:
        raise HistogramDecodeError(f"{len(raw)} bytes: too short for a histogram")
    inflater = zlib.decompressobj()
    try:
        payload = inflater.decompress(raw[_COOKIE_HEADER.size :], MAX_DECODED_BYTES)
    except zlib.error as exc:
        raise HistogramDecodeError(f"not zlib-compressed ({exc})") from None
    if inflater.unconsumed_tail:
        raise HistogramDecodeError(f"inflates to more than {MAX_DECODED_BYTES:,} bytes (at most 212 KB)")
    if len(payload) < _PAYLOAD_HEADER.size:
        raise HistogramDecodeError(f"inflates to {len(payload)} bytes: too short for a histogram")
    _cookie, _length, _offset, digits, lowest, highest, _ratio = _PAYLOAD_HEADER.unpack_from(payload)
    if (lowest, highest, digits) != (LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS):
        raise HistogramDecodeError(
            f"a histogram of {lowest} to {highest} at {digits} digits; moetui's are {LOWEST_US} to {HIGHEST_US} "
            f"at {SIGNIFICANT_DIGITS}"
        )
    try:
        return HdrHistogram.decode(encoded)
    except Exception as exc:  # hdrh raises its own exception classes, ValueError and zlib.error
        raise HistogramDecodeError(f"not a histogram ({type(exc).__name__}: {exc})") from None


def _index_range(histogram: HdrHistogram) -> tuple[int, int]:
    """The first and last bucket index from the smallest value recorded to the largest."""
    last = min(
        histogram.get_counts_array_index(histogram.get_max_value()),
        histogram.counts_len - 1,
        histogram.encoder.payload.counts_len - 1,  # a decoded histogram may hold fewer buckets
    )
    return min(histogram.get_counts_array_index(histogram.get_min_value()), last), last


def recorded_indices(histogram: HdrHistogram) -> list[tuple[int, int]]:
    """(bucket index, count) of each non-empty bucket, smallest first, without hdrh's recorded iterator and
    its Python walk over every bucket below the largest value (~100x slower). value_ms gives each value."""
    if not histogram.get_total_count():
        return []
    first, last = _index_range(histogram)
    counts = histogram.counts[first : last + 1]
    return list(zip(compress(range(first, last + 1), counts), filter(None, counts), strict=True))


def value_ms(histogram: HdrHistogram, index: int) -> float:
    """A bucket's value in ms, as hdrh's iterators give it (the highest value the bucket holds)."""
    return float(histogram.get_highest_equivalent_value(histogram.get_value_from_index(index))) / 1000


def encode(histogram: HdrHistogram) -> str:
    """HdrHistogram's compressed base64 form, as text (what a report holds)."""
    encoded = histogram.encode()
    return encoded.decode() if isinstance(encoded, bytes) else str(encoded)
