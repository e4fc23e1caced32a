"""Price per instance-hour of each cell's instance type, and where it came from: the matrix file's [prices]
first, then the cache (config dir, with the date each price was fetched), then Azure's public Retail Prices
API (no sign-in), fetched through an azure-core pipeline whose transport a test replaces. No textual, rich.

Cost per 1,000 inferences = instance_count x price per hour / (goodput requests per hour / 1,000).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from moetui.matrix.skus import arm_region_name, arm_sku_name
from moetui.paths import config_dir, private_dir, write_atomic

RETAIL_PRICES_URL = "https://prices.azure.com/api/retail/prices"
#: A cached price older than this is fetched again (prices change monthly at most).
CACHE_MAX_AGE_DAYS = 30
#: Product or SKU names of rows that are not the plain Linux pay-as-you-go price.
_EXCLUDED = ("windows", "spot", "low priority")
_MAX_PAGES = 5


@dataclass(frozen=True)
class Price:
    instance_type: str
    per_hour: float | None
    """None: no price found (the cell's cost is then unknown; the rest of the answer still stands)."""
    source: str
    """"config <file>", "cache <file>", "Azure Retail Prices API" or "no price"."""
    date: str | None = None
    """When the price was fetched (ISO date); None for a price the file gives."""
    currency: str = "USD"
    note: str | None = None
    meter: str | None = None
    """The Retail Prices row used: its meter, product and region ("DS2 v2, Virtual Machines DSv2 Series,
    eastus"); None for a price the file gives."""

    def shown(self) -> str:
        if self.per_hour is None:
            return f"{self.instance_type}: no price ({self.note or 'none given'})"
        when = f", {self.date}" if self.date else ""
        meter = f", meter {self.meter}" if self.meter else ""
        return f"{self.instance_type}: {self.per_hour:g} {self.currency}/h ({self.source}{when}{meter})"


def cache_path() -> Path:
    return config_dir() / "cache" / "azure-retail-prices.json"


def find_prices(
    instance_types: list[str],
    given: Mapping[str, float],
    given_source: str,
    region: str | None,
    *,
    transport: Any = None,
    cache: Path | None = None,
    today: date | None = None,
) -> dict[str, Price]:
    """A Price for each instance type, from the first source that has one.

    Args:
        region: Where the instances run, as a user types it ("East US") or Azure spells it ("eastus").
        transport: An azure-core HttpTransport for the Retail Prices API (tests: CannedTransport).
        cache: The cache file (default: cache_path()).
    """
    today = today or date.today()
    cache = cache or cache_path()
    cached = _read_cache(cache)
    found: dict[str, Price] = {}
    for instance_type in dict.fromkeys(instance_types):
        if instance_type in given:
            found[instance_type] = Price(instance_type, given[instance_type], f"config {given_source}")
            continue
        if instance_type.startswith("local-"):
            found[instance_type] = Price(instance_type, None, "no price", note=f"set [prices] {instance_type!r}")
            continue
        if region is None:
            found[instance_type] = Price(
                instance_type, None, "no price", note="set [prices] or [matrix] region to look it up"
            )
            continue
        # The API's filter is case-sensitive: "STANDARD_DS2_V2" / "East US" find nothing as typed.
        sku, where = arm_sku_name(instance_type), arm_region_name(region)
        key = f"{where}/{sku}".lower()
        entry = cached.get(key)
        if entry is not None and _age_days(entry.get("date"), today) <= CACHE_MAX_AGE_DAYS:
            found[instance_type] = Price(
                instance_type,
                entry["per_hour"],
                f"cache {cache}",
                entry.get("date"),
                entry.get("currency", "USD"),
                meter=entry.get("meter"),
            )
            continue
        try:
            per_hour, currency, meter = retail_price(sku, where, transport=transport)
        except Exception as exc:  # no network, an API change: the matrix's answer still stands
            found[instance_type] = Price(
                instance_type, None, "no price", note=f"Retail Prices API: {type(exc).__name__}: {exc}"[:200]
            )
            continue
        if per_hour is None:
            found[instance_type] = Price(
                instance_type, None, "no price", note=f"the Retail Prices API has no Linux price of {sku} in {where}"
            )
            continue
        price = Price(instance_type, per_hour, "Azure Retail Prices API", today.isoformat(), currency, meter=meter)
        found[instance_type] = price
        cached[key] = {"per_hour": per_hour, "currency": currency, "date": price.date, "meter": meter}
        _write_cache(cache, cached)
    return found


def retail_price(instance_type: str, region: str, *, transport: Any = None) -> tuple[float | None, str, str | None]:
    """The pay-as-you-go Linux price per hour of a VM size in a region, from the Retail Prices API.

    Args:
        instance_type, region: As the API spells them (arm_sku_name, arm_region_name): its filter is exact.

    Returns:
        (price, currency, the meter used); price None when no row fits.

    Raises:
        azure.core.exceptions.AzureError, ValueError: The API cannot be reached or answered something else.
    """
    from azure.core.pipeline import Pipeline  # deferred: only a lookup needs azure-core
    from azure.core.pipeline.policies import HeadersPolicy, RetryPolicy, UserAgentPolicy
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.rest import HttpRequest

    odata = (
        f"serviceName eq 'Virtual Machines' and armSkuName eq '{_quoted(instance_type)}' "
        f"and armRegionName eq '{_quoted(region)}' and priceType eq 'Consumption'"
    )
    pipeline = Pipeline(
        transport=transport or RequestsTransport(connection_timeout=10, read_timeout=20),
        policies=[HeadersPolicy({"Accept": "application/json"}), UserAgentPolicy("moetui"), RetryPolicy(retry_total=2)],
    )
    request: HttpRequest | None = HttpRequest("GET", RETAIL_PRICES_URL, params={"$filter": odata})
    rows: list[dict[str, Any]] = []
    pages = 0
    with pipeline:
        while request is not None and pages < _MAX_PAGES:
            response = pipeline.run(request).http_response
            if response.status_code != 200:
                raise ValueError(f"status {response.status_code}")
            body = json.loads(response.text())
            rows += body.get("Items", [])
            link = body.get("NextPageLink")
            request = HttpRequest("GET", link) if link else None
            pages += 1
    linux = [
        row
        for row in rows
        if not any(word in f"{row.get('productName', '')} {row.get('skuName', '')}".lower() for word in _EXCLUDED)
        and str(row.get("unitOfMeasure", "1 Hour")).lower() == "1 hour"
        and isinstance(row.get("retailPrice"), int | float)
        and row.get("armSkuName", instance_type) == instance_type
    ]
    if not linux:
        return None, "USD", None
    best = min(linux, key=lambda row: float(row["retailPrice"]))
    meter = ", ".join(str(best[field]) for field in ("meterName", "productName", "armRegionName") if best.get(field))
    return float(best["retailPrice"]), str(best.get("currencyCode", "USD")), meter or None


def cost_per_hour(price: Price, instance_count: int) -> float | None:
    return price.per_hour * instance_count if price.per_hour is not None else None


def cost_per_1000(per_hour: float | None, rate_per_s: float | None) -> float | None:
    """instance_count x price per hour / (requests per hour / 1,000); None without a price or a rate."""
    if per_hour is None or not rate_per_s:
        return None
    return per_hour / (rate_per_s * 3600 / 1000)


def prices_block(prices: Mapping[str, Price]) -> dict[str, Any]:
    return {name: asdict(price) for name, price in prices.items()}


def _quoted(text: str) -> str:
    return text.replace("'", "''")  # OData string literal


def _age_days(when: Any, today: date) -> float:
    try:
        return (today - date.fromisoformat(str(when))).days
    except ValueError:
        return float("inf")


def _read_cache(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, data: Mapping[str, Any]) -> None:
    try:
        private_dir(path.parent)
        write_atomic(path, json.dumps(data, indent=1, sort_keys=True), mode=0o600)
    except OSError:
        pass  # a cache that cannot be written costs a lookup next time, nothing more
