"""The `serving` block: a run's answers split by the deployment that served them, as each response's
`azureml-model-deployment` header names it (Azure ML's, and the local endpoint's gateway's): latency, errors
and throughput per deployment, so a run through a traffic split shows blue and green apart. Present only when
some answer named its deployment. Requests with no answer name none and are not in it."""

from __future__ import annotations

from collections.abc import Mapping

from moetui.engine.histogram import percentiles_ms
from moetui.engine.recorder import ServedCounts
from moetui.redact import printable
from moetui.report.json_report import latency_block
from moetui.report.model import ServedBy


def serving_block(served: Mapping[str, ServedCounts], measured_s: float) -> dict[str, ServedBy]:
    """name -> its answers: ok, failed, error_rate, throughput_rps (ok per measured second), by_status and
    the ok latency ladder."""
    block: dict[str, ServedBy] = {}
    for name in sorted(served):
        counts = served[name]
        ok = int(counts.ok.get_total_count())
        answered = ok + counts.failed
        block[name] = {
            "ok": ok,
            "failed": counts.failed,
            "error_rate": round(counts.failed / answered, 6) if answered else 0.0,
            "throughput_rps": round(ok / measured_s, 3) if measured_s > 0 else 0.0,
            "by_status": {str(code): counts.statuses[code] for code in sorted(counts.statuses)},
            "latency_ms": latency_block(percentiles_ms(counts.ok), None, ok) if ok else None,
        }
    return block


def serving_lines(block: Mapping[str, ServedBy] | None) -> list[str]:
    """The summary's lines: each serving deployment's answers, errors and latency."""
    if not block:
        return []
    lines = ["served by (azureml-model-deployment)"]
    for name, row in block.items():
        latency = row["latency_ms"]
        ladder = f", p50 {latency['p50']:,.1f} ms, p99 {latency['p99']:,.1f} ms" if latency else ""
        lines.append(
            f"  {printable(name)}: {row['ok']:,} ok, {row['failed']:,} failed ({row['error_rate']:.2%}), "
            f"{row['throughput_rps']:,.1f} ok/s{ladder}"
        )
    return lines
