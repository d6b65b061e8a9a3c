"""`LastResult`: the kept result is reused only for an equal key (values, shape), and the key is copied."""

import torch

from emoca.last_result import LastResult


def test_the_result_is_kept_for_equal_keys_and_recomputed_for_others():
    calls = []
    kept: LastResult[float] = LastResult()

    def compute(value: float):
        return lambda: calls.append(value) or value

    key = torch.zeros(2, 3)
    assert kept(key, compute(1.0)) == 1.0
    assert kept(key.clone(), compute(2.0)) == 1.0 and calls == [1.0]  # equal values: kept
    key[0, 0] = 5.0  # the caller's own key changed in place: a new key
    assert kept(key, compute(3.0)) == 3.0
    assert kept(torch.zeros(3, 2), compute(4.0)) == 4.0  # same elements, other shape: new
    assert kept(torch.zeros(3, 2), compute(5.0)) == 4.0 and calls == [1.0, 3.0, 4.0]
