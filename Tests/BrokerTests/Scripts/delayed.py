"""Delayed delivery across a broker restart, in two phases.

usage: delayed.py SERVICE_URL TOPIC publish DELAY_MS COUNT
       delayed.py SERVICE_URL TOPIC receive COUNT
       delayed.py SERVICE_URL TOPIC retry

publish: subscribes "shared" (Shared) and "exclusive" (Exclusive); sends COUNT messages
"d<i>" delivered DELAY_MS later and COUNT "now<i>" at once; checks the Shared subscription
gets every "now" message and no "d" one, and the Exclusive one every message at once;
prints "DUE <ms since 1970>" for the earliest delivery time, then "OK".
receive: receives COUNT messages on "shared", prints "R <name> <ms since 1970>" for each
on arrival, acknowledges them, checks nothing more comes within 3 s, then prints "OK".
retry: the flows clients build on delivery times: a consumer sends a message it cannot
handle yet to TOPIC-RETRY, delivered 2 s later, and acknowledges it; a Shared consumer of
the retry topic gets it no sooner, negatively acknowledges it, gets it again (redelivery
count 1), and after a second negative acknowledgement it goes to TOPIC-DLQ (dead-letter
policy, one redelivery); prints "OK".
"""
import sys
import time

import pulsar

service_url, topic, mode = sys.argv[1:4]
client = pulsar.Client(service_url, operation_timeout_seconds=30)


def now_ms():
    return int(time.time() * 1000)


if mode == "publish":
    delay, count = int(sys.argv[4]), int(sys.argv[5])
    shared = client.subscribe(topic, "shared", consumer_type=pulsar.ConsumerType.Shared)
    exclusive = client.subscribe(topic, "exclusive", consumer_type=pulsar.ConsumerType.Exclusive)
    producer = client.create_producer(topic, batching_enabled=False)
    due = now_ms() + delay
    for i in range(count):
        producer.send(("d%d" % i).encode(), deliver_after=__import__("datetime").timedelta(milliseconds=delay))
        producer.send(("now%d" % i).encode())
    print("DUE %d" % due, flush=True)
    got = set()
    while len(got) < count:
        message = shared.receive(timeout_millis=10000)
        name = message.data().decode()
        assert name.startswith("now"), "%s delivered before its time" % name
        got.add(name)
        shared.acknowledge(message)
    try:
        early = shared.receive(timeout_millis=500)
        raise AssertionError("%s delivered early" % early.data().decode())
    except pulsar.Timeout:
        pass
    at_once = [exclusive.receive(timeout_millis=10000).data().decode() for _ in range(2 * count)]
    assert sorted(at_once) == sorted(["d%d" % i for i in range(count)] + ["now%d" % i for i in range(count)]), at_once
    producer.close()
    print("OK", flush=True)
elif mode == "retry":
    import datetime
    work = client.subscribe(topic, "work", consumer_type=pulsar.ConsumerType.Shared)
    retry_topic, dead_topic = topic + "-RETRY", topic + "-DLQ"
    dead = client.subscribe(dead_topic, "dead", consumer_type=pulsar.ConsumerType.Shared)
    retried = client.subscribe(retry_topic, "work", consumer_type=pulsar.ConsumerType.Shared,
                               negative_ack_redelivery_delay_ms=300,
                               dead_letter_policy=pulsar.ConsumerDeadLetterPolicy(max_redeliver_count=1,
                                                                                   dead_letter_topic=dead_topic))
    client.create_producer(topic).send(b"job")
    message = work.receive(timeout_millis=10000)
    sent_at = now_ms()
    client.create_producer(retry_topic).send(message.data(), deliver_after=datetime.timedelta(seconds=2))
    work.acknowledge(message)
    again = retried.receive(timeout_millis=10000)
    assert again.data() == b"job" and now_ms() >= sent_at + 2000 - 50, "retried after %d ms" % (now_ms() - sent_at)
    retried.negative_acknowledge(again)
    redelivered = retried.receive(timeout_millis=10000)
    assert redelivered.data() == b"job" and redelivered.redelivery_count() == 1, redelivered.redelivery_count()
    retried.negative_acknowledge(redelivered)
    assert dead.receive(timeout_millis=15000).data() == b"job"
    print("OK", flush=True)
else:
    count = int(sys.argv[4])
    shared = client.subscribe(topic, "shared", consumer_type=pulsar.ConsumerType.Shared)
    for _ in range(count):
        message = shared.receive(timeout_millis=60000)
        print("R %s %d" % (message.data().decode(), now_ms()), flush=True)
        shared.acknowledge(message)
    try:
        extra = shared.receive(timeout_millis=3000)
        raise AssertionError("%s delivered again" % extra.data().decode())
    except pulsar.Timeout:
        pass
    print("OK", flush=True)
client.close()
