"""One base class for every expected failure.

A stage or ``lbb`` command that raises a subclass of :class:`BloodbankError` ends with
one line naming the file, key or cell and the cause, never a traceback. Each domain
module defines its own subclass next to the code that raises it; this module imports
none of them, so catching expected errors costs no imports.
"""

from __future__ import annotations


class BloodbankError(Exception):
    """An expected failure: bad input, bad params, a broken download. Its message is the
    whole report the user sees."""
