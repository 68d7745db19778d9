"""A safety net for application logs: a NIR that slipped into a message is masked.

Code must not log personal data in the first place (log record ids); this
filter, attached to every handler in settings.LOGGING, catches mistakes for
the one identifier that has a recognisable shape. Names cannot be caught this
way: tests/audit/test_no_personal_data_in_logs.py checks that none is logged.
"""

from __future__ import annotations

import logging
import re

# 13 or 15 characters: sex, year, month, département (digits or 2A/2B),
# commune, order, optional key; spaces allowed between the groups.
NIR_PATTERN = re.compile(
    r"(?<![0-9A-Za-z])[1-478] ?\d{2} ?\d{2} ?(?:\d{2}|2[ABab]) ?\d{3} ?\d{3}(?: ?\d{2})?(?![0-9A-Za-z])"
)
MASK = "[NIR masqué]"


def mask_personal_data(text: str) -> str:
    return NIR_PATTERN.sub(MASK, text)


class MaskPersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_personal_data(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, masked, so that the handler does not redo it unmasked.
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = mask_personal_data(formatted)
            record.exc_info = None
        return True
