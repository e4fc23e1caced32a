"""The managed online endpoint SKU list and limits (moetui.matrix.skus), the matrix's quota arithmetic
(moetui.matrix.capacity) and prices found as Azure spells them: no endpoint needed."""

from __future__ import annotations

from pathlib import Path

from moetui.azure.quota import Usage, family_key
from moetui.matrix.capacity import family_needs, quota_lines
from moetui.matrix.prices import find_prices
from moetui.matrix.skus import SKUS, arm_region_name, arm_sku_name, find_sku
from tests.fixtures.azure_transport import CannedTransport

#: Rows shaped like the Retail Prices API's published answer for a VM size (the Linux, Windows, Spot and
#: Low Priority meters of one size in one region).
PUBLISHED = [
    {"currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": 0.146, "unitPrice": 0.146,
     "armRegionName": "eastus", "location": "US East", "effectiveStartDate": "2022-06-01T00:00:00Z",
     "meterId": "0a1b", "meterName": "DS2 v2", "productId": "DZH318Z0BQ4L", "skuId": "DZH318Z0BQ4L/00VR",
     "productName": "Virtual Machines DSv2 Series", "skuName": "DS2 v2", "serviceName": "Virtual Machines",
     "serviceId": "DZH313Z7MMC8", "serviceFamily": "Compute", "unitOfMeasure": "1 Hour", "type": "Consumption",
     "isPrimaryMeterRegion": True, "armSkuName": "Standard_DS2_v2"},
    {"currencyCode": "USD", "retailPrice": 0.252, "armRegionName": "eastus", "meterName": "DS2 v2",
     "productName": "Virtual Machines DSv2 Series Windows", "skuName": "DS2 v2", "serviceName": "Virtual Machines",
     "unitOfMeasure": "1 Hour", "type": "Consumption", "armSkuName": "Standard_DS2_v2"},
    {"currencyCode": "USD", "retailPrice": 0.0292, "armRegionName": "eastus", "meterName": "DS2 v2 Spot",
     "productName": "Virtual Machines DSv2 Series", "skuName": "DS2 v2 Spot", "serviceName": "Virtual Machines",
     "unitOfMeasure": "1 Hour", "type": "Consumption", "armSkuName": "Standard_DS2_v2"},
    {"currencyCode": "USD", "retailPrice": 0.0292, "armRegionName": "eastus", "meterName": "DS2 v2 Low Priority",
     "productName": "Virtual Machines DSv2 Series", "skuName": "DS2 v2 Low Priority",
     "serviceName": "Virtual Machines", "unitOfMeasure": "1 Hour", "type": "Consumption",
     "armSkuName": "Standard_DS2_v2"},
]  # fmt: skip


def test_sizes_are_found_whatever_their_case_and_spelled_as_the_price_api_does() -> None:
    assert find_sku("Standard_DS3_v2") is find_sku("STANDARD_DS3_V2") is SKUS["STANDARD_DS3_V2"]
    assert find_sku("Standard_B2s") is None and find_sku("local-2cpu") is None
    assert len(SKUS) == 85 and SKUS["STANDARD_F72S_V2"].cores == 72
    spelled = {
        "STANDARD_DS2_V2": "Standard_DS2_v2",
        "standard_f4s_v2": "Standard_F4s_v2",
        "STANDARD_NC24ADS_A100_V4": "Standard_NC24ads_A100_v4",
        "STANDARD_NC4AS_T4_V3": "Standard_NC4as_T4_v3",
        "STANDARD_FX4MDS": "Standard_FX4mds",
        "local-2cpu": "local-2cpu",
    }
    assert {name: arm_sku_name(name) for name in spelled} == spelled
    assert arm_region_name("East US") == "eastus" and arm_region_name("westeurope") == "westeurope"
    assert family_key("standard NCASv3_T4 Family") == family_key("Standard NCASv3_T4 Family Cluster Dedicated vCPUs")


def test_quota_counts_the_upgrade_reserve_and_the_deployments_at_once() -> None:
    ds3, a100 = SKUS["STANDARD_DS3_V2"], SKUS["STANDARD_NC24ADS_A100_V4"]
    # ceil(1.2 x instances) x cores; the A100 size skips the reserve.
    assert [ds3.cores_needed(n) for n in (1, 2, 5, 10)] == [8, 12, 24, 48]
    assert a100.cores_needed(2) == 48
    kinds = {"a": ("Standard_DS3_v2", 1), "b": ("Standard_DS3_v2", 5), "c": ("STANDARD_DS2_V2", 2), "d": ("x", 1)}
    needs = family_needs(kinds, parallel=2, keep=False)
    assert list(needs) == ["standarddsv2family"]  # an unlisted size counts nothing (it is refused before)
    assert (needs["standarddsv2family"].cores, needs["standarddsv2family"].cells) == (32, [("b", 24), ("a", 8)])
    assert family_needs(kinds, parallel=2, keep=True)["standarddsv2family"].cores == 38  # all kept: 24 + 8 + 6
    usage = [
        Usage(
            "Standard DSv2 Family Cluster Dedicated vCPUs", "Microsoft.MachineLearningServices/vmFamily/usages", 2, 40
        )
    ]
    lines, short = quota_lines(needs, usage, "eastus", 2, False)
    assert short is None and "  standardDSv2Family: needs 32 (b 24, a 8), available 38 (limit 40, 2 in use)" in lines
    lines, short = quota_lines(needs, [Usage(usage[0].name, usage[0].kind, 10, 40)], "eastus", 2, False)
    assert short is not None and "cell b and the deployments beside it need 32 vCPUs" in short
    assert "30 available (limit 40, 10 in use)" in short
    lines, short = quota_lines(needs, [], "eastus", 2, False)  # a family Azure does not list: said, not guessed
    assert short is None and "its quota is not listed, not checked" in lines[-1]


def test_prices_are_looked_up_as_azure_spells_them_and_name_the_meter(tmp_path: Path) -> None:
    transport = CannedTransport(host="prices.azure.com")
    transport.add(
        "GET", r"^/api/retail/prices$", json={"BillingCurrency": "USD", "Items": PUBLISHED, "NextPageLink": None}
    )
    prices = find_prices(["STANDARD_DS2_V2"], {}, "m.toml", "East US", transport=transport, cache=tmp_path / "c.json")
    transport.assert_all_expected()
    odata = transport.requests[0].query["$filter"][0]
    assert "armSkuName eq 'Standard_DS2_v2'" in odata and "armRegionName eq 'eastus'" in odata
    price = prices["STANDARD_DS2_V2"]
    assert price.per_hour == 0.146  # the Linux pay-as-you-go meter, not Windows, Spot or Low Priority
    assert price.meter == "DS2 v2, Virtual Machines DSv2 Series, eastus"
    assert "meter DS2 v2, Virtual Machines DSv2 Series, eastus" in price.shown()
    # The cache keeps the meter, under the spelling Azure uses.
    again = find_prices(["Standard_DS2_v2"], {}, "m.toml", "eastus", transport=transport, cache=tmp_path / "c.json")
    assert len(transport.requests) == 1 and again["Standard_DS2_v2"].meter == price.meter


def test_an_azure_cell_searches_up_to_the_endpoint_limit_and_says_when_it_reached_it() -> None:
    from moetui.matrix.cells import cell_config
    from moetui.matrix.config import matrix_from_dict
    from moetui.matrix.recommend import cell_summary
    from moetui.matrix.run import goodput_for

    azure = {"subscription_id": "s", "resource_group": "r", "workspace": "w", "endpoint": "e"}
    matrix = {"search": "goodput", "workers": [1], "slo": {"p99_ms": 100}, "goodput": {"max_rate": 2000}}
    for target, top in (({"azure": azure}, 500), ({"local": {}}, 2000)):
        spec = matrix_from_dict({"target": target, "matrix": matrix}, "m.toml")
        assert goodput_for(spec, cell_config(spec, spec.cells[0])).max_rate == top
    at_limit = {"rate_rps": 500.0, "meets_slo": True, "at_endpoint_limit": True}
    cell = cell_summary({"name": "w1", "measurements": [at_limit], "cost_per_hour": 1.0}, "goodput")
    assert cell["rate_is"] == "at the endpoint limit" and "its own goodput is higher" in cell["note"]
    failed = {"rate_rps": 0.0, "meets_slo": False, "failed": "Creating deployment w1 failed: quota\nlogs"}
    cell = cell_summary({"name": "w2", "measurements": [failed], "cost_per_hour": 1.0}, "goodput")
    assert cell["note"] == "its deployment failed, nothing measured: Creating deployment w1 failed: quota"
    assert not cell["meets_slo"] and cell["rate_is"] == "goodput"
