"""Sends numbered messages, pipelined, for DURATION seconds: bursts of 20 with send_async,
then a 10 ms pause. Prints "READY" once the producer exists and, at the end, after every
send has completed, "SENT <n> RECEIPTED <r> FAILED <f>". The client's warnings (a send
error from the broker, a reconnection) go to the output too.

usage: ordered_producer.py SERVICE_URL TOPIC DURATION
"""
import sys
import threading
import time

import pulsar

service_url, topic, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
client = pulsar.Client(service_url, operation_timeout_seconds=60, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Warn))
producer = client.create_producer(
    topic, batching_enabled=False, send_timeout_millis=120000, block_if_queue_full=True, max_pending_messages=500
)
print("READY", flush=True)
lock = threading.Lock()
outcomes = {"ok": 0, "failed": 0}


def completion(result, message_id):
    with lock:
        outcomes["ok" if result == pulsar.Result.Ok else "failed"] += 1


sent = 0
end = time.time() + duration
while time.time() < end:
    for _ in range(20):
        producer.send_async(("%d" % sent).encode(), completion)
        sent += 1
    time.sleep(0.01)
producer.flush()
print("SENT %d RECEIPTED %d FAILED %d" % (sent, outcomes["ok"], outcomes["failed"]), flush=True)
client.close()
