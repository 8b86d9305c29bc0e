from . import bulk
from . import webhook
