from . import test_segments_quiet_hours
from . import test_dunning_sms
from . import test_http_gateway
from . import test_webhook
from . import test_security
from . import test_whatsapp
from . import test_notice_truth
