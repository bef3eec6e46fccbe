"""Data: the datasets as resident uint8 tensors, pictures a user uploads, and atomic file writes."""

from .datasets import (
    CLASS_NAMES,
    DATASETS,
    PROJECT_DATA_DIR,
    DatasetNotFoundError,
    Split,
    available_datasets,
    candidate_dirs,
    data_source,
    load_split,
    to_batch,
    torchvision_dataset,
)
