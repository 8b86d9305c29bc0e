from . import dunning_hold_wizard
from . import dunning_run_status
from . import dunning_preview_line
from . import dunning_preview
from . import dunning_manual_wizard
from . import dunning_dispute_wizard
from . import dunning_reason_wizard
from . import dunning_assign_wizard
