from . import test_access_flow
from . import test_guards
from . import test_outbox
from . import test_outbox_concurrency
from . import test_outbox_faults
from . import test_platform_api
from . import test_portal
from . import test_security
