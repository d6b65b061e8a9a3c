"""The emotion metrics on answers worked out by hand."""

import numpy as np
import pytest

from emoca.datasets.helen import nme_figures, nme_summary
from emoca.metrics import accuracy, ccc, macro_f1, pcc, rmse, sagr


def test_accuracy_and_macro_f1_known_answers():
    target = [0, 0, 1, 1, 2, 2]
    prediction = [0, 1, 1, 1, 2, 0]
    assert accuracy(prediction, target) == pytest.approx(4 / 6)
    # class 0: TP 1, predicted 2, true 2 -> 0.5; class 1: TP 2, predicted 3, true 2 -> 0.8;
    # class 2: TP 1, predicted 1, true 2 -> 2/3
    assert macro_f1(prediction, target, 8) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert macro_f1(target, target, 8) == 1.0
    # a class only predicted (never true) counts, with F1 0
    assert macro_f1([3, 0], [0, 0], 8) == pytest.approx((2 / 3 + 0) / 2)


def test_regression_metrics_known_answers():
    target = np.array([-0.5, 0.0, 0.5, 1.0])
    assert ccc(target, target) == pytest.approx(1.0)
    assert pcc(target, target) == pytest.approx(1.0)
    assert pcc(-target, target) == pytest.approx(-1.0)
    shifted = target + 0.5  # perfectly correlated but biased: CCC < PCC
    assert pcc(shifted, target) == pytest.approx(1.0)
    variance = target.var()  # 0.3125
    assert ccc(shifted, target) == pytest.approx(2 * variance / (2 * variance + 0.25))
    assert rmse(shifted, target) == pytest.approx(0.5)
    assert sagr(shifted, target) == pytest.approx(0.75)  # 0.0 -> 0.5 changes sign; -0.5 -> 0.0 does not
    assert pcc(np.zeros(4), target) == 0.0


def test_metrics_refuse_mismatched_or_empty_inputs():
    with pytest.raises(ValueError):
        accuracy([1, 2], [1])
    with pytest.raises(ValueError):
        ccc([], [])


def test_helen_nme_figures_known_answer():
    """The mean covers the photos at or under 10% NME; the rest, and photos without a face (inf), fail."""
    errors = [0.03, 0.05, float("inf"), 0.2]
    assert nme_figures(errors) == {"nme": 4.0, "failure": 50.0}
    assert nme_summary(errors) == "mean NME (<=10%) 4.00%, failure 50.0%"
