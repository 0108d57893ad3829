import pytest

from metaembed_rag.budget import LADDER, Budget, ladder_for


@pytest.mark.parametrize("value", [(4, 8), [4, 8], "4,8", " 4 , 8 ", "(4,8)", "4x8", Budget(4, 8)])
def test_parse_accepts_every_spelling(value):
    assert Budget.parse(value) == Budget(4, 8)


def test_budget_is_immutable_and_unpacks():
    budget = Budget(2, 4)
    with pytest.raises(AttributeError):
        budget.r_q = 3  # type: ignore[misc]
    r_q, r_c = budget
    assert (r_q, r_c) == (2, 4)
    assert str(budget) == "(2,4)"


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("4", ValueError, "write it as 'r_q,r_c'"),
        ("a,b", ValueError, "cannot parse budget"),
        ((0, 8), ValueError, "r_q must be >= 1"),
        ((4, -1), ValueError, "r_c must be >= 1"),
        ((1.5, 2), TypeError, "must be an int"),
        ((True, 2), TypeError, "must be an int"),
        ((1, 2, 3), TypeError, "a budget is a Budget"),
        (None, TypeError, "a budget is a Budget"),
    ],
)
def test_parse_rejects_bad_values_with_a_clear_message(value, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        Budget.parse(value)


def test_validate_names_the_allowed_range():
    assert Budget(16, 64).validate(16, 64) == Budget(16, 64)
    with pytest.raises(ValueError, match=r"r_q must be in 1\.\.16 and r_c in 1\.\.64"):
        Budget(17, 8).validate(16, 64)
    with pytest.raises(ValueError, match=r"\(4, 65\) is out of range"):
        Budget(4, 65).validate(16, 64)


def test_standard_ladder_and_cost_formulas():
    assert [tuple(b) for b in LADDER] == [(1, 1), (2, 4), (4, 8), (8, 16), (16, 64)]
    # The paper's figures at 100k candidates, D = 3584 (DESIGN.md): GFLOPs and GiB.
    assert Budget(1, 1).flops(100_000, 3584) / 1e9 == pytest.approx(0.7168)
    assert Budget(16, 64).flops(100_000, 3584) / 1e9 == pytest.approx(733.89, rel=1e-3)  # paper rounds 734.0
    assert Budget(8, 16).index_bytes(100_000, 3584) / 2**30 == pytest.approx(10.68, rel=1e-3)
    assert Budget(16, 64).index_bytes(100_000, 3584) / 2**30 == pytest.approx(42.72, rel=1e-3)


def test_ladder_for_smaller_models_ends_at_the_full_budget():
    assert ladder_for(16, 64) == LADDER
    assert ladder_for(4, 8) == (Budget(1, 1), Budget(2, 4), Budget(4, 8))
    assert ladder_for(3, 6) == (Budget(1, 1), Budget(2, 4), Budget(3, 6))
