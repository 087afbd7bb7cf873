"""Producers with explicit sequence numbers, until the file STOP_FILE exists; then waits
for every pending send and exits. (A file rather than a signal: the client library's
threads leave signals pending.) Prints "R <producer> <seq> <ledger> <entry>" for each
receipted message, "E <producer> <seq> <result>" for each failed one, and
"DONE <producer> <sent>" at the end.

usage: fault_producer.py SERVICE_URL TOPIC NAME[,NAME…] RATE_PER_PRODUCER STOP_FILE
"""
import os
import sys
import threading
import time

import pulsar

service_url, topic, names, rate, stop_file = sys.argv[1], sys.argv[2], sys.argv[3].split(","), float(sys.argv[4]), sys.argv[5]
client = pulsar.Client(service_url, operation_timeout_seconds=15)
lock = threading.Lock()


def connect(name):
    while True:
        try:
            return client.create_producer(topic, producer_name=name, batching_enabled=False, send_timeout_millis=0,
                                          block_if_queue_full=True, max_pending_messages=2000)
        except Exception as error:  # A broker down or moving: try again.
            with lock:
                print("W %s cannot connect yet: %s" % (name, error), flush=True)
            time.sleep(0.5)


producers = [(name, connect(name)) for name in names]


def receipt(name, n):
    def done(result, message_id):
        with lock:
            if result == pulsar.Result.Ok:
                print("R %s %d %d %d" % (name, n, message_id.ledger_id(), message_id.entry_id()), flush=True)
            else:
                print("E %s %d %s" % (name, n, result), flush=True)
    return done


with lock:
    print("STARTED", flush=True)
n = 0
start = time.time()
while not os.path.exists(stop_file):
    for name, producer in producers:
        producer.send_async(("%s %d" % (name, n)).encode(), receipt(name, n), sequence_id=n)
    n += 1
    delay = start + n / rate - time.time()
    if delay > 0:
        time.sleep(delay)
for name, producer in producers:
    producer.flush()
    with lock:
        print("DONE %s %d" % (name, n), flush=True)
client.close()
