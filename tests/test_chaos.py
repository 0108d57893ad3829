"""The crash harness's short run: ten seeded trials, each writer killed by SIGKILL, all consistent."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import chaos

pytestmark = pytest.mark.usefixtures("one_thread")


def test_ten_killed_writers_leave_consistent_indexes_and_reruns_finish(tmp_path: Path, capsys) -> None:
    assert chaos.main(["--trials", "10", "--seed", "1", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "10/10 trials consistent (seed 1;" in out


def test_every_plan_kind_reaches_its_final_state_and_kills_are_checked(tmp_path: Path) -> None:
    for kind in chaos.KINDS:
        setup, plan = chaos.make_plan(random.Random(3), kind)
        states = chaos.states_of(setup, plan)
        assert len({str(s) for s in states}) >= 3, kind  # the plan changes the pages several times
        chaos.run_steps(tmp_path / kind, setup + plan)
        assert chaos.check_index(tmp_path / kind, [states[-1]]) == []
        wrong = [s for s in states if s != states[-1]]
        assert chaos.check_index(tmp_path / kind, wrong) != []  # the check can fail


def test_a_damaged_page_is_reported(tmp_path: Path) -> None:
    setup, plan = chaos.make_plan(random.Random(4), "upsert")
    chaos.run_steps(tmp_path / "ix", setup + plan)
    final = chaos.states_of(setup, plan)[-1]
    assert final is not None
    image = next((tmp_path / "ix" / "images").glob("*.png"))
    image.write_bytes(b"\x89PNG\r\n\x1a\nsomething else")
    errors = chaos.check_index(tmp_path / "ix", [final])
    assert any("image is not version" in e for e in errors), errors
