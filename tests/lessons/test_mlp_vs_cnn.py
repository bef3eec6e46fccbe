"""The MLP vs CNN lesson: the 12-megapixel example, its figure and snippet."""



from torch import nn

from lenet import (
    LeNetConfig,
    build_lenet,
    layer_table,
    count_parameters,
    mlp_parameter_count,
)
from lenet.core.units import human_count
from lenet.lessons.mlp_vs_cnn import LAYER_COLUMNS_HELP, LAYER_TABLE_TEXT, parameter_comparison, parameter_count_code, parameter_figure
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


def test_the_log_axis_is_in_powers_of_ten_throughout():
    """Plotly's default labels a wide log axis 1M, 1B, 1T and then 10^15: one notation instead."""
    for size in ((3000, 4000, 3), (224, 224, 3), (28, 28, 1)):
        axis = parameter_figure(parameter_comparison(*size, 100)).layout.xaxis
        assert axis.type == "log" and axis.exponentformat == "power" and axis.showexponent == "all"
        assert axis.dtick in (1, 2, 3)


def test_the_labels_say_what_each_bar_is():
    table = parameter_comparison(3000, 4000, 3, 100, 6, 5)
    assert table["layer"][1] == "A dense layer making as many outputs as the conv layer (6 × 3000 × 4000)"
    bars = parameter_figure(table).data[0]
    assert all(len(part) <= 40 for label in bars.y for part in label.split("<br>"))
    assert [label.replace("<br>", " ") for label in bars.y] == list(table["layer"])


def test_macs_and_activation_bytes_are_explained():
    columns = set(layer_table(LeNetConfig.classic()).columns)
    assert {"MACs", "activation bytes"} <= set(LAYER_COLUMNS_HELP) <= columns
    assert "multipl" in LAYER_COLUMNS_HELP["MACs"] and "4 bytes" in LAYER_COLUMNS_HELP["activation bytes"]
    assert "**MACs**" in LAYER_TABLE_TEXT and "**Activation bytes**" in LAYER_TABLE_TEXT
