from . import dunning_hold_wizard
from . import dunning_reason_wizard
from . import dunning_assign_wizard
