"""The one wording of a state dict that does not fit a model (every strict loader uses it)."""

import torch

from holefill.state_dicts import state_dict_problems


def test_missing_unexpected_and_misshapen_keys_are_counted_and_named() -> None:
    own = {f"b{i}.weight": torch.zeros(2) for i in range(5)} | {"head.bias": torch.zeros(16), "fc.weight": torch.zeros(1)}
    state = {"b0.weight": torch.zeros(2), "head.bias": torch.zeros(8), "extra": torch.zeros(1)}
    assert state_dict_problems(own, state, optional={"fc.weight"}) == [
        "4 missing (e.g. b1.weight, b2.weight, b3.weight, ...)",
        "1 unexpected (e.g. extra)",
        "1 of the wrong shape (e.g. head.bias: the file has (8,), the model needs (16,))",
    ]
    # Without the optional key it counts as missing; order sorts the examples; owner names the model.
    assert state_dict_problems(own, state, examples=1, owner="vgg19", order=lambda k: (not k.startswith("fc"), k))[::2] == [
        "5 missing (e.g. fc.weight, ...)",
        "1 of the wrong shape (e.g. head.bias: the file has (8,), vgg19 needs (16,))",
    ]
    assert state_dict_problems(own, dict(own)) == []
