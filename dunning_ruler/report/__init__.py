from . import dunning_workload
