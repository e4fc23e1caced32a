"""One run over several machines (nodes): each node's share of the LoadPlan (share), the barrier that starts
the nodes together (barrier), who a node is and its own report (env, node), the merge of the node reports
into one judged report (merge), and the two launchers that end in it: `--local-nodes` processes on this
machine (local) and an Azure ML job (job). Each node process runs moetui.headless.run_node (`--node-output`),
which sits above this package and hands the run a NodeRun.

The same node code runs as an Azure ML job's processes (PyTorchDistribution gives RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT; MPI gives OMPI_COMM_WORLD_RANK/_SIZE) and as `--local-nodes` processes here, which
is how it is tested for real. Nothing here prints or imports textual or rich; only job reaches the Azure SDK
(lazily). This file imports nothing: the app imports the job without the launcher or the headless runner.
"""
