"""The cost story's pure parts: periods, merging FLORA's bills with the journal, sums and estimates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest

from flora_mcp.client import Model
from flora_mcp.server import _costs
from flora_mcp.server._costs import CostRun
from flora_mcp.server._prices import USD_PER_CREDIT, learned

NOW = datetime(2026, 12, 5, 15, 30).timestamp()


@dataclass
class Row:
    run_id: str | None
    model: str | None
    cost_usd: float | None
    quote_usd: float | None = None
    type: str | None = None
    project_id: str | None = "prj_a"
    workspace_id: str | None = "ws_a"
    started_at: float = NOW - 60
    status: str = "completed"
    kind: str = "generation"


def test_periods_in_the_users_words() -> None:
    today = _costs.parse_period("today", NOW)
    assert today.since == datetime(2026, 12, 5).timestamp() and today.until is None
    assert _costs.parse_period("7d", NOW).since == NOW - 7 * 86400
    assert _costs.parse_period("24h", NOW).since == NOW - 86400
    month = _costs.parse_period("2026-11", NOW)
    assert (month.since, month.until) == (
        datetime(2026, 11, 1).timestamp(),
        datetime(2026, 12, 1).timestamp(),
    )
    assert _costs.parse_period("2026-12", NOW).until == datetime(2027, 1, 1).timestamp()
    assert _costs.parse_period("all", NOW).since is None
    with pytest.raises(ValueError, match="7d"):
        _costs.parse_period("last week-ish", NOW)


def test_floras_bill_wins_and_the_journal_adds_type_quote_and_unlisted_runs() -> None:
    flora = [
        CostRun("run_1", NOW - 10, "completed", 0.87, model="t2i-dear"),
        CostRun("run_2", NOW, "running", None),
    ]
    journal = [
        Row("run_1", "t2i-dear", None, quote_usd=0.25, type="image"),
        Row("run_2", "t2v-veo", None, quote_usd=3.2, type="video"),
        Row("run_3", "tech_x", 0.5, type=None),  # a technique run: FLORA's history does not list it
        Row(None, "t2i-dear", None),  # an intent: no run, no bill
    ]

    runs = _costs.merge(flora, journal)

    by_id = {r.run_id: r for r in runs}
    assert set(by_id) == {"run_1", "run_2", "run_3"}
    assert by_id["run_1"].cost_usd == 0.87 and by_id["run_1"].quote_usd == 0.25
    assert by_id["run_2"].type == "video" and by_id["run_2"].model == "t2v-veo"
    assert by_id["run_3"].cost_usd == 0.5


def test_summary_sums_bills_and_keeps_unsettled_runs_apart() -> None:
    runs = [
        CostRun("run_1", NOW, "completed", 0.5, 0.2, "prj_a", "image", "t2i-a"),
        CostRun("run_2", NOW, "completed", 0.25, 0.2, "prj_b", "image", "t2i-b"),
        CostRun("run_3", NOW, "failed", 0.0, None, "prj_b", "video", "t2v-a"),
        CostRun("run_4", NOW, "running", None, 3.2, "prj_b", "video", "t2v-a"),
    ]

    data = _costs.summarize(runs, _costs.parse_period("today", NOW))

    assert data["settled_usd"] == 0.75 and data["settled_runs"] == 3
    assert data["unsettled_runs"] == 1 and data["unsettled_quoted_usd"] == 3.2
    assert data["by_project"] == {
        "prj_a": {"settled_usd": 0.5, "runs": 1, "unsettled": 0},
        "prj_b": {"settled_usd": 0.25, "runs": 3, "unsettled": 1},
    }
    assert list(data["by_type"]) == ["image", "video"]
    text = _costs.summary_text(data)
    assert "$0.75 settled" in text and "1 run(s) not settled yet (quoted $3.20)" in text


def test_an_estimate_says_what_it_rests_on() -> None:
    model = Model.model_validate(
        {
            "model_id": "t2i-a",
            "name": "A",
            "type": "image",
            "provider": "p",
            "capabilities": [],
            "estimated_credits": 40,
            "estimated_seconds": 10,
            "params": [],
        }
    )
    assert _costs.estimate(model, {}) == {"usd": round(40 * USD_PER_CREDIT, 4), "usd_basis": "credits"}
    prices = learned([Row("run_1", "t2i-a", 0.3), Row("run_2", "t2i-a", 0.5), Row("run_3", "t2i-a", None)])
    assert _costs.estimate(model, prices) == {"usd": 0.4, "usd_basis": "2 settled"}


def test_floras_milliseconds_and_the_journals_seconds_meet() -> None:
    assert _costs.seconds(1_764_950_000_000) == 1_764_950_000
    assert _costs.seconds(1_764_950_000.5) == 1_764_950_000.5
