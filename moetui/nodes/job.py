"""A run as an Azure ML command job next to the endpoint, on N nodes: built, submitted, polled, its node
reports downloaded, merged and judged. Both faces run it: `moetui --run CONFIG --on-azure`
(moetui.commands.on_azure prints its lines and the summary) and the run setup's "Run on Azure" (the TUI
shows them on a screen of its own). Nothing here prints: progress goes through callbacks.

What the job is made of:
- code: a snapshot of the moetui package this runs from, with pyproject.toml, the configuration as the nodes
  run it and every file it names, copied into run/files/ and pointed at there (checked to load before
  anything is created). The source rather than a built wheel: no build step, and azure-ai-ml uploads a code
  folder once per content hash.
- environment: `moetui-<hash>`, moetui's dependencies (pyproject.toml's, pinned by constraints.txt) on an
  Azure ML base image, looked up before it is created: built once, reused while the dependencies do not
  change. The command runs `python -m moetui` from the code folder, so a source change needs no new image.
- command: `python -m moetui --run CONFIG --node-output ${{outputs.report}}`; with N > 1 nodes,
  PyTorchDistribution(process_count_per_instance=1) over instance_count N gives RANK, WORLD_SIZE,
  MASTER_ADDR, MASTER_PORT (moetui.nodes.env). Each node resolves [target.azure] itself as the cluster's
  managed identity (its client id from DEFAULT_IDENTITY_CLIENT_ID, moetui.azure.clients), so no key is in the
  job's definition, environment or outputs.
- compute: the named cluster, or moetui-nodes, created when missing: Standard_DS4_v2, min nodes 0 (no
  cost while idle), max nodes N or more, a system-assigned identity; its identity's role settled before
  the job is submitted (moetui.nodes.role).

The state is polled with jobs.get every few seconds (the nodes' own progress lines are not streamed: their
logs are in the job's outputs and shown when it fails). Paused ends it; Queued past [job] queued_limit is
said with the VM family's quota (and cancelled with cancel_queued). The merged report gets Azure Monitor's
block over the merged window. A `stop` event set, or the task cancelled, cancels
the job (jobs.begin_cancel). The Azure SDK is imported inside the functions (azure.ai.ml takes ~2 s) and
every blocking SDK call runs in a thread, so the app's event loop can run this directly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from moetui.azure.clients import AzureClients, current_clients
from moetui.azure.errors import NODE_ROLE, explain, first_line
from moetui.azure.quota import family_row, usage_rows
from moetui.config.dump import dump_config
from moetui.config.profiler_env import VARIABLES
from moetui.config.schema import Config, JobConfig
from moetui.errors import ConfigError
from moetui.nodes.env import TOKEN_ENV, NodeError, new_token
from moetui.nodes.merge import judging_config, merged_node_report
from moetui.nodes.role import role_command, settle_identity
from moetui.report.model import Report, ServerMetrics

#: The cluster used when --compute names none, and how it is made when it is missing.
DEFAULT_COMPUTE = "moetui-nodes"
DEFAULT_VM_SIZE = "Standard_DS4_v2"
#: An idle cluster scales down to min nodes (0: nothing billed) after this long.
IDLE_BEFORE_SCALE_DOWN_S = 600
#: The base image of the environment (Azure ML's curated Ubuntu image with conda).
BASE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"
#: The role the cluster's identity needs to read the endpoint's key (listKeys) or token.
ROLE = NODE_ROLE
#: How often the job's state is read.
POLL_S = 5.0
#: Terminal states of an Azure ML job (azure-ai-ml's JobStatus counts Paused among them: it does not resume).
DONE_STATES = ("Completed", "Failed", "Canceled", "NotResponding", "Paused")
#: States of a job whose nodes have not started (the service answers a new job Starting: recorded).
WAITING_STATES = ("NotStarted", "Starting", "Provisioning", "Preparing", "Queued")
#: How long a job may stay Queued before moetui says why ([job] queued_limit): the cluster's scale-up from 0
#: nodes (allocation and the image pull take a few minutes) plus a margin.
QUEUED_LIMIT_S = 900.0
#: Variables that carry a secret and never go into a job's definition.
SECRET_VARIABLES = ("SCORING_HEADERS", "IDENTITY_ACCESS_TOKEN")
#: Lines of the job's log shown when it fails.
LOG_TAIL_LINES = 30
_PACKAGE = Path(__file__).resolve().parents[1]
_ROOT = _PACKAGE.parent

Download = Callable[[Any, str, Path], None]
"""Fetch a job's `report` output into a folder (the default: jobs.download; tests hand another)."""
Logs = Callable[[Any, str], str]
"""A finished job's log text (the default: jobs.download(all=True), std_log files read)."""


@dataclass(frozen=True)
class JobWorkspace:
    subscription_id: str
    resource_group: str
    workspace: str

    @property
    def arm_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )


def job_workspace(config: Config, workspace: str | None, source: str) -> JobWorkspace:
    """The workspace the job runs in: --workspace SUB/RG/WS, else [target.azure]'s.

    Raises:
        ConfigError: A [target.url] target without --workspace, or a malformed --workspace.
    """
    if workspace:
        parts = workspace.strip("/").split("/")
        if len(parts) != 3 or not all(parts):
            raise ConfigError(f"--workspace {workspace!r}: give SUBSCRIPTION/RESOURCE_GROUP/WORKSPACE")
        return JobWorkspace(*parts)
    azure = config.target.azure
    if azure is None:
        raise ConfigError(
            f"{source}: --on-azure runs the job in an Azure ML workspace: give --workspace SUB/RG/WS for a "
            "[target.url] target, or use [target.azure]"
        )
    return JobWorkspace(azure.subscription_id, azure.resource_group, azure.workspace)


def refuse_secrets(config: Config, environ: Mapping[str, str] | None, source: str) -> None:
    """A key a node would need from here cannot travel: a job's definition, environment variables and code
    are stored in the workspace. Only [target.azure] (read through the cluster's identity) or a target
    without a key can run on Azure.

    Raises:
        ConfigError: Naming the setting that holds a secret.
    """
    if environ is not None and config.target.azure is None:
        for name in SECRET_VARIABLES:
            if environ.get(name):
                raise ConfigError(
                    f"--profiler-env: {name} holds a secret, and a job's environment variables are stored in its "
                    "definition: set ONLINE_ENDPOINT (with SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE) instead, so "
                    "each node reads the key through the cluster's managed identity"
                )
    url = config.target.url
    if url is not None:
        held = [
            name
            for name, value in (
                ("key_env", url.key_env),
                ("key_file", url.key_file),
                ("header_env", url.header_env),
                ("header_file", url.header_file),
                ("query_env", url.query_env),
                ("query_file", url.query_file),
            )
            if value
        ]
        if held:
            raise ConfigError(
                f"{source}: target.url.{held[0]} names a secret that lives on this machine; an Azure ML job's "
                "definition, environment and code are stored in the workspace, so moetui does not send it. Use "
                "[target.azure] (each node reads the key through the cluster's managed identity)"
            )


def job_variables(environ: Mapping[str, str] | None) -> dict[str, str]:
    """--profiler-env: the profiler's variables for the job's environment, without the secret ones."""
    if environ is None:
        return {}
    return {name: environ[name] for name in VARIABLES if name in environ and name not in SECRET_VARIABLES}


def dependencies_hash() -> tuple[str, list[str]]:
    """moetui's pinned dependencies (pyproject.toml's, versions from constraints.txt), and their hash."""
    import tomllib

    project = tomllib.loads((_ROOT / "pyproject.toml").read_text())["project"]
    wanted = [str(dep) for dep in project.get("dependencies", [])]
    constraints_path = _ROOT / "constraints.txt"
    pins: dict[str, str] = {}
    if constraints_path.is_file():
        for line in constraints_path.read_text().splitlines():
            line = line.split("#")[0].strip()
            if "==" in line:
                pins[_name(line)] = line
    deps = sorted(pins.get(_name(dep), dep) for dep in wanted)
    digest = hashlib.sha256("\n".join([BASE_IMAGE, *deps]).encode()).hexdigest()[:12]
    return digest, deps


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


#: Where the job's code folder keeps the configuration and every file it names.
RUN_DIR = "run"


def code_folder(
    config_path: Path | None, config: Config, into: Path, profiler_env: Mapping[str, str] | None = None
) -> str:
    """Copy the moetui package and pyproject.toml into `into`, and the configuration as the nodes run it
    (overrides applied) with every file it names copied beside it and pointed at there; check that the copy
    loads, from any directory, as a node will load it. Return the configuration's path inside `into`.

    Raises:
        ConfigError: A named file cannot be read, or the copied configuration does not load (before anything
            is sent).
    """
    shutil.copytree(_PACKAGE, into / "moetui", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), symlinks=False)
    shutil.copy(_ROOT / "pyproject.toml", into / "pyproject.toml")
    base_dir = config_path.resolve().parent if config_path is not None else Path.cwd()
    run = into / RUN_DIR
    run.mkdir()
    copied = _copy_named_files(config, base_dir, run)
    name = config_path.name if config_path is not None else "moetui-run.toml"
    dump_config(copied, run / name)
    _check_copy(run / name, profiler_env)
    return f"{RUN_DIR}/{name}"


def _copy_named_files(config: Config, base_dir: Path, run: Path) -> Config:
    """`config` with load.payload_file and workload.prompts_file copied into `run/files/` (relative to the
    configuration's directory as a run reads them; ~/ and absolute paths too) and rewritten to the copies."""
    files = run / "files"

    def copy(value: str, key: str, index: int) -> str:
        source = (base_dir / Path(value).expanduser()).resolve()
        if not source.is_file():
            raise ConfigError(f"{key}: {source} is not a file (the job carries every file its configuration names)")
        files.mkdir(exist_ok=True)
        destination = files / f"{index}-{source.name}"  # numbered: two files of one name stay apart
        shutil.copy(source, destination)
        return f"files/{destination.name}"

    load, workload = config.load, config.workload
    if load.payload_file:
        load = dataclasses.replace(load, payload_file=copy(load.payload_file, "load.payload_file", 1))
    if workload is not None and workload.prompts_file:
        workload = dataclasses.replace(workload, prompts_file=copy(workload.prompts_file, "workload.prompts_file", 2))
    return dataclasses.replace(config, load=load, workload=workload)


def _check_copy(path: Path, profiler_env: Mapping[str, str] | None) -> None:
    """The copied configuration loaded as a node loads it, its bodies read (what a node reads before its load).

    Raises:
        ConfigError: Naming the copy and what failed.
    """
    from moetui.engine.workload import file_prompts
    from moetui.session.compose import read_payloads

    try:
        config = judging_config(path, (), profiler_env)
        read_payloads(config.load.payload, config.load.payload_file, path.parent)
        if config.workload is not None and config.workload.prompts_file:
            file_prompts(config.workload, path.parent)
    except ConfigError as exc:
        raise ConfigError(f"the job's copy of the configuration would fail on the nodes: {exc.message}") from None


def job_command(config_in_code: str, profiler_env: bool) -> str:
    """The command each node runs, from the code folder (the overrides are in the copied configuration)."""
    import shlex

    parts = ["python", "-m", "moetui", "--run", config_in_code]
    parts += ["--profiler-env"] if profiler_env else []
    return " ".join(shlex.quote(part) for part in parts) + " --node-output ${{outputs.report}}"


def role_advice(principal_id: str | None, workspace: JobWorkspace) -> str:
    principal = principal_id or "<the cluster's principalId>"
    return (
        f"the cluster's managed identity ({principal}) needs the role {ROLE!r} on the workspace "
        f"{workspace.arm_id} to read the endpoint's key: {role_command(principal_id, workspace.arm_id)}"
    )


def ensure_compute(ml: Any, name: str, nodes: int, say: Callable[[str], None]) -> tuple[Any, bool]:
    """The named cluster, and whether it was created now: when missing (DEFAULT_VM_SIZE, min 0, max `nodes`
    or more, a system-assigned identity). Blocking: call in a thread.

    Raises:
        DeploymentError: Azure refused (the message says what was being done).
    """
    from azure.ai.ml.entities import AmlCompute, IdentityConfiguration
    from azure.core.exceptions import ResourceNotFoundError

    try:
        compute = ml.compute.get(name)
    except ResourceNotFoundError:
        compute = None
    except Exception as exc:
        raise explain(exc, f"reading the compute {name}") from None
    if compute is not None:
        if getattr(compute, "max_instances", None) is not None and compute.max_instances < nodes:
            raise ConfigError(
                f"--compute {name}: the cluster scales to {compute.max_instances} nodes, fewer than --nodes {nodes}"
            )
        return compute, False
    say(f"moetui: creating the compute cluster {name} ({DEFAULT_VM_SIZE}, 0 to {max(nodes, 1)} nodes, idle: 0 nodes)")
    cluster = AmlCompute(
        name=name,
        size=DEFAULT_VM_SIZE,
        min_instances=0,
        max_instances=max(nodes, 1),
        idle_time_before_scale_down=IDLE_BEFORE_SCALE_DOWN_S,
        identity=IdentityConfiguration(type="system_assigned"),
    )
    try:
        return ml.compute.begin_create_or_update(cluster).result(), True
    except Exception as exc:
        raise explain(exc, f"creating the compute {name}") from None


def ensure_environment(ml: Any, say: Callable[[str], None]) -> Any:
    """`moetui-<hash>` version 1: looked up, created only when missing. Blocking."""
    from azure.ai.ml.entities import Environment
    from azure.core.exceptions import ResourceNotFoundError

    digest, deps = dependencies_hash()
    name = f"moetui-{digest}"
    try:
        return ml.environments.get(name, version="1")
    except ResourceNotFoundError:
        pass
    except Exception as exc:
        raise explain(exc, f"reading the environment {name}") from None
    say(f"moetui: creating the environment {name} (moetui's dependencies; built once, then reused)")
    conda = {
        "name": "moetui",
        "channels": ["conda-forge"],
        "dependencies": [f"python={sys.version_info.major}.{sys.version_info.minor}", "pip", {"pip": deps}],
    }
    environment = Environment(name=name, version="1", image=BASE_IMAGE, conda_file=conda)
    try:
        return ml.environments.create_or_update(environment)
    except Exception as exc:
        raise explain(exc, f"creating the environment {name}") from None


def default_download(ml: Any, job_name: str, into: Path) -> None:
    """The job's `report` output, through azure-ai-ml: files land in into/named-outputs/report/."""
    ml.jobs.download(job_name, download_path=str(into), output_name="report")


def default_logs(ml: Any, job_name: str) -> str:
    """The job's logs (std_log*.txt of every node), through azure-ai-ml's download of all its files."""
    with tempfile.TemporaryDirectory(prefix="moetui-job-logs-") as folder:
        ml.jobs.download(job_name, download_path=folder, all=True)
        texts = [path.read_text(errors="replace") for path in sorted(Path(folder).rglob("std_log*.txt"))]
    return "\n".join(texts)


@dataclass(frozen=True)
class JobSeams:
    """What a front end hands run_job besides the run (the app keeps one; tests hand canned seams)."""

    poll_s: float = POLL_S
    download: Download = default_download
    logs: Logs = default_logs


Say = Callable[[str], None]
"""A progress line (may be called from a worker thread: the compute and environment steps run in threads)."""


@dataclass(frozen=True)
class JobPoll:
    """One reading of the job's state, handed to `polled` after every jobs.get."""

    name: str
    state: str
    elapsed_s: float
    """Seconds since the job was submitted."""


@dataclass(frozen=True)
class JobEnd:
    """How a job ended: its merged, judged report, or nothing when it was cancelled."""

    name: str
    state: str
    config: Config
    """The configuration the nodes ran, as the report was judged with."""
    merged: Report | None
    """The merged report (no secrets); None: cancelled."""
    nodes_dir: Path | None
    """Where the node reports were copied (None: cancelled)."""


def _quiet(_line: str) -> None:
    pass


async def run_job(
    path: Path | None,
    nodes: int,
    *,
    nodes_dir: Path,
    overrides: Sequence[str] = (),
    profiler_env: Mapping[str, str] | None = None,
    compute: str | None = None,
    workspace: str | None = None,
    clients: AzureClients | None = None,
    poll_s: float = POLL_S,
    download: Download = default_download,
    logs: Logs = default_logs,
    say: Say = _quiet,
    polled: Callable[[JobPoll], None] | None = None,
    stop: asyncio.Event | None = None,
) -> JobEnd:
    """Submit the run as an Azure ML command job, follow it, and merge and judge its node reports.

    Args:
        nodes_dir: Where the node reports are copied (made when missing).
        download: Fetches the job's `report` output folder (a seam: tests hand one that copies node reports
            made by real local nodes, since canning azure-ai-ml's datastore download is out of reach).
        logs: A failed job's log text (the same seam).
        say: Progress lines (the steps, each change of state with the elapsed time).
        polled: Every reading of the job's state (the TUI's ticking clock).
        stop: Set to cancel the job (the CLI sets it on Ctrl-C); cancelling the task cancels the job too.

    Returns:
        The job's end: Completed with the merged report, or Canceled with none.

    Raises:
        MoetuiError: Bad input (before anything is sent), an Azure refusal, or a node that failed.
    """
    source = str(path) if path is not None else "--profiler-env"
    config = judging_config(path, overrides, profiler_env)
    if config.target.local is not None:
        # Each node would start an endpoint of its own (its deployment file's code is not in the job), and
        # a merge of several endpoints measures none of them.
        raise ConfigError(
            f"{source}: [target.local] starts an endpoint on this machine, which an Azure ML job's nodes cannot "
            "load: run it here with --local-nodes N, or deploy it (moetui --run CONFIG --deploy) and give the "
            "job its [target.azure]"
        )
    place = job_workspace(config, workspace, source)
    refuse_secrets(config, profiler_env, source)
    clients = clients or current_clients()
    cluster = compute or DEFAULT_COMPUTE

    def connect() -> tuple[Any, Any]:
        credential = clients.default_credential()
        return credential, clients.ml_client(credential, place.subscription_id, place.resource_group, place.workspace)

    with tempfile.TemporaryDirectory(prefix="moetui-job-code-") as folder:
        # The code first: a file the configuration names that a node could not read stops here, before
        # anything is created or sent.
        config_in_code = await asyncio.to_thread(code_folder, path, config, Path(folder), profiler_env)
        credential, ml = await asyncio.to_thread(connect)  # imports azure.ai.ml (~2 s): not on the event loop
        found, principal = await _prepare(ml, config, clients, credential, place, cluster, nodes, say)
        environment = await asyncio.to_thread(ensure_environment, ml, say)
        job = await asyncio.to_thread(
            _build_job, config_in_code, config, Path(folder), profiler_env, environment, cluster, nodes
        )
        submitted = await _submit(ml, job, say)
    name = submitted.name
    say(
        f"moetui: job {name} submitted to {cluster} in {place.workspace}"
        + (f": {submitted.studio_url}" if getattr(submitted, "studio_url", None) else "")
    )
    job_settings = config.job or JobConfig()
    queue = QueueWatch(
        ml,
        job_settings.queued_limit_s or QUEUED_LIMIT_S,
        job_settings.cancel_queued,
        getattr(found, "size", None),
        nodes,
    )
    state = await _follow(ml, name, say, polled, poll_s, stop or asyncio.Event(), queue)
    if state == "Canceled":
        say(f"moetui: job {name} cancelled; nothing to report.")
        return JobEnd(name, state, config, None, None)
    with tempfile.TemporaryDirectory(prefix="moetui-job-outputs-") as folder:
        try:
            await asyncio.to_thread(download, ml, name, Path(folder))
        except Exception as exc:
            if state == "Completed":
                raise explain(exc, f"downloading the outputs of job {name}") from None
        output_dir = _report_folder(Path(folder))
        if state != "Completed":
            raise NodeError(await _failure(ml, name, state, output_dir, nodes, logs, principal, place))
        await asyncio.to_thread(shutil.copytree, output_dir, nodes_dir, dirs_exist_ok=True)
    merged = await asyncio.to_thread(merged_node_report, config, nodes_dir, nodes)
    await _monitor_block(merged, config, credential, clients, say)
    return JobEnd(name, state, config, merged, nodes_dir)


async def _prepare(
    ml: Any,
    config: Config,
    clients: AzureClients,
    credential: Any,
    place: JobWorkspace,
    cluster: str,
    nodes: int,
    say: Say,
) -> tuple[Any, str | None]:
    """The cluster (created when missing) with its identity's role settled, the regions compared; returns the
    cluster and its identity's principal id."""
    found, created = await asyncio.to_thread(ensure_compute, ml, cluster, nodes, say)
    principal = getattr(getattr(found, "identity", None), "principal_id", None)
    if config.target.azure is not None:  # the nodes read the endpoint's key through the cluster's identity
        await asyncio.to_thread(
            settle_identity,
            found,
            created=created,
            authorization=lambda: clients.authorization_client(credential, place.subscription_id),
            subscription_id=place.subscription_id,
            scope=place.arm_id,
            say=say,
        )
    await asyncio.to_thread(_say_regions, ml, config, found, say)
    return found, principal


async def _monitor_block(merged: Report, config: Config, credential: Any, clients: AzureClients, say: Say) -> None:
    """Azure Monitor's block over the merged run's window: the nodes each read their own window, which the
    merge cannot add up, and the launcher knows the whole window and the target."""
    from datetime import datetime, timedelta

    from moetui.azure.metrics import fetch_metrics

    azure = config.target.azure
    if azure is None:
        return
    start = datetime.fromisoformat(merged["started_at"])
    end = start + timedelta(seconds=merged["wall_s"])
    target = merged.get("target")
    deployment = azure.deployment or (target["deployment"] if target else None)
    say("moetui: reading Azure Monitor's metrics over the merged run's window")
    block = await asyncio.to_thread(
        fetch_metrics,
        credential,
        azure.subscription_id,
        azure.resource_group,
        azure.workspace,
        azure.endpoint,
        deployment,
        start,
        end,
        transport=clients.transport,
    )
    merged["server_metrics"] = cast(ServerMetrics, block)
    merged["notes"] = [note for note in merged.get("notes", []) if not note.startswith("server_metrics:")]


def _build_job(
    config_in_code: str,
    config: Config,
    folder: Path,
    profiler_env: Mapping[str, str] | None,
    environment: Any,
    cluster: str,
    nodes: int,
) -> Any:
    """The command job, its code the folder code_folder filled. Blocking: azure-ai-ml's import."""
    from azure.ai.ml import Output, PyTorchDistribution, command

    return command(
        code=str(folder),
        command=job_command(config_in_code, profiler_env is not None),
        environment=f"{environment.name}:{environment.version}",
        compute=cluster,
        instance_count=nodes,
        distribution=PyTorchDistribution(process_count_per_instance=1) if nodes > 1 else None,
        outputs={"report": Output(type="uri_folder")},
        # The nodes' barrier token: one random value per run, in every node's environment (moetui.nodes.barrier).
        environment_variables={**job_variables(profiler_env), **({TOKEN_ENV: new_token()} if nodes > 1 else {})},
        experiment_name="moetui",
        display_name=f"moetui {config.load.mode} x{nodes}",
    )


async def _submit(ml: Any, job: Any, say: Say) -> Any:
    """jobs.create_or_update in a thread; cancelled meanwhile, the job is cancelled once it exists (a thread
    cannot be stopped, so the submission is waited for rather than left to create a job nobody follows)."""
    submitting = asyncio.ensure_future(asyncio.to_thread(ml.jobs.create_or_update, job))
    try:
        return await asyncio.shield(submitting)
    except asyncio.CancelledError:
        try:
            submitted = await submitting
            say(f"moetui: cancelling job {submitted.name}")
            await asyncio.to_thread(ml.jobs.begin_cancel, submitted.name)
        except Exception:
            pass  # nothing was submitted, or the cancel failed: the task is cancelled either way
        raise
    except Exception as exc:
        raise explain(exc, "submitting the job") from None


def _report_folder(folder: Path) -> Path:
    """Where jobs.download put the `report` output (named-outputs/report), else the folder itself."""
    named = folder / "named-outputs" / "report"
    return named if named.is_dir() else folder


def _say_regions(ml: Any, config: Config, compute: Any, say: Say) -> None:
    """Say when the cluster runs in another region than the endpoint: the latency then includes the trip.
    Blocking."""
    azure = config.target.azure
    compute_region = getattr(compute, "location", None)
    if azure is None or not compute_region:
        return
    try:
        endpoint_region = ml.online_endpoints.get(azure.endpoint).location
    except Exception:
        return  # the nodes will say what is wrong with the endpoint
    if endpoint_region and endpoint_region.replace(" ", "").lower() != compute_region.replace(" ", "").lower():
        say(
            f"moetui: note: the cluster is in {compute_region} and the endpoint in {endpoint_region}: the latencies "
            "include the trip between the regions"
        )


class JobQueuedError(NodeError):
    """The job stayed Queued beyond [job] queued_limit and was cancelled (cancel_queued)."""

    title = "Job never started"


@dataclass
class QueueWatch:
    """The bound on Queued, and why Azure holds the job there (read once, when the bound is passed)."""

    ml: Any
    limit_s: float
    cancel: bool
    vm_size: str | None
    nodes: int
    said: bool = False
    _reason: str | None = None

    async def reason(self) -> str:
        if self._reason is None:
            self._reason = await asyncio.to_thread(queue_reason, self.ml, self.vm_size, self.nodes)
        return self._reason


def queue_reason(ml: Any, vm_size: str | None, nodes: int) -> str:
    """Why a job waits, as Azure's quota says it: the cores the nodes need in the VM family against the
    region's quota for that family (ml.compute.list_sizes, ml.compute.list_usage). Sizes compared without
    regard to case: Azure answers a cluster made `Standard_DS4_v2` with `STANDARD_DS4_V2` (recorded).
    Blocking; never raises."""
    try:
        size = next(
            (s for s in ml.compute.list_sizes() if vm_size and str(_sdk(s, "name", "name")).lower() == vm_size.lower()),
            None,
        )
        family, cores = (_sdk(size, "family", "family"), _sdk(size, "v_cp_us", "vCPUs")) if size else (None, None)
        if not family or not cores:
            return f"Azure gives no quota for {vm_size or 'the cluster'}'s VM family; see the job in the studio"
        needed = int(cores) * nodes
        vm_size = str(_sdk(size, "name", "name"))  # as the size list spells it
        usage = family_row(usage_rows(ml), str(family))
        if usage is None:
            return f"{nodes} x {vm_size} need {needed} cores of {family}; Azure reports no quota for that family"
        used, limit = usage.current, usage.limit
        free = max(limit - used, 0)
        verdict = "short" if free < needed else "enough, so Azure is still allocating the nodes"
        return (
            f"{nodes} x {vm_size} need {needed} cores of {family}; the quota is {limit}, {used} in use, "
            f"{free} available ({verdict})"
        )
    except Exception as exc:
        return f"the quota could not be read ({first_line(exc)})"


def _sdk(entity: Any, attribute: str, wire: str) -> Any:
    """A field of an azure-ai-ml entity or of a dict. azure-ai-ml 1.35's VmSize and Usage copy the REST model's
    as_dict(), which keeps the wire names ("vCPUs", "currentValue", a dict for `name`) instead of the declared
    attributes (v_cp_us, current_value): read both."""
    if isinstance(entity, dict):
        return entity.get(wire, entity.get(attribute))
    value = getattr(entity, attribute, None)
    return value if value is not None else vars(entity).get(wire) if hasattr(entity, "__dict__") else None


async def _cancel(ml: Any, name: str, say: Say) -> None:
    say(f"\nmoetui: cancelling job {name}")
    try:
        await asyncio.to_thread(ml.jobs.begin_cancel, name)
    except Exception as exc:
        raise explain(exc, f"cancelling job {name}") from None


async def _follow(
    ml: Any,
    name: str,
    say: Say,
    polled: Callable[[JobPoll], None] | None,
    poll_s: float,
    stop: asyncio.Event,
    queue: QueueWatch,
) -> str:
    """Poll the job's state until it ends, saying each change with the elapsed time; `stop` set, or this task
    cancelled, cancels the job (jobs.begin_cancel)."""
    started = time.monotonic()
    last = None
    try:
        while True:
            if stop.is_set():
                await _cancel(ml, name, say)
                return "Canceled"
            try:
                job = await asyncio.to_thread(ml.jobs.get, name)
            except Exception as exc:
                raise explain(exc, f"reading the state of job {name}") from None
            state = str(getattr(job.status, "value", job.status))  # a JobStatus enum or a str
            elapsed_s = time.monotonic() - started
            if state != last:
                say(f"job {name}: {state} at {elapsed_s:6.1f}s")
                last = state
            if polled is not None:
                polled(JobPoll(name, state, elapsed_s))
            if state in DONE_STATES:
                return state
            if state in WAITING_STATES and elapsed_s > queue.limit_s and not queue.said:
                queue.said = True
                say(f"moetui: job {name} is still {state} after {elapsed_s:.0f} s: {await queue.reason()}")
                if queue.cancel:
                    await _cancel(ml, name, say)
                    raise JobQueuedError(f"job {name} stayed {state} beyond [job] queued_limit: {await queue.reason()}")
                say("moetui: it goes on waiting; Ctrl-C (Escape in the app) cancels it")
            try:
                await asyncio.wait_for(stop.wait(), poll_s)
            except TimeoutError:
                pass
    except asyncio.CancelledError:
        try:
            await _cancel(ml, name, say)
        except Exception as exc:
            say(f"moetui: {first_line(exc)}")
        raise


async def _failure(
    ml: Any, name: str, state: str, output_dir: Path, nodes: int, logs: Logs, principal: str | None, place: JobWorkspace
) -> str:
    """What a failed job comes to: the nodes' own errors when they left them, the tail of its logs, and the
    role command when the identity was refused."""
    lines = [f"job {name} ended {state}"]
    errors = sorted(output_dir.glob("node-*.error"))
    lines += [f"{path.stem}: {path.read_text().strip()}" for path in errors]
    try:
        text = await asyncio.to_thread(logs, ml, name)
    except Exception as exc:
        text = f"(its logs could not be read: {first_line(exc)})"
    tail = "\n".join(text.splitlines()[-LOG_TAIL_LINES:])
    if tail:
        lines.append(f"the end of its log:\n{tail}")
    if re.search(r"AuthorizationFailed|does not have authorization|403", text + "".join(lines)):
        lines.append(role_advice(principal, place))
    return "\n".join(lines)
