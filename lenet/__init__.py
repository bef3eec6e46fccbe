"""LeNet Lab's library: the maths, the models, the data and the training, without any UI."""

from .kernels import EDGE_KERNEL, edge_image, learn_kernel
from .model import (
    INIT_SCHEMES,
    LeNetConfig,
    build_lenet,
    count_parameters,
    estimate_training_memory,
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
from .runs import (
    Run,
    delete_run,
    export_run,
    import_run,
    list_runs,
    load_model,
    load_run,
    new_run_dir,
    rename_run,
    runs_root,
    save_run,
)
from .train import (  # the train() function itself stays lenet.train.train, so that lenet.train remains the module
    PRESETS,
    Progress,
    TrainResult,
    TrainSettings,
    available_devices,
    evaluate,
    pick_device,
    preset,
)
