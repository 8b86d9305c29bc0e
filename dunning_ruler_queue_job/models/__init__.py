from . import dunning_engine
from . import dunning_run_batch
