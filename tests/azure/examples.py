"""Official ARM example bodies (tests/azure/examples/*.json, sources in its README) with their "string"
placeholders filled in, so the real SDK can parse them as an answer about a named resource."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.azure.fake_arm import LOCATION, PROVIDER, WS_PATH

EXAMPLES = Path(__file__).parent / "examples"


def official_example(name: str) -> Any:
    """The example body `name` (file stem), as published."""
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def official_deployment(endpoint: str, deployment: str, **properties: Any) -> dict[str, Any]:
    """ManagedOnlineDeployment get.json with its placeholders filled in for `endpoint`/`deployment`;
    `properties` replaces published values (the example's state is Creating)."""
    body = official_example("managed_online_deployment_get")
    body["id"] = f"{WS_PATH}/onlineEndpoints/{endpoint}/deployments/{deployment}"
    body["name"] = deployment
    body["type"] = f"{PROVIDER}/workspaces/onlineEndpoints/deployments"
    body["location"] = LOCATION
    body["kind"] = "Managed"
    body["identity"]["userAssignedIdentities"] = {}
    props = body["properties"]
    props["codeConfiguration"] = {"codeId": f"{WS_PATH}/codes/abc/versions/1", "scoringScript": "score.py"}
    props["environmentId"] = f"{WS_PATH}/environments/env/versions/1"
    props["environmentVariables"] = {"WORKER_COUNT": "2"}
    props["properties"] = {}
    props["instanceType"] = "Standard_DS3_v2"
    props["model"] = f"{WS_PATH}/models/sleep/versions/1"
    props["modelMountPath"] = "/var/azureml-app/model"
    props["description"] = "an official example body"
    props.update(properties)
    body["sku"] = {"name": "Default", "tier": "Standard", "capacity": 1}
    body["systemData"].update(createdBy="ada@contoso.example", lastModifiedBy="ada@contoso.example")
    return body
