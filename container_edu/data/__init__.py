"""Dataset readers for container_edu."""

from container_edu.data.fashion_mnist import (
    CLASS_NAMES,
    DEFAULT_DATA_DIR,
    ENV_VAR,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    IDX_DTYPES,
    IMAGE_SIZE,
    NUM_CLASSES,
    SPLIT_FILES,
    DatasetError,
    load_fashion_mnist,
    read_idx,
    resolve_data_dir,
    to_model_input,
    train_val_split,
)

__all__ = [
    "CLASS_NAMES",
    "DEFAULT_DATA_DIR",
    "ENV_VAR",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "IDX_DTYPES",
    "IMAGE_SIZE",
    "NUM_CLASSES",
    "SPLIT_FILES",
    "DatasetError",
    "load_fashion_mnist",
    "read_idx",
    "resolve_data_dir",
    "to_model_input",
    "train_val_split",
]
