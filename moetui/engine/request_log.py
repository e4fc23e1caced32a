"""Every request of a run, streamed to a CSV or JSON-lines file as the run goes (`--requests`,
[output] requests): the Recorder hands each settled batch (SETTLE_BATCH requests) to a RequestLog, which
formats the rows and writes them through a 1 MB buffer, so memory stays flat however long the run.

A write that fails (a full disk, a file system gone read-only) stops the log, not the run: the log keeps
what reached the disk, `error` says why it stopped, and the run reports it (the summary and the report are
still written; `--run` exits 5).

With several generator processes each writes its own part (`PATH.part0`, `PATH.part1`, ...) and the run
joins them at the end (join_parts). Parts rather than rows through the delta pipe: the pipe already carries
each process's histograms at 5 Hz and its reader shares the parent's event loop with the aggregation; a row
stream at thousands of requests a second would compete with both, and a file per process needs no lock and
no write-atomicity assumption. The join is one sequential copy after the load, outside every measurement.

Engine only: no textual, rich or azure.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from moetui.engine.transport import RequestIds

#: The columns, in order. Times are seconds from the run's start; latencies in milliseconds.
#: phase: "warmup" (sent during the warm-up, left out of every figure), "measured", or "unfinished"
#: (still in flight when the run ended: no answer, no latency). client_request_id: the request's
#: x-ms-client-request-id (and x-request-id), to join the endpoint's own traffic logs.
COLUMNS = (
    "worker",
    "id",
    "phase",
    "intended_at_s",
    "sent_at_s",
    "status",
    "error",
    "latency_ms",
    "corrected_latency_ms",
    "exec_ms",
    "client_request_id",
)
#: Write buffer: ~10,000 CSV rows, so the disk sees a write every few seconds at thousands of requests/s.
BUFFER_BYTES = 1 << 20


def is_jsonl(path: str | Path) -> bool:
    """JSON lines for a `.jsonl` or `.ndjson` name, CSV otherwise."""
    return Path(path).suffix.lower() in (".jsonl", ".ndjson")


def part_path(path: str | Path, worker: int) -> Path:
    """Where generator process `worker` writes its rows when several processes share the run."""
    return Path(f"{path}.part{worker}")


class RequestLog:
    """The rows of one generator's requests, written to `path` as they settle.

    Args:
        path: The file (a part file when several generators share the run).
        worker: This generator's number (the first column).
        started_at: The run's start on the engine clock; times are relative to it.
        warmup_until: Requests sent before this clock time are marked "warmup".
        header: Write the CSV header line (not in part files: join_parts writes it once).
        ids: The generator's request ids (the client_request_id column); None: a fresh one's.
    """

    def __init__(
        self,
        path: Path,
        worker: int,
        started_at: float,
        warmup_until: float,
        *,
        header: bool,
        ids: RequestIds | None = None,
    ) -> None:
        self.path = path
        self.ids = ids or RequestIds()
        self.worker = worker
        self.started_at = started_at
        self.warmup_until = warmup_until
        self.rows = 0
        """Rows written so far (handed to the file's buffer: the disk may have refused the last of them)."""
        self.error: str | None = None
        """Why the log stopped before the run ended (None: it did not)."""
        self._jsonl = is_jsonl(path)
        self._file: IO[str] | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w", buffering=BUFFER_BYTES, newline="")
        except OSError as exc:
            self._fail(exc)
            return
        self._csv = csv.writer(self._file, lineterminator="\n")
        if header and not self._jsonl:
            self._csv.writerow(COLUMNS)  # into the buffer: a full disk shows at a later flush

    def write(self, finished: Iterable[tuple[Any, ...]]) -> None:
        """Finished requests as the Recorder keeps them: (id, sent, done, status, error, exec_ms, intended,
        served), clock times in seconds."""
        start, warmup_until, worker, request_id = self.started_at, self.warmup_until, self.worker, self.ids.text
        rows = []
        for rid, sent, done, status, error, exec_ms, intended, _ in finished:
            latency_ms = round((done - sent) * 1000, 3)
            rows.append(
                (
                    worker,
                    rid,
                    "warmup" if sent < warmup_until else "measured",
                    None if intended is None else round(intended - start, 6),
                    round(sent - start, 6),
                    status,
                    error,
                    latency_ms,
                    # As the recorder corrects: from the timetable slot, never below the measured latency.
                    None if intended is None else max(round((done - intended) * 1000, 3), latency_ms),
                    exec_ms,
                    request_id(rid),
                )
            )
        self._write(rows)

    def close(self, in_flight: Mapping[int, float]) -> None:
        """Write the requests still in flight (id -> sent, clock time) as "unfinished", then close: with
        them the file holds one row per request sent."""
        start = self.started_at
        self._write(
            [
                (
                    self.worker,
                    rid,
                    "unfinished",
                    None,
                    round(sent - start, 6),
                    None,
                    None,
                    None,
                    None,
                    None,
                    self.ids.text(rid),
                )
                for rid, sent in in_flight.items()
            ]
        )
        if self._file is not None:
            try:
                self._file.close()  # the last flush: the usual place for a full disk to show
            except OSError as exc:
                self._fail(exc)

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        if self._file is None:
            return
        try:
            if self._jsonl:
                self._file.writelines(json.dumps(dict(zip(COLUMNS, row, strict=True))) + "\n" for row in rows)
            else:
                self._csv.writerows(rows)
        except OSError as exc:
            self._fail(exc)
            return
        self.rows += len(rows)

    def _fail(self, exc: OSError) -> None:
        """Stop writing: the rows before are on disk, the rest of the run goes on without the log."""
        self.error = (
            f"the request log {self.path} stopped: {exc.strerror or exc}; it holds at most the first {self.rows:,} rows"
        )
        file, self._file = self._file, None
        try:
            if file is not None:
                file.close()
        except OSError:
            pass  # the buffer that could not be flushed is dropped with the file


def open_request_log(
    path: str | None, worker: int, workers: int, started_at: float, warmup_until: float, ids: RequestIds
) -> RequestLog | None:
    """The RequestLog of generator `worker` of `workers`, or None when no request log was asked for."""
    if path is None:
        return None
    if workers > 1:
        return RequestLog(part_path(path, worker), worker, started_at, warmup_until, header=False, ids=ids)
    return RequestLog(Path(path), worker, started_at, warmup_until, header=True, ids=ids)


def join_parts(path: str | Path, workers: int) -> str | None:
    """Join the part files of `workers` generator processes into `path` (the CSV header once), removing
    the parts; a missing part (a process that never started) is skipped.

    Returns:
        None, or why the join failed (a full disk): what was joined stays, and the parts not yet joined
        are left beside it.
    """
    return join_files(path, [part_path(path, worker) for worker in range(workers)], headed=False)


def join_files(path: str | Path, parts: Iterable[Path], *, headed: bool) -> str | None:
    """Join request logs `parts` into `path` (the CSV header once), removing each part once copied; a
    missing part is skipped. `headed`: each CSV part begins with its own header line (a node's whole log),
    which is left out.

    Returns:
        None, or why the join failed (a full disk): what was joined stays, the rest is left beside it.
    """
    path = Path(path)
    try:
        with path.open("w", newline="") as out:
            if not is_jsonl(path):
                csv.writer(out, lineterminator="\n").writerow(COLUMNS)
            for part in parts:
                if part.exists():
                    with part.open(newline="") as source:
                        if headed and not is_jsonl(path):
                            source.readline()
                        shutil.copyfileobj(source, out, BUFFER_BYTES)
                    part.unlink()
    except OSError as exc:
        return f"the request log {path} could not be joined from its parts: {exc.strerror or exc}"
    return None
