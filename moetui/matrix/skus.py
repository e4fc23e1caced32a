"""Azure ML managed online endpoints: the VM sizes a deployment may use, their vCPUs and VM family (for the
quota), and the endpoint's published limits. One place for both; the matrix checks its cells against them
before anything is created. No textual, rich or azure.

SKU table copied from Microsoft's "Managed online endpoints SKU list"
(https://learn.microsoft.com/azure/machine-learning/reference-managed-online-endpoints-vm-sku-list, page dated
2023-10-18; MicrosoftDocs/azure-ai-docs commit 1d987e37, copied 2026-12-07): VM size name, family name,
numberOfCores, "Skip 20% Reservation". Limits from "Manage and increase quotas and limits for resources with
Azure Machine Learning" (https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas), section
"Azure Machine Learning online endpoints and batch endpoints" and "Virtual machine quota allocation for
deployment".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: Instances of one deployment (raisable on request).
MAX_INSTANCES = 50
#: Deployments of one endpoint (raisable on request).
MAX_DEPLOYMENTS = 20
#: Requests per second an endpoint takes across all its deployments (raisable on request).
ENDPOINT_MAX_RPS = 500
#: Connections an endpoint holds across all its deployments (raisable on request).
ENDPOINT_MAX_CONNECTIONS = 500
#: Azure reserves this share of a deployment's instances for upgrades, in quota (unless the SKU skips it).
UPGRADE_RESERVE = 0.2


@dataclass(frozen=True)
class Sku:
    name: str
    """As the SKU list spells it (upper case)."""
    family: str
    """The VM family, as the list spells it ("standardDSv2Family"); compared by family_key."""
    cores: int
    skips_reserve: bool

    @property
    def arm_name(self) -> str:
        return arm_sku_name(self.name)

    def cores_needed(self, instances: int) -> int:
        """vCPUs of quota one deployment of `instances` instances takes: ceil(1.2 x instances) x cores, or
        instances x cores for a SKU exempt from the upgrade reserve."""
        if self.skips_reserve:
            return instances * self.cores
        return math.ceil(round(instances * (1 + UPGRADE_RESERVE), 6)) * self.cores


_TABLE = [
    ("STANDARD_D2AS_V4", "standardDASv4Family", 2, False),
    ("STANDARD_D4AS_V4", "standardDASv4Family", 4, False),
    ("STANDARD_D8AS_V4", "standardDASv4Family", 8, False),
    ("STANDARD_D16AS_V4", "standardDASv4Family", 16, False),
    ("STANDARD_D32AS_V4", "standardDASv4Family", 32, False),
    ("STANDARD_D48AS_V4", "standardDASv4Family", 48, False),
    ("STANDARD_D64AS_V4", "standardDASv4Family", 64, False),
    ("STANDARD_D96AS_V4", "standardDASv4Family", 96, False),
    ("STANDARD_D2A_V4", "standardDAv4Family", 2, False),
    ("STANDARD_D4A_V4", "standardDAv4Family", 4, False),
    ("STANDARD_D8A_V4", "standardDAv4Family", 8, False),
    ("STANDARD_D16A_V4", "standardDAv4Family", 16, False),
    ("STANDARD_D32A_V4", "standardDAv4Family", 32, False),
    ("STANDARD_D48A_V4", "standardDAv4Family", 48, False),
    ("STANDARD_D64A_V4", "standardDAv4Family", 64, False),
    ("STANDARD_D96A_V4", "standardDAv4Family", 96, False),
    ("STANDARD_DS1_V2", "standardDSv2Family", 1, False),
    ("STANDARD_DS2_V2", "standardDSv2Family", 2, False),
    ("STANDARD_DS3_V2", "standardDSv2Family", 4, False),
    ("STANDARD_DS4_V2", "standardDSv2Family", 8, False),
    ("STANDARD_DS5_V2", "standardDSv2Family", 16, False),
    ("STANDARD_E2S_V3", "standardESv3Family", 2, False),
    ("STANDARD_E4S_V3", "standardESv3Family", 4, False),
    ("STANDARD_E8S_V3", "standardESv3Family", 8, False),
    ("STANDARD_E16S_V3", "standardESv3Family", 16, False),
    ("STANDARD_E32S_V3", "standardESv3Family", 32, False),
    ("STANDARD_E48S_V3", "standardESv3Family", 48, False),
    ("STANDARD_E64S_V3", "standardESv3Family", 64, False),
    ("STANDARD_F2S_V2", "standardFSv2Family", 2, False),
    ("STANDARD_F4S_V2", "standardFSv2Family", 4, False),
    ("STANDARD_F8S_V2", "standardFSv2Family", 8, False),
    ("STANDARD_F16S_V2", "standardFSv2Family", 16, False),
    ("STANDARD_F32S_V2", "standardFSv2Family", 32, False),
    ("STANDARD_F48S_V2", "standardFSv2Family", 48, False),
    ("STANDARD_F64S_V2", "standardFSv2Family", 64, False),
    ("STANDARD_F72S_V2", "standardFSv2Family", 72, False),
    ("STANDARD_FX4MDS", "standardFXMDVSFamily", 4, False),
    ("STANDARD_FX12MDS", "standardFXMDVSFamily", 12, False),
    ("STANDARD_FX24MDS", "standardFXMDVSFamily", 24, False),
    ("STANDARD_FX36MDS", "standardFXMDVSFamily", 36, False),
    ("STANDARD_FX48MDS", "standardFXMDVSFamily", 48, False),
    ("STANDARD_L8AS_V3", "standardLASv3Family", 8, False),
    ("STANDARD_L16AS_V3", "standardLASv3Family", 16, False),
    ("STANDARD_L32AS_V3", "standardLASv3Family", 32, False),
    ("STANDARD_L48AS_V3", "standardLASv3Family", 48, False),
    ("STANDARD_L64AS_V3", "standardLASv3Family", 64, False),
    ("STANDARD_L80AS_V3", "standardLASv3Family", 80, False),
    ("STANDARD_L8S_V2", "standardLSv2Family", 8, False),
    ("STANDARD_L16S_V2", "standardLSv2Family", 16, False),
    ("STANDARD_L32S_V2", "standardLSv2Family", 32, False),
    ("STANDARD_L48S_V2", "standardLSv2Family", 48, False),
    ("STANDARD_L64S_V2", "standardLSv2Family", 64, False),
    ("STANDARD_L80S_V2", "standardLSv2Family", 80, False),
    ("STANDARD_L8S_V3", "standardLSv3Family", 8, False),
    ("STANDARD_L16S_V3", "standardLSv3Family", 16, False),
    ("STANDARD_L32S_V3", "standardLSv3Family", 32, False),
    ("STANDARD_L48S_V3", "standardLSv3Family", 48, False),
    ("STANDARD_L64S_V3", "standardLSv3Family", 64, False),
    ("STANDARD_L80S_V3", "standardLSv3Family", 80, False),
    ("STANDARD_NC24ADS_A100_V4", "standardNCADSA100v4Family", 24, True),
    ("STANDARD_NC48ADS_A100_V4", "standardNCADSA100v4Family", 48, True),
    ("STANDARD_NC96ADS_A100_V4", "standardNCADSA100v4Family", 96, True),
    ("STANDARD_NC4AS_T4_V3", "standard NCASv3_T4 Family", 4, False),
    ("STANDARD_NC8AS_T4_V3", "standard NCASv3_T4 Family", 8, False),
    ("STANDARD_NC16AS_T4_V3", "standard NCASv3_T4 Family", 16, False),
    ("STANDARD_NC64AS_T4_V3", "standard NCASv3_T4 Family", 64, False),
    ("STANDARD_NC6S_V2", "standardNCSv2Family", 6, False),
    ("STANDARD_NC12S_V2", "standardNCSv2Family", 12, False),
    ("STANDARD_NC24S_V2", "standardNCSv2Family", 24, False),
    ("STANDARD_NC6S_V3", "standardNCSv3Family", 6, False),
    ("STANDARD_NC12S_V3", "standardNCSv3Family", 12, False),
    ("STANDARD_NC24S_V3", "standardNCSv3Family", 24, False),
    ("STANDARD_NC40ADS_H100_V5", "standardNCADSH100v5Family", 40, True),
    ("STANDARD_NC80ADIS_H100_V5", "standardNCADSH100v5Family", 80, True),
    ("STANDARD_ND96AMSR_A100_V4", "standard NDAMSv4_A100Family", 96, True),
    ("STANDARD_ND96ASR_V4", "standard NDASv4_A100 Family", 96, True),
    ("STANDARD_ND40RS_V2", "standardNDSv2Family", 40, True),
    ("STANDARD_ND96IS_H100_V5", "standardNDv5H100Family", 96, True),
    ("STANDARD_ND96ISR_H100_V5", "standardNDv5H100Family", 96, True),
    ("STANDARD_NV6ADS_A10_V5", "standardNVADSA10v5Family", 6, False),
    ("STANDARD_NV12ADS_A10_V5", "standardNVADSA10v5Family", 12, False),
    ("STANDARD_NV18ADS_A10_V5", "standardNVADSA10v5Family", 18, False),
    ("STANDARD_NV36ADS_A10_V5", "standardNVADSA10v5Family", 36, False),
    ("STANDARD_NV36ADMS_A10_V5", "standardNVADSA10v5Family", 36, False),
    ("STANDARD_NV72ADS_A10_V5", "standardNVADSA10v5Family", 72, False),
]
SKUS: dict[str, Sku] = {name: Sku(name, family, cores, skip) for name, family, cores, skip in _TABLE}


def find_sku(instance_type: str) -> Sku | None:
    """The listed SKU of an instance type, whatever its case ("Standard_DS3_v2", "STANDARD_DS3_V2")."""
    return SKUS.get(instance_type.strip().upper())


def arm_sku_name(instance_type: str) -> str:
    """The VM size as Azure's Retail Prices API spells `armSkuName` (its filter is case-sensitive):
    "STANDARD_DS2_V2" -> "Standard_DS2_v2", "standard_nc24ads_a100_v4" -> "Standard_NC24ads_A100_v4".
    A name of another shape is returned as given."""
    parts = instance_type.strip().split("_")
    if len(parts) < 2 or parts[0].lower() != "standard":
        return instance_type
    size = re.fullmatch(r"([A-Za-z]+)(\d+)([A-Za-z]*)", parts[1])
    if size is None:
        return instance_type
    out = ["Standard", size[1].upper() + size[2] + size[3].lower()]
    for part in parts[2:]:
        out.append(part.lower() if re.fullmatch(r"[vV]\d+", part) else part.upper())
    return "_".join(out)


def arm_region_name(region: str) -> str:
    """A region as `armRegionName` spells it: "East US" -> "eastus", "West Europe" -> "westeurope"."""
    return re.sub(r"\s+", "", region.strip()).lower()
