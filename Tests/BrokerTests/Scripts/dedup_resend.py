"""Connects as producer NAME, prints "LAST <id>", sends again the numbers FIRST..LAST_SENT
(each with its number as sequence id, as a producer resending after a failure does), then
EXTRA new ones after the broker's last sequence id; prints "D <n> <ledger> <entry>" for
each resend's receipt and "N <n>" for each new one, then "OK".

usage: dedup_resend.py SERVICE_URL TOPIC NAME FIRST LAST_SENT EXTRA
"""
import sys

import pulsar

service_url, topic, name, first, last_sent, extra = sys.argv[1:7]
client = pulsar.Client(service_url, operation_timeout_seconds=30)
producer = client.create_producer(topic, producer_name=name, batching_enabled=False)
last = producer.last_sequence_id()
print("LAST %d" % last, flush=True)
for n in range(int(first), int(last_sent) + 1):
    message_id = producer.send(("%d" % n).encode(), sequence_id=n)
    print("D %d %d %d" % (n, message_id.ledger_id(), message_id.entry_id()), flush=True)
for n in range(last + 1, last + 1 + int(extra)):
    producer.send(("%d" % n).encode(), sequence_id=n)
    print("N %d" % n, flush=True)
producer.close()
client.close()
print("OK", flush=True)
