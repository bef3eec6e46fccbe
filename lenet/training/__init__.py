"""Training: settings and presets, devices, the engine, run folders, snapshots, and background jobs."""

from .devices import available_devices, peak_memory_mb, pick_device, synchronize
from .engine import Progress, TrainResult, accuracy, augment_batch, train
from .folders import new_run_dir
from .jobs import Job, JobRegistry, TrainingCapacityError, TrainingJob
from .run_zips import export_run, import_run
from .runs import (
    OpenedRun,
    Run,
    delete_run,
    list_runs,
    load_model,
    load_run,
    load_timeline,
    open_run,
    rename_run,
    save_run,
    untrained_run,
)
from .settings import (
    DEVICES,
    HISTORY_COLUMNS,
    OPTIMIZERS,
    PRESETS,
    SCHEDULES,
    TrainSettings,
    preset,
)
from .snapshots import Timeline
