"""A local twin of an Azure ML managed online endpoint.

Real azureml-inference-server-http processes serve scoring_app/score.py; a gateway in front of them
behaves like the managed endpoint's front end (key auth, deployment routing, per-instance concurrency
with a queue, 408/424/429). Everything listens on 127.0.0.1 only.

    async with LocalEndpoint(settings) as endpoint:
        ...  # POST endpoint.scoring_uri with "Authorization: Bearer " + endpoint.key
"""

from moetui.local_endpoint.settings import DeploymentSettings, LocalEndpointSettings
from moetui.local_endpoint.supervisor import LocalEndpoint, RunningEndpoint

__all__ = ["DeploymentSettings", "LocalEndpoint", "LocalEndpointSettings", "RunningEndpoint"]
