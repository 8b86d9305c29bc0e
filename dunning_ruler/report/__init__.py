from . import dunning_letter_report
from . import dunning_workload
from . import dunning_effectiveness
