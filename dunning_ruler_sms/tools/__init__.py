from .quiet_hours import next_window_opening
from .sms_segments import sms_segment_info
