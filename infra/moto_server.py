"""moto's server, with two hot spots of its SQS made cheap.

moto 5.2.1 works out a queue's approximate message counts (scans of every
message in the queue, each message reading the clock) for every message sent
and, through its retention check, for every message received; and its clock
builds two datetimes a reading. At 2,000 queued messages one
SendMessageBatch took about a second of CPU and one ReceiveMessage two, so a
large tick measured moto rather than our code. Here the clock is read with
time.time() (the same seconds since the Unix epoch, about thirty times
faster) and the retention check reads the queue's retention period directly,
as the counts play no part in it. Nothing else changes.
"""

import sys
import time

import moto.sqs.models as sqs_models
from moto.core import utils
from moto.server import main


def unix_time(dt=None):
    return time.time() if dt is None else utils.unix_time(dt)


def unix_time_millis(dt=None):
    return time.time() * 1000.0 if dt is None else utils.unix_time_millis(dt)


def is_message_valid_based_on_retention_period(self, queue_name, message):
    retention_period = int(self.get_queue(queue_name).message_retention_period)
    return retention_period + message.sent_timestamp / 1000 > time.time()


sqs_models.unix_time = unix_time
sqs_models.unix_time_millis = unix_time_millis
sqs_models.SQSBackend.is_message_valid_based_on_retention_period = (
    is_message_valid_based_on_retention_period
)

if __name__ == "__main__":
    sys.exit(main())
