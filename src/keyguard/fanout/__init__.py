"""Revocation fan-out: what a commit changed, published through Redis to every process.

Public surface::

    Change(keys, throttles)                   # what one committed transaction changed
    watch(sessions, publish)                  # call `publish(change)` after each such commit
    Publisher(url, channel)                   # PUBLISH, never raising; pauses after a failure
    Subscriber(url, channel, apply, catch_up) # follows the channel, reconnecting with backoff
    Backoff(first, cap)                       # the subscriber's delays between reconnections

The database change feed (keyguard.verification.ChangeFeed) stays the fallback: a message
lost while Redis is away is caught by the feed's next poll, and a subscriber that reconnects
asks for a poll at once.
"""

from keyguard.fanout.changes import Change, watch
from keyguard.fanout.publisher import Publisher
from keyguard.fanout.subscriber import Backoff, Subscriber

__all__ = ["Backoff", "Change", "Publisher", "Subscriber", "watch"]
