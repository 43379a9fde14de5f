import itertools

import pytest
import torch

from modlib.task import make_pairs, parity_difference, parity_target, reports_digit0, subtask_target, valid_pair


def all_combinations():
    d0, d1 = zip(*itertools.product(range(10), range(10)))
    return torch.tensor(d0), torch.tensor(d1)


def test_exclusion_rule_removes_exactly_the_20_diagonal_combinations():
    d0, d1 = all_combinations()
    valid = valid_pair(d0, d1)
    assert int((~valid).sum()) == 20
    for a, b, v in zip(d0.tolist(), d1.tolist(), valid.tolist()):
        assert v == (b != a and b != (a + 1) % 10)


def test_the_mirrored_exclusion_is_the_paper_s_with_the_modules_swapped():
    d0, d1 = all_combinations()
    assert torch.equal(valid_pair(d0, d1, "mirrored"), valid_pair(d1, d0))
    assert not torch.equal(valid_pair(d0, d1, "mirrored"), valid_pair(d0, d1))  # the task has a direction
    with pytest.raises(ValueError, match="exclusion must be one of"):
        valid_pair(d0, d1, "both")


def test_swapping_the_modules_turns_the_prose_rule_into_the_equation():
    d0, d1 = all_combinations()
    assert torch.equal(parity_target(d0, d1, "prose"), parity_target(d1, d0, "equation"))
    assert not torch.equal(parity_target(d0, d1, "prose"), parity_target(d1, d0, "prose"))


def test_exclusion_balances_parity_over_combinations():
    d0, d1 = all_combinations()
    p = parity_difference(d0, d1)[valid_pair(d0, d1)]
    assert int((p == 0).sum()) == int((p == 1).sum()) == 40


def test_target_is_digit0_when_parities_match():
    d0, d1 = all_combinations()
    target = parity_target(d0, d1)
    same = (d0 % 2) == (d1 % 2)
    assert torch.equal(target[same], d0[same])
    assert torch.equal(target[~same], d1[~same])
    assert int(parity_target(torch.tensor(3), torch.tensor(5))) == 3
    assert int(parity_target(torch.tensor(3), torch.tensor(4))) == 4


def test_equation_rule_is_the_opposite_convention():
    d0, d1 = all_combinations()
    prose, eq = parity_target(d0, d1), parity_target(d0, d1, rule="equation")
    valid = valid_pair(d0, d1)
    assert torch.equal(eq[valid], torch.where(prose == d0, d1, d0)[valid])
    with pytest.raises(ValueError, match="rule"):
        parity_target(d0, d1, rule="code")


def test_subtask_targets_are_the_digits():
    d0, d1 = all_combinations()
    assert torch.equal(subtask_target(d0, d1, 0), d0)
    assert torch.equal(subtask_target(d0, d1, 1), d1)
    with pytest.raises(ValueError):
        subtask_target(d0, d1, 2)


@pytest.fixture(scope="module")
def skewed_labels():
    # Unequal digit frequencies, like MNIST's, so balance must be enforced, not assumed.
    g = torch.Generator().manual_seed(0)
    probs = torch.linspace(1.0, 2.0, 10)
    return torch.multinomial(probs, 60000, replacement=True, generator=g)


def test_pairs_are_valid_and_parity_balanced(skewed_labels):
    i0, i1 = make_pairs(skewed_labels, seed=3)
    d0, d1 = skewed_labels[i0], skewed_labels[i1]
    assert bool(valid_pair(d0, d1).all())
    p = parity_difference(d0, d1)
    assert int((p == 0).sum()) == int((p == 1).sum())
    assert 40000 < len(i0) <= 48000
    assert len(set(i0.tolist())) == len(i0)  # each image is digit 0 at most once


def test_pairs_are_reproducible_per_seed_and_differ_across_seeds(skewed_labels):
    a, b = make_pairs(skewed_labels, seed=5), make_pairs(skewed_labels, seed=5)
    c = make_pairs(skewed_labels, seed=6)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0][:100], c[0][:100])


def test_switching_exclusion_off_keeps_invalid_pairs(skewed_labels):
    i0, i1 = make_pairs(skewed_labels, seed=1, exclude=False, balance=False)
    assert len(i0) == 60000
    assert not bool(valid_pair(skewed_labels[i0], skewed_labels[i1]).all())


def test_modulus_2_is_the_paper_task():
    d0, d1 = all_combinations()
    for rule in ("prose", "equation"):
        assert torch.equal(parity_target(d0, d1, rule, modulus=2), parity_target(d0, d1, rule))


@pytest.mark.parametrize("modulus", range(2, 11))
def test_the_decision_needs_the_other_digit_mod_m_and_nothing_more(modulus):
    # Two digits 1 must be told apart by module 0 exactly when their residues mod m differ:
    # then some valid digit 0 gets different targets with them, so log2(m) bits must cross.
    d0, d1 = all_combinations()
    first, valid = reports_digit0(d0, d1, modulus).view(10, 10), valid_pair(d0, d1).view(10, 10)
    for a, b in itertools.combinations(range(10), 2):
        both = valid[:, a] & valid[:, b]
        differ = bool((first[:, a] != first[:, b])[both].any())
        assert differ == (a % modulus != b % modulus), (a, b)


@pytest.mark.parametrize("modulus", [3, 4, 10])
def test_pairs_balance_the_two_targets_for_any_modulus(skewed_labels, modulus):
    i0, i1 = make_pairs(skewed_labels, seed=3, modulus=modulus)
    first = reports_digit0(skewed_labels[i0], skewed_labels[i1], modulus)
    assert int(first.sum()) == int((~first).sum()) > 10000


@pytest.mark.parametrize("modulus", [1, 11, 0])
def test_a_modulus_outside_2_to_10_is_refused(modulus):
    with pytest.raises(ValueError, match="modulus must be a whole number from 2"):
        parity_target(torch.tensor([3]), torch.tensor([5]), modulus=modulus)
