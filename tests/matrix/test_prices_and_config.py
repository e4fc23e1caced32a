"""Prices (config, cache, Retail Prices API through a canned azure-core transport), cost per 1,000
inferences, the recommendation and the [matrix] checks: no endpoint needed."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from moetui.errors import ConfigError
from moetui.matrix.cells import check_cells
from moetui.matrix.config import matrix_from_dict
from moetui.matrix.prices import cost_per_1000, find_prices
from moetui.matrix.recommend import format_chart, pareto, recommend
from tests.fixtures.azure_transport import CannedTransport

ROWS = [
    {"armSkuName": "Standard_DS3_v2", "productName": "Virtual Machines DSv2 Series Windows", "skuName": "DS3 v2",
     "retailPrice": 0.5, "unitOfMeasure": "1 Hour", "currencyCode": "USD"},
    {"armSkuName": "Standard_DS3_v2", "productName": "Virtual Machines DSv2 Series", "skuName": "DS3 v2 Spot",
     "retailPrice": 0.05, "unitOfMeasure": "1 Hour", "currencyCode": "USD"},
    {"armSkuName": "Standard_DS3_v2", "productName": "Virtual Machines DSv2 Series", "skuName": "DS3 v2 Low Priority",
     "retailPrice": 0.04, "unitOfMeasure": "1 Hour", "currencyCode": "USD"},
    {"armSkuName": "Standard_DS3_v2", "productName": "Virtual Machines DSv2 Series", "skuName": "DS3 v2",
     "retailPrice": 0.293, "unitOfMeasure": "1 Hour", "currencyCode": "USD"},
]  # fmt: skip


def test_prices_come_from_the_config_then_the_api_then_the_cache(tmp_path: Path) -> None:
    transport = CannedTransport(host="prices.azure.com")
    route = transport.add("GET", r"^/api/retail/prices$", json={"Items": ROWS, "NextPageLink": None})
    cache = tmp_path / "prices.json"
    today = date(2026, 12, 1)
    prices = find_prices(
        ["Standard_DS3_v2", "Standard_F4s_v2", "local-1cpu"],
        {"Standard_F4s_v2": 0.2},
        "m.toml",
        "westeurope",
        transport=transport,
        cache=cache,
        today=today,
    )
    transport.assert_all_expected()
    ds3 = prices["Standard_DS3_v2"]
    assert (ds3.per_hour, ds3.source, ds3.date) == (0.293, "Azure Retail Prices API", "2026-12-01")  # Linux row
    odata = transport.requests[0].query["$filter"][0]
    assert "serviceName eq 'Virtual Machines'" in odata and "armSkuName eq 'Standard_DS3_v2'" in odata
    assert "armRegionName eq 'westeurope'" in odata and "priceType eq 'Consumption'" in odata
    assert prices["Standard_F4s_v2"].source == "config m.toml" and prices["Standard_F4s_v2"].per_hour == 0.2
    assert prices["local-1cpu"].per_hour is None and "no price" in prices["local-1cpu"].shown()
    assert json.loads(cache.read_text())["westeurope/standard_ds3_v2"]["date"] == "2026-12-01"
    # Again: the cache answers, with its date; the API is not asked.
    again = find_prices(["Standard_DS3_v2"], {}, "m.toml", "westeurope", transport=transport, cache=cache, today=today)
    assert route.hits == 1
    assert again["Standard_DS3_v2"].source == f"cache {cache}" and again["Standard_DS3_v2"].date == "2026-12-01"


def test_an_unreachable_api_is_no_price_and_the_rest_goes_on(tmp_path: Path) -> None:
    transport = CannedTransport(host="prices.azure.com")
    transport.add("GET", r"^/api/retail/prices$", status=503, json={"error": "busy"})
    prices = find_prices(["Standard_DS3_v2"], {}, "m", "westeurope", transport=transport, cache=tmp_path / "c.json")
    assert prices["Standard_DS3_v2"].per_hour is None and prices["Standard_DS3_v2"].note


def test_cost_per_1000_and_the_recommendation() -> None:
    # 2 instances at 0.30/h serving 10 req/s = 36,000 req/h: 0.60 / 36 = 0.01667 per 1,000.
    assert cost_per_1000(2 * 0.30, 10.0) == pytest.approx(0.6 / 36)
    assert cost_per_1000(None, 10.0) is None
    cells = [
        {"name": "a", "meets_slo": True, "rate_rps": 10.0, "cost_per_1000": 0.02, "p99_ms": 100.0},
        {"name": "b", "meets_slo": True, "rate_rps": 30.0, "cost_per_1000": 0.01, "p99_ms": 150.0},
        {"name": "c", "meets_slo": False, "rate_rps": 90.0, "cost_per_1000": 0.001, "p99_ms": 900.0},
        {"name": "d", "meets_slo": True, "rate_rps": 5.0, "cost_per_1000": 0.05, "p99_ms": 200.0},
    ]
    rec = recommend(cells)
    assert (rec["cell"], rec["runner_up"], rec["margin"]) == ("b", "a", 1.0)
    assert pareto(cells) == {"a", "b", "c"}  # d is dearer and slower than a
    assert "* b" in format_chart(cells) and "o d" in format_chart(cells)
    assert recommend([{**c, "meets_slo": False} for c in cells])["cell"] is None


def test_matrix_problems_name_the_file_and_key() -> None:
    with pytest.raises(ConfigError) as caught:
        matrix_from_dict(
            {"matrix": {"worker": [1], "rounds": 0, "search": "goodput"}, "prices": {"x": "cheap"}}, "m.toml"
        )
    message = caught.value.message
    assert "m.toml: matrix.worker: unknown key" in message and "Did you mean 'workers'?" in message
    assert "matrix.rounds" in message and "matrix.slo" in message and "prices.x" in message


def test_cells_expand_and_each_is_checked_like_a_config() -> None:
    spec = matrix_from_dict(
        {"target": {"local": {"sleep": 0.1}}, "matrix": {"workers": [1, 2], "instance_type": ["local-1cpu"]}}, "m.toml"
    )
    configs = check_cells(spec)
    assert [c.name for c in spec.cells] == ["local-1cpu-w1", "local-1cpu-w2"]
    assert [(c.target.local.workers, c.target.local.instance_type, c.target.local.sleep) for c in configs] == [
        (1, "local-1cpu", 0.1),
        (2, "local-1cpu", 0.1),
    ]
    bad = matrix_from_dict({"matrix": {"instance_type": ["local-99cpu"], "max_concurrency": [0]}}, "m.toml")
    with pytest.raises(ConfigError) as caught:
        check_cells(bad)
    assert "local-99cpu" in caught.value.message and "max_concurrency" in caught.value.message


def test_a_missing_scorer_is_refused_before_any_cell_starts(tmp_path: Path) -> None:
    data = {"target": {"local": {"scorer": "nope.py"}}, "matrix": {"workers": [1, 2]}}
    with pytest.raises(ConfigError) as caught:
        check_cells(matrix_from_dict(data, "m.toml", path=tmp_path / "m.toml"))
    assert f"cell w1: [target.local] scorer: {tmp_path / 'nope.py'} does not exist" in caught.value.message
    (tmp_path / "nope.py").write_text("def init():\n    pass\n\n\ndef run(raw_data):\n    return 'ok'\n")
    assert len(check_cells(matrix_from_dict(data, "m.toml", path=tmp_path / "m.toml"))) == 2


def test_a_matrix_report_and_its_state_file_go_to_files() -> None:
    """Beside --report, else beside [output] report, else beside the matrix file; never standard output
    (`moetui profile` and the app's matrix screen both ask here)."""
    from moetui.matrix.state import report_and_state

    spec = matrix_from_dict({"matrix": {"workers": [1, 3]}, "output": {"report": "out/m.json"}}, "/work/x/m.toml")
    assert report_and_state(spec, Path("r.json")) == (Path("r.json"), Path("r.state.json"))
    assert report_and_state(spec, None) == (Path("/work/x/out/m.json"), Path("/work/x/out/m.state.json"))
    bare = matrix_from_dict({"matrix": {"workers": [1, 3]}}, "/work/x/m.toml")
    assert report_and_state(bare, None) == (None, Path("/work/x/m.state.json"))
    with pytest.raises(ConfigError, match="--report -: a matrix writes its report to a file"):
        report_and_state(spec, Path("-"))
