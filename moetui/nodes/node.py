"""One node's part in a run over several: its share after the barrier, its report (or its error) in the
output folder for the launcher to merge, and the shared target a launcher may hand every node. A node runs
as `--run` does: moetui.headless.run_node, above this package, hands run_config a NodeRun."""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moetui.config.load import ConfigLayer
from moetui.config.schema import Config
from moetui.engine.plan import LoadPlan
from moetui.errors import ConfigError
from moetui.nodes.barrier import barrier
from moetui.nodes.env import NodeEnv
from moetui.nodes.share import node_share, share_block
from moetui.paths import write_atomic
from moetui.report.codec import write_report
from moetui.report.model import NodeInfo, Report

#: A node's report in the output folder, and what a node that failed leaves instead.
REPORT_NAME = "node-{rank}.json"
ERROR_NAME = "node-{rank}.error"
#: A node's request log, when [output] requests asks for one (the suffix keeps its format: .csv, .jsonl).
REQUESTS_NAME = "node-{rank}.requests{suffix}"
#: Set by a launcher that started the endpoint itself (--local-nodes with [target.local]): the [target.url]
#: table every node loads instead of the configuration's target, as JSON without a secret, and the variable
#: that holds the endpoint's key (read as target.url.key_env reads any key: never in a file or argv).
SHARED_TARGET_ENV = "MOETUI_NODE_TARGET"
SHARED_KEY_ENV = "MOETUI_NODE_KEY"


@dataclass
class NodeRun:
    """This process's part in a run over several nodes: its share, the barrier, its report's place."""

    env: NodeEnv
    output_dir: Path
    share: dict[str, Any] | None = None
    waited_s: float | None = None

    def own_outputs(self, config: Config) -> Config:
        """The configuration with [output] pointed into the node output folder: the launcher writes the
        report, html, hgrm and junit once from the merged run, and joins the nodes' request logs (all nodes
        writing the configuration's paths would leave one node's share in each)."""
        requests = config.output.requests
        if requests:
            name = REQUESTS_NAME.format(rank=self.env.rank, suffix=Path(requests).suffix)
            requests = str((self.output_dir / name).resolve())
        output = dataclasses.replace(config.output, report=None, html=None, hgrm=None, junit=None, requests=requests)
        return dataclasses.replace(config, output=output)

    def shape_plan(self, plan: LoadPlan) -> LoadPlan:
        part = node_share(plan, self.env.rank, self.env.world_size)
        self.share = share_block(part)
        return part

    async def before_load(self) -> None:
        self.waited_s = await barrier(self.env)

    def block(self) -> NodeInfo:
        return {
            "rank": self.env.rank,
            "of": self.env.world_size,
            "host": socket.gethostname(),
            "share": self.share,
            "barrier_waited_s": None if self.waited_s is None else round(self.waited_s, 3),
        }

    @property
    def report_path(self) -> Path:
        return self.output_dir / REPORT_NAME.format(rank=self.env.rank)

    def write_report(self, report: Report) -> None:
        write_report({**report, "node": self.block()}, self.report_path)

    def write_error(self, message: str) -> None:
        """What the launcher names when this node fails (a MoetuiError's message: never a secret)."""
        write_atomic(self.output_dir / ERROR_NAME.format(rank=self.env.rank), message + "\n")


def shared_target_environ(
    url: str, key: str, *, capacity: int | None, deployment: str | None, timeout_s: float
) -> dict[str, str]:
    """The variables that point a node at an endpoint its launcher started: the URL, capacity, deployment
    header and request timeout the one-process run would use, and the key in a variable of its own."""
    table: dict[str, Any] = {"url": url, "key_env": SHARED_KEY_ENV}
    if capacity is not None:
        table["max_concurrency"] = capacity
    if deployment:
        table["deployment"] = deployment
    return {SHARED_TARGET_ENV: json.dumps({"url": table, "timeout_s": timeout_s}), SHARED_KEY_ENV: key}


def shared_target_layer(environ: Mapping[str, str]) -> ConfigLayer | None:
    """The launcher's endpoint as a configuration layer ([target.url] in place of the file's target, and
    load.timeout), or None when the launcher started none."""
    if SHARED_TARGET_ENV not in environ:
        return None
    try:
        given = json.loads(environ[SHARED_TARGET_ENV])
        data = {"target": {"url": dict(given["url"])}, "load": {"timeout": float(given["timeout_s"])}}
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{SHARED_TARGET_ENV} is not the launcher's JSON (set by --local-nodes)") from None
    origin = f"the launcher's local endpoint ({SHARED_TARGET_ENV})"
    return ConfigLayer(data, {"target.url": origin, "load.timeout": origin}, origin)
