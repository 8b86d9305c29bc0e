from . import bulk
from . import webhook
from . import security
from . import redact
