"""LeNet Lab's library: the maths, the models, the data and the training, without any UI.

Layers, each importing only those below it: core (maths, LeNetConfig) <- data <- training <- inspection,
lessons, plots <- environment and the commands (train, bench, snapshot_bench, screenshots). See
docs/architecture.md.
"""

from .core.kernels import EDGE_KERNEL, edge_image, learn_kernel
from .core.model import (
    INIT_SCHEMES,
    LeNetConfig,
    build_lenet,
    count_parameters,
    estimate_training_memory,
    init_weights,
    layer_table,
    plan_layers,
)
from .core.ops import (
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
from .core.shapes import (
    conv_output_shape,
    conv_parameter_count,
    dense_equivalent_parameter_count,
    mlp_parameter_count,
    pool_output_shape,
)
from .inspection import Evaluation, evaluate
from .training import (
    PRESETS,
    OpenedRun,
    Progress,
    Run,
    TrainResult,
    TrainSettings,
    accuracy,
    available_devices,
    delete_run,
    export_run,
    import_run,
    list_runs,
    load_model,
    load_run,
    new_run_dir,
    open_run,
    pick_device,
    preset,
    rename_run,
    save_run,
)
