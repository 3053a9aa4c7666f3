"""resnet_lib: the models, cost accounting, data and training loop behind resnet-book."""

from . import complexity, data, models, plots, runsize, train
from .complexity import count_macs, count_params, profile, stage_table
from .models import build, model_names

__version__ = "0.1.0"
__all__ = ["models", "complexity", "data", "train", "plots", "runsize", "build", "model_names", "count_params", "count_macs",
           "profile", "stage_table", "__version__"]
