from . import bulk
from . import webhook
from . import security
