from . import dunning_hold_wizard
