"""The MLP vs CNN lesson: the 12-megapixel example, its figure and snippet."""



from torch import nn

from lenet import (
    LeNetConfig,
    build_lenet,
    count_parameters,
    mlp_parameter_count,
)
from lenet.core.units import human_count
from lenet.lessons.mlp_vs_cnn import parameter_comparison, parameter_count_code
from helpers import run_snippet


def test_parameter_comparison_twelve_megapixels():
    table = parameter_comparison(3000, 4000, 3, 100, 6, 5)
    dense, dense_same, conv, lenet = table["parameters"].tolist()
    assert dense == mlp_parameter_count(3 * 3000 * 4000, [100]) == 36_000_000 * 100 + 100
    assert table["float32 memory"][0] == "14.4 GB" and human_count(dense) == "3.6 billion"
    assert conv == count_parameters(nn.Conv2d(3, 6, 5))
    assert dense_same == count_parameters(nn.Linear(3 * 3000 * 4000, 6 * 3000 * 4000, device="meta"))
    assert lenet == count_parameters(build_lenet(LeNetConfig.classic())) == 61_706
    assert (table["float32 bytes"] == 4 * table["parameters"]).all()


def test_parameter_count_snippet():
    ns = run_snippet(parameter_count_code(3000, 4000, 3, 100, 6, 5))
    table = parameter_comparison(3000, 4000, 3, 100, 6, 5)
    assert [ns["dense"], ns["conv"], ns["lenet"]] == [table["parameters"][i] for i in (0, 2, 3)]
