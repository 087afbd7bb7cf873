"""Publishes 1 KiB messages with the real Pulsar client and reports rates and latencies.

usage: publish.py SERVICE_URL TOPIC DURATION_SECONDS [--size BYTES] [--tail]

Async sends, batching of at most 1 ms, LZ4; publish latency is sampled on one message in
16 (see below), and a failed send fails the flush at the end. With --tail a consumer in another process
reads the topic as it is written and reports end-to-end latency (publish to receive).
The last line is one JSON object: {"msgRate", "mbPerSec", "latencyMs": {p50, p99, p999,
max}} and, with --tail, "endToEndMs" of the same shape and "consumed".
"""
import argparse
import json
import multiprocessing
import os
import threading
import time

import pulsar


def summary(nanoseconds):
    if not nanoseconds:
        return {"p50": None, "p99": None, "p999": None, "max": None}
    values = sorted(nanoseconds)

    def at(q):
        return round(values[min(len(values) - 1, int(q * len(values)))] / 1e6, 3)
    return {"p50": at(0.50), "p99": at(0.99), "p999": at(0.999), "max": round(values[-1] / 1e6, 3)}


def tail(service_url, topic, ready, results):
    client = pulsar.Client(service_url, operation_timeout_seconds=30)
    consumer = client.subscribe(topic, "tail", receiver_queue_size=10000)
    ready.set()
    latencies = []
    while True:
        try:
            message = consumer.receive(timeout_millis=5000)
        except pulsar.Timeout:
            break
        latencies.append(time.time_ns() - int(message.data()[:19]))
        if len(latencies) % 1000 == 0:
            consumer.acknowledge_cumulative(message)
    results.put({"consumed": len(latencies), "endToEndMs": summary(latencies)})
    client.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("service_url")
    parser.add_argument("topic")
    parser.add_argument("duration", type=float)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--tail", action="store_true")
    arguments = parser.parse_args()

    results = multiprocessing.Queue()
    consumer = None
    if arguments.tail:
        ready = multiprocessing.Event()
        consumer = multiprocessing.Process(target=tail, args=(arguments.service_url, arguments.topic, ready, results))
        consumer.start()
        ready.wait(60)

    client = pulsar.Client(arguments.service_url, operation_timeout_seconds=30)
    producer = client.create_producer(
        arguments.topic, batching_enabled=True, batching_max_publish_delay_ms=1, batching_max_messages=1000,
        batching_max_allowed_size_in_bytes=128 * 1024, compression_type=pulsar.CompressionType.LZ4,
        max_pending_messages=5000, block_if_queue_full=True, send_timeout_millis=30000)
    body = os.urandom(max(0, arguments.size - 19))
    latencies = []
    failures = [0]
    lock = threading.Lock()

    def sent(started):
        def done(result, message_id):
            finished = time.monotonic_ns()
            with lock:
                if result == pulsar.Result.Ok:
                    latencies.append(finished - started)
                else:
                    failures[0] += 1
        return done

    # Every receipt callback takes the GIL on the client's own thread, and that handoff,
    # not the broker, limits a Python publisher: latency is sampled on one message in
    # `sample`, the rest are counted when flushed.
    sample = 16
    sent_count = 0
    start = time.monotonic()
    deadline = start + arguments.duration
    while time.monotonic() < deadline:
        for index in range(sample * 8):
            payload = b"%019d" % time.time_ns() + body
            producer.send_async(payload, sent(time.monotonic_ns()) if index % sample == 0 else None)
        sent_count += sample * 8
    producer.flush()
    elapsed = time.monotonic() - start
    producer.close()
    client.close()

    report = {
        "msgRate": round(sent_count / elapsed, 1),
        "mbPerSec": round(sent_count * arguments.size / elapsed / 1e6, 2),
        "latencyMs": summary(latencies),
        "failed": failures[0],
    }
    if consumer is not None:
        report.update(results.get(timeout=120))
        consumer.join(30)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
