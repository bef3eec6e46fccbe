"""LeNet Lab's library: the maths, the models, the data and the training, without any UI."""

from .kernels import EDGE_KERNEL, edge_image, learn_kernel
from .model import (
    INIT_SCHEMES,
    LeNetConfig,
    build_lenet,
    count_parameters,
    init_weights,
    layer_table,
    plan_layers,
)
from .ops import (
    Conv2D,
    conv1d,
    convolve2d,
    corr2d,
    corr2d_1x1,
    corr2d_fast,
    corr2d_multi_in,
    corr2d_multi_in_out,
    pool2d,
)
from .shapes import (
    conv_output_shape,
    conv_parameter_count,
    dense_equivalent_parameter_count,
    mlp_parameter_count,
    pool_output_shape,
)
