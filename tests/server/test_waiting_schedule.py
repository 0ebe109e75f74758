"""The poll schedule as pure code on a fake clock: polite (one read per 2 s after the first) and
quick (lag within max(2 s, 15 % of the run)) whether the run takes 0.3x or 3x its estimate."""

from __future__ import annotations

import itertools

import pytest

from flora_mcp.client import Generation, Run, RunOutput
from flora_mcp.server.waiting import (
    POLL_SCHEDULE,
    PollSchedule,
    ProjectRead,
    StartedRuns,
    run_from_generation,
)

ESTIMATES = [1.0, 2.0, 5.0, 10.0, 25.0, 60.0, 80.0, 200.0]
FACTORS = [0.3, 0.5, 1.0, 2.0, 3.0]


def reads(estimate: float | None, until: float, schedule: PollSchedule = POLL_SCHEDULE) -> list[float]:
    """The times of reads of a run started at 0 that is still going at every read before `until`."""
    times = [schedule.first_read(0.0, estimate, now=0.0)]
    while times[-1] < until:
        times.append(schedule.next_read(0.0, estimate, times[-1]))
    return times


def lag(times: list[float], ends_at: float) -> float:
    return next(t for t in times if t >= ends_at) - ends_at


def target(duration: float) -> float:
    """max(2 s, 15 % of the run), plus the few milliseconds kept so that sends stay 2 s apart."""
    return max(2.0, 0.15 * duration) + POLL_SCHEDULE.slack


@pytest.mark.parametrize("estimate", [*ESTIMATES, None])
def test_reads_after_the_first_are_never_closer_than_two_seconds(estimate: float | None) -> None:
    times = reads(estimate, until=600.0)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 2.0


@pytest.mark.parametrize(("estimate", "factor"), list(itertools.product(ESTIMATES, FACTORS)))
def test_a_run_ending_at_a_third_to_three_times_its_estimate_is_seen_within_the_lag_target(
    estimate: float, factor: float
) -> None:
    duration = estimate * factor
    times = reads(estimate, until=duration)
    assert lag(times, duration) <= target(duration)


@pytest.mark.parametrize("estimate", ESTIMATES)
def test_the_lag_target_holds_for_every_end_between_a_third_and_three_times_the_estimate(
    estimate: float,
) -> None:
    times = reads(estimate, until=3.0 * estimate)
    ends = [estimate * (0.3 + 2.7 * i / 500) for i in range(501)]
    assert max(lag(times, end) - target(end) for end in ends) <= 1e-9


def test_the_first_read_comes_within_a_second_and_sooner_for_a_short_estimate() -> None:
    assert POLL_SCHEDULE.first_read(100.0, 80.0, now=100.0) == 101.0
    assert POLL_SCHEDULE.first_read(100.0, 2.0, now=100.0) == 100.5
    assert POLL_SCHEDULE.first_read(100.0, None, now=100.0) == 101.0


def test_a_run_started_long_ago_is_read_at_once() -> None:
    assert POLL_SCHEDULE.first_read(0.0, 10.0, now=300.0) == 300.0


def test_a_pessimistic_estimate_does_not_delay_the_answer() -> None:
    # FLORA measured: 80 s quoted, 25 s real. The old schedule answered near 80 s.
    times = reads(80.0, until=25.0)
    assert lag(times, 25.0) <= target(25.0)
    assert len(times) <= 6


def test_before_a_quarter_of_the_estimate_a_long_run_is_still_read_every_ten_seconds() -> None:
    times = [t for t in reads(200.0, until=50.0) if t < 50.0]
    assert times == [1.0, 11.0, 21.0, 31.0, 41.0]  # a run refused part-way is noticed


def test_a_run_without_an_estimate_is_read_every_two_seconds_then_at_a_share_of_its_age() -> None:
    times = reads(None, until=40.0)
    assert times[:4] == pytest.approx([1.0, 3.02, 5.04, 7.06])
    late = [(b - a, a) for a, b in itertools.pairwise(times) if a > 20]
    assert late and all(gap == pytest.approx(0.14 * age + POLL_SCHEDULE.slack) for gap, age in late)


def test_gaps_stop_growing_at_the_maximum() -> None:
    assert POLL_SCHEDULE.next_read(0.0, 100.0, 1000.0) == 1000.0 + POLL_SCHEDULE.max_gap + POLL_SCHEDULE.slack


def test_started_runs_keep_the_start_estimate_and_project_and_forget_the_oldest() -> None:
    started = StartedRuns(capacity=2)
    started.add("run_1", project_id="prj_a", estimated_seconds=10, at=5.0)
    started.add("run_2", project_id=None, estimated_seconds=None, at=6.0)
    started.add("run_3", project_id="prj_b", estimated_seconds=20, at=7.0)
    assert started.get("run_1") is None
    assert len(started) == 2
    known = started.get("run_3")
    assert known is not None
    assert (known.started_at, known.estimate, known.project_id) == (7.0, 20.0, "prj_b")


def test_started_runs_keep_the_latest_read_of_a_bounded_number_of_projects() -> None:
    started = StartedRuns(projects=2)
    for index, project_id in enumerate(["prj_a", "prj_b", "prj_c"]):
        started.keep_read(project_id, ProjectRead(read_at=float(index), runs={}))
    assert started.last_read("prj_a") is None
    read = started.last_read("prj_c")
    assert read is not None and read.read_at == 2.0


def test_a_history_item_becomes_the_run_get_run_would_give() -> None:
    generation = Generation(
        generation_id="gen_1",
        run_id="run_1",
        workspace_id="ws_1",
        project_id="prj_1",
        status="failed",
        progress=100,
        created_at=1.0,
        completed_at=2.0,
        charged_cost=0.25,
        error_code="GPU_PROVIDER_ERROR",
        error_message="moderated",
        outputs=[RunOutput(output_id="o1", type="imageUrl", url="https://media.flora.ai/o1.png")],
    )
    run = run_from_generation(generation)
    assert isinstance(run, Run)
    assert (run.run_id, run.status, run.progress, run.charged_cost) == ("run_1", "failed", 100, 0.25)
    assert (run.error_code, run.error_message, run.completed_at) == ("GPU_PROVIDER_ERROR", "moderated", 2.0)
    assert [o.url for o in run.outputs] == ["https://media.flora.ai/o1.png"]
