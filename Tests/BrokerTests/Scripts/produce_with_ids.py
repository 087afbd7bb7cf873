"""Sends numbered messages until killed, printing "R <n> <ledger> <entry>" for each
receipted one (its message id), "E <n> <error>" for a failed send (sent again).

usage: produce_with_ids.py SERVICE_URL TOPIC [PAUSE_MS [SIZE]]
Each payload is the number, padded with spaces to SIZE bytes (default: no padding).
"""
import sys
import time

import pulsar

service_url, topic = sys.argv[1:3]
pause = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0
size = int(sys.argv[4]) if len(sys.argv) > 4 else 0
client = pulsar.Client(service_url, operation_timeout_seconds=60)
producer = client.create_producer(topic, batching_enabled=False, send_timeout_millis=60000, block_if_queue_full=True)
n = 0
while True:
    try:
        message_id = producer.send(("%d" % n).ljust(size).encode())
        print("R %d %d %d %.3f" % (n, message_id.ledger_id(), message_id.entry_id(), time.time()), flush=True)
        n += 1
        if pause:
            time.sleep(pause)
    except Exception as error:  # The client retries on its own; this send failed for good.
        print("E %d %s" % (n, error), flush=True)
