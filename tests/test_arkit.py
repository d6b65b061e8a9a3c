"""ICT <-> ARKit mapping."""

import torch

from emoca.facemodel.arkit import ARKIT_NAMES, arkit_name, arkit_to_ict, ict_to_arkit
from emoca.facemodel.ict_files import EXPRESSION_NAMES


def test_arkit_has_52_unique_names_and_every_ict_shape_maps_into_it():
    assert len(ARKIT_NAMES) == 52 == len(set(ARKIT_NAMES))
    assert {arkit_name(n) for n in EXPRESSION_NAMES} == set(ARKIT_NAMES) - {"tongueOut"}


def test_sides_and_merged_pairs():
    weights = torch.zeros(53)
    weights[EXPRESSION_NAMES.index("mouthSmile_L")] = 0.7
    weights[EXPRESSION_NAMES.index("browInnerUp_L")] = 0.2
    weights[EXPRESSION_NAMES.index("browInnerUp_R")] = 0.6
    arkit = ict_to_arkit(weights)
    assert arkit[ARKIT_NAMES.index("mouthSmileLeft")] == torch.tensor(0.7)
    assert arkit[ARKIT_NAMES.index("mouthSmileRight")] == 0
    torch.testing.assert_close(arkit[ARKIT_NAMES.index("browInnerUp")], torch.tensor(0.4))
    assert arkit[ARKIT_NAMES.index("tongueOut")] == 0


def test_round_trip_ict_arkit_ict_where_merged_pairs_agree():
    torch.manual_seed(0)
    weights = torch.rand(4, 53, dtype=torch.float64)
    for name in ("browInnerUp", "cheekPuff"):
        weights[:, EXPRESSION_NAMES.index(f"{name}_R")] = weights[:, EXPRESSION_NAMES.index(f"{name}_L")]
    torch.testing.assert_close(arkit_to_ict(ict_to_arkit(weights)), weights)


def test_round_trip_arkit_ict_arkit_drops_only_tongue_out():
    torch.manual_seed(1)
    coefficients = torch.rand(3, 52, dtype=torch.float64)
    back = ict_to_arkit(arkit_to_ict(coefficients))
    keep = torch.tensor([n != "tongueOut" for n in ARKIT_NAMES])
    torch.testing.assert_close(back[:, keep], coefficients[:, keep])
    assert (back[:, ~keep] == 0).all()
