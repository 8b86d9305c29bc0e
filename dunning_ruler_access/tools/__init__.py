from . import platform_api
from . import traccar_api
from . import webhook_api
