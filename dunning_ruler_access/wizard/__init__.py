from . import dunning_access_trust_wizard
