from . import dunning_letter_report
