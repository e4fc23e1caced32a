"""The local endpoint's process sampler (moetui.local_endpoint.usage): figures from /proc samples."""

from __future__ import annotations

from moetui.local_endpoint.usage import SAMPLE_S, Sampler


def test_a_short_last_interval_makes_no_peak() -> None:
    """A run that ends 11 ms after a sample: one clock tick over that interval read as 0.91 cores; the short
    last interval joins the one before it, so a peak is over about SAMPLE_S and never below the mean."""
    sampler = Sampler({"gateway": 1, "server-0": 2}, cpus=2)
    sampler.samples = [
        (0.0, {"gateway": (0.0, 10 * 2**20), "server-0": (0.0, 200 * 2**20)}),
        (SAMPLE_S, {"gateway": (0.05, 10 * 2**20), "server-0": (0.5, 210 * 2**20)}),
        (SAMPLE_S + 0.011, {"gateway": (0.06, 11 * 2**20), "server-0": (0.5, 210 * 2**20)}),
    ]
    block = sampler.block()
    gateway, server = block["processes"]["gateway"], block["processes"]["server-0"]
    # The 11 ms joins the interval before: 0.06 s over 0.511 s, not 0.01 s over 0.011 s (0.91 cores).
    assert gateway["cpu_cores_peak"] == round(0.06 / (SAMPLE_S + 0.011), 3)
    assert server["cpu_cores_peak"] == round(0.5 / (SAMPLE_S + 0.011), 3)
    assert all(v["cpu_cores_peak"] >= v["cpu_cores_mean"] for v in block["processes"].values())
    assert gateway["cpu_cores_mean"] == round(0.06 / (SAMPLE_S + 0.011), 3)
    assert server["rss_mb_peak"] == 210.0 and gateway["rss_mb_peak"] == 11.0
    assert block["server_cpu_share"] == round(server["cpu_cores_mean"] / 2, 3)


def test_too_few_samples_say_so() -> None:
    sampler = Sampler({"gateway": 1}, cpus=None)
    sampler.samples = [(0.0, {"gateway": (0.0, 0)})]
    assert "error" in sampler.block()
