from . import test_config
from . import test_engine
from . import test_security
from . import test_workspace
from . import test_letter
from . import test_effectiveness
from . import test_tours
