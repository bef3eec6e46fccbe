"""Values read from JSON checked against a dataclass's fields before it is built (lenet.core.fields)."""

import dataclasses

import pytest

from lenet import LeNetConfig, TrainSettings
from lenet.core.fields import check_field_types


@pytest.mark.parametrize("cls", [LeNetConfig, TrainSettings])
def test_every_field_of_the_run_dataclasses_is_checked_and_their_defaults_fit(cls):
    check_field_types(cls, cls().to_dict())  # an annotation the checker did not know would be a KeyError here


@pytest.mark.parametrize("field, value, words", [
    ("in_channels", 1.0, "in_channels must be a whole number"),
    ("in_channels", True, "in_channels must be a whole number"),
    ("in_channels", 2**63, "in_channels must be a whole number"),
    ("conv_channels", [6, float("inf")], "conv_channels must be a list of whole numbers"),
    ("conv_channels", "6, 16", "conv_channels must be a list of whole numbers"),
    ("dense_inputs", "400", "dense_inputs must be a whole number or null"),
    ("pool_after", [1, 0], "pool_after must be a list of true/false values or null"),
    ("normalize_std", float("nan"), "normalize_std must be a finite number"),
    ("normalize_mean", None, "normalize_mean must be a finite number"),
    ("activation", 3, "activation must be a text"),
    ("batch_norm", "yes", "batch_norm must be true or false"),
])
def test_a_value_of_the_wrong_kind_is_refused_by_name(field, value, words):
    with pytest.raises(ValueError, match=words):
        LeNetConfig.from_dict(LeNetConfig().to_dict() | {field: value})


def test_good_values_pass_and_odd_keys_and_shapes_are_refused():
    config = LeNetConfig.from_dict({"conv_channels": [6, 16, 32], "kernel_sizes": [5, 5, 3], "paddings": [2, 0, 1],
                                    "strides": [1, 1, 1], "dense_inputs": None, "normalize_mean": 0,
                                    "pool_after": [True, True, False]})
    assert config.conv_channels == (6, 16, 32) and config.pool_after == (True, True, False)
    with pytest.raises(ValueError, match="Unknown LeNetConfig fields: 'colour'"):
        LeNetConfig.from_dict({"colour": "red"})
    with pytest.raises(ValueError, match="LeNetConfig must be a JSON object of fields, not list"):
        LeNetConfig.from_dict([1, 2])
    with pytest.raises(ValueError, match="lr must be a finite number"):
        check_field_types(TrainSettings, {"lr": float("inf")})
    assert {f.name for f in dataclasses.fields(TrainSettings)} >= {"lr", "epochs", "subset"}
