"""Publishes numbered messages to several topics at a steady rate until killed, printing
"R <topic> <n> <ledger> <entry>" for each receipt (the topic by its last name).

usage: produce_many.py SERVICE_URL TOPIC[,TOPIC…] RATE_PER_TOPIC
"""
import sys
import threading
import time

import pulsar

service_url, topics, rate = sys.argv[1], sys.argv[2].split(","), float(sys.argv[3])
client = pulsar.Client(service_url, operation_timeout_seconds=60)
producers = {
    topic: client.create_producer(topic, batching_enabled=False, send_timeout_millis=60000, block_if_queue_full=True)
    for topic in topics
}
lock = threading.Lock()


def receipt(topic, n):
    def done(result, message_id):
        with lock:
            if result == pulsar.Result.Ok:
                print("R %s %d %d %d" % (topic.split("/")[-1], n, message_id.ledger_id(), message_id.entry_id()), flush=True)
            else:
                print("E %s %d %s" % (topic.split("/")[-1], n, result), flush=True)
    return done


n = 0
start = time.time()
while True:
    for topic, producer in producers.items():
        producer.send_async(("%d" % n).encode(), receipt(topic, n))
    n += 1
    delay = start + n / rate - time.time()
    if delay > 0:
        time.sleep(delay)
