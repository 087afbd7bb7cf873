"""Failover, planned transfer and scale-out of brokers, measured on this machine.

usage: cluster.py BIN_DIR [--trials N] [--duration SECONDS] [--topics K]

Three bookies (journal fsync on) and three brokers at their default settings (session
TTL 3 s) share a SQLite metadata file. It measures, in one run:
  (a) publish throughput through one broker, then through three on the same bookies:
      K publishers (tools/bench/publish.py, 1 KiB, batching <= 1 ms, LZ4), one topic each,
      the topics spread over the namespace's bundles;
  (b) failover: a producer sends one message at a time; the owner of its topic is killed
      (SIGKILL) and the time from the kill to the first receipt after it is taken; the
      broker is started again; N trials;
  (c) planned transfer: the topic's bundle is unloaded to another broker; the longest gap
      between consecutive receipts around it is the client-visible pause; N trials.
The last line is one JSON object with every figure.
"""
import argparse
import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib

import pulsar

parser = argparse.ArgumentParser()
parser.add_argument("bin")
parser.add_argument("--trials", type=int, default=20)
parser.add_argument("--duration", type=int, default=10)
parser.add_argument("--topics", type=int, default=4)
args = parser.parse_args()
here = os.path.dirname(os.path.abspath(__file__))
work = tempfile.mkdtemp(prefix="magnetar-cluster-bench-")
metadata = "sqlite:%s/metadata.db" % work
processes = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(log, text, count=1, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(log) and open(log, errors="replace").read().count(text) >= count:
            return
        time.sleep(0.05)
    raise SystemExit("no '%s' in %s" % (text, log))


def start(name, argv):
    log = "%s/%s.log" % (work, name)
    process = subprocess.Popen(argv, stdout=open(log, "a"), stderr=subprocess.STDOUT)
    processes.append(process)
    return process, log


def cleanup():
    for process in processes:
        if process.poll() is None:
            process.kill()
    subprocess.run(["rm", "-rf", work])


atexit.register(cleanup)

for i in range(3):
    os.makedirs("%s/bookie-%d" % (work, i))
    _, log = start("bookie-%d" % i, ["%s/bookie" % args.bin, "--id", "bench-%d" % i, "--listen", "127.0.0.1:%d" % free_port(), "--http-port", "0",
                                     "--journal-dir", "%s/bookie-%d/journal" % (work, i), "--ledger-dirs", "%s/bookie-%d/ledgers" % (work, i),
                                     "--metadata-url", metadata])
    wait_for(log, "bookie serving")

brokers = [{"port": free_port(), "http": free_port(), "starts": 0, "process": None} for _ in range(3)]


def start_broker(i):
    broker = brokers[i]
    broker["starts"] += 1
    broker["process"], log = start("broker-%d" % i, ["%s/broker" % args.bin, "--metadata-url", metadata, "--listen", "127.0.0.1:%d" % broker["port"],
                                                     "--http-port", str(broker["http"]), "--ensemble-size", "3", "--write-quorum", "3", "--ack-quorum", "2"])
    wait_for(log, "broker serving", broker["starts"])


class Redirect(urllib.request.HTTPRedirectHandler):
    """Follows a 307 with the same method, as Pulsar's admin clients do."""

    def redirect_request(self, request, fp, code, message, headers, url):
        return urllib.request.Request(url, method=request.get_method())


opener = urllib.request.build_opener(Redirect)


def http(i, method, path):
    request = urllib.request.Request("http://127.0.0.1:%d%s" % (brokers[i]["http"], path), method=method)
    with opener.open(request, timeout=30) as response:
        return response.status, response.read().decode()


def fail(message):
    subprocess.run(["cp", "-r", work, work + "-failed"])
    raise SystemExit("%s; the logs are in %s-failed" % (message, work))


def owner(topic, asking):
    problem = None
    for _ in range(300):
        try:
            _, body = http(asking, "GET", "/lookup/v2/topic/persistent/public/default/%s" % topic)
            url = json.loads(body)["brokerUrl"]
            return next(i for i, b in enumerate(brokers) if url.endswith(":%d" % b["port"]))
        except Exception as error:
            problem = error
            time.sleep(0.1)
    fail("no owner for %s (asking broker %d): %s" % (topic, asking, problem))


def percentiles(values):
    values = sorted(values)
    at = lambda q: round(values[min(len(values) - 1, int(q * len(values)))], 3)
    return {"p50": at(0.5), "p99": at(0.99), "max": round(values[-1], 3), "trials": len(values)}


def spread_topics(prefix, count):
    """Topic names whose hashes fall in different bundles of the four."""
    names, bundles, n = [], set(), 0
    while len(names) < count:
        name = "%s-%d" % (prefix, n)
        bundle = (zlib.crc32(("persistent://public/default/" + name).encode()) & 0xFFFFFFFF) >> 30
        if bundle not in bundles or len(bundles) == 4:
            bundles.add(bundle)
            names.append(name)
        n += 1
    return names


def publish(phase):
    topics = spread_topics("scale-%s" % phase, args.topics)
    urls = "pulsar://" + ",".join("127.0.0.1:%d" % b["port"] for b in brokers if b["process"] and b["process"].poll() is None)
    runs = [subprocess.Popen([sys.executable, "%s/publish.py" % here, urls, "persistent://public/default/" + topic, str(args.duration)],
                             stdout=subprocess.PIPE, text=True) for topic in topics]
    results = [json.loads(run.communicate()[0].strip().splitlines()[-1]) for run in runs]
    owners = sorted(set(owner(topic, 0) for topic in topics))
    rate = sum(r["msgRate"] for r in results)
    print("   %s: %d msg/s over %d topics, served by brokers %s" % (phase, rate, len(topics), owners), flush=True)
    return rate


print("== (a) publish throughput, %d publishers, %d s" % (args.topics, args.duration), flush=True)
start_broker(0)
one = publish("one")
start_broker(1)
start_broker(2)
http(0, "PUT", "/admin/v2/namespaces/public/default/unload")
time.sleep(6)  # a fresh load report from every broker
three = publish("three")

# (b) and (c): one producer sending one message at a time, its receipts timestamped.
client = pulsar.Client("pulsar://" + ",".join("127.0.0.1:%d" % b["port"] for b in brokers), operation_timeout_seconds=60)
producer = client.create_producer("persistent://public/default/moved", batching_enabled=False, send_timeout_millis=60000)
receipts = []
stop = threading.Event()


def send():
    while not stop.is_set():
        try:
            producer.send(b"x" * 100)
            receipts.append(time.time())
        except Exception:
            pass


sender = threading.Thread(target=send, daemon=True)
sender.start()
time.sleep(2)

print("== (b) failover after SIGKILL of the topic's owner, %d trials (session TTL 3 s, the default)" % args.trials, flush=True)
failovers = []
for trial in range(args.trials):
    victim = owner("moved", (owner("moved", 0) + 1) % 3)
    brokers[victim]["process"].send_signal(signal.SIGKILL)
    brokers[victim]["process"].wait()
    killed_at = time.time()  # Dead: any receipt from now on is the new owner's.
    deadline = killed_at + 120
    while time.time() < deadline:
        after = [t for t in receipts[-50:] if t > killed_at]
        if after:
            failovers.append(min(after) - killed_at)
            break
        time.sleep(0.01)
    else:
        fail("no receipt within 120 s of killing broker %d" % victim)
    print("   trial %d: broker %d killed, receipts again after %.3f s" % (trial + 1, victim, failovers[-1]), flush=True)
    start_broker(victim)
    time.sleep(1)

print("== (c) planned transfer (bundle unload to another broker), %d trials" % args.trials, flush=True)
pauses = []
for trial in range(args.trials):
    source = owner("moved", 0)
    destination = (source + 1) % 3
    _, bundle = http(0, "GET", "/lookup/v2/topic/persistent/public/default/moved/bundle")
    before = len(receipts)
    started = time.time()
    http(source, "PUT", "/admin/v2/namespaces/public/default/%s/unload?destinationBroker=127.0.0.1:%d" % (bundle, brokers[destination]["http"]))
    while owner("moved", source) != destination and time.time() < started + 30:
        time.sleep(0.05)
    time.sleep(1)
    window = receipts[max(0, before - 1):]
    pauses.append(max(b - a for a, b in zip(window, window[1:])) if len(window) > 1 else float("nan"))
    print("   trial %d: broker %d -> %d, longest pause %.3f s" % (trial + 1, source, destination, pauses[-1]), flush=True)

stop.set()
sender.join(timeout=5)
client.close()
print(json.dumps({"publishOneBroker": round(one), "publishThreeBrokers": round(three), "threeOverOne": round(three / one, 3),
                  "failoverSeconds": percentiles(failovers), "transferPauseSeconds": percentiles(pauses), "sessionTtlSeconds": 3}))
