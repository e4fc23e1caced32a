"""Who this node is among a run's nodes, from the environment the job (or --local-nodes) gives it, the run's
barrier token, and the error a failed node comes to."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from moetui.errors import ConfigError, ExitStatus, MoetuiError

#: The variable that holds the run's barrier token: the same random value for every node of one run, set by
#: the launcher (--local-nodes' processes, an Azure job's environment). Node 0 lets into the barrier only a
#: connection that sends it: any local process could connect and send a rank before.
TOKEN_ENV = "MOETUI_NODES_TOKEN"
#: Set by --local-nodes in each node's environment: the node then dies with moetui (moetui.lifeline).
PARENT_PID_ENV = "MOETUI_NODE_PARENT_PID"


class NodeError(MoetuiError):
    """A node failed (its own error, or it never reached the barrier): the whole run fails."""

    title = "Node failed"
    exit_status = ExitStatus.UNREACHABLE


def new_token() -> str:
    """A fresh barrier token for one run over several nodes."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class NodeEnv:
    """Who this node is among the job's nodes, from the environment the job gives its processes."""

    rank: int
    world_size: int
    master_addr: str
    master_port: int
    token: str = ""
    """The run's barrier token (TOKEN_ENV); "" for one node, which has no barrier."""


def node_env(environ: Mapping[str, str]) -> NodeEnv:
    """RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (PyTorchDistribution); OMPI_COMM_WORLD_RANK/_SIZE stand
    in for the first two (MPI). One node needs no master: it has nobody to wait for.

    Raises:
        ConfigError: A variable is missing or not a number (the message names it).
    """

    def number(*names: str, default: int | None = None) -> int:
        for name in names:
            if name in environ:
                try:
                    return int(environ[name])
                except ValueError:
                    raise ConfigError(f"{name}={environ[name]!r} is not a whole number") from None
        if default is None:
            raise ConfigError(f"a node needs {' or '.join(names)} in its environment (set by the job)")
        return default

    rank = number("RANK", "OMPI_COMM_WORLD_RANK", default=0)
    world_size = number("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", default=1)
    if not 0 <= rank < world_size:
        raise ConfigError(f"RANK {rank} is not below WORLD_SIZE {world_size}")
    if world_size == 1:
        return NodeEnv(0, 1, environ.get("MASTER_ADDR", "127.0.0.1"), int(environ.get("MASTER_PORT", "0") or 0))
    if not environ.get("MASTER_ADDR"):
        raise ConfigError("a node of several needs MASTER_ADDR in its environment (set by the job)")
    if len(environ.get(TOKEN_ENV, "")) < 16:
        raise ConfigError(f"a node of several needs {TOKEN_ENV} in its environment (set by moetui for the run)")
    return NodeEnv(rank, world_size, environ["MASTER_ADDR"], number("MASTER_PORT"), environ[TOKEN_ENV])


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (node 0 binds it a moment later; a race a test machine tolerates)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
