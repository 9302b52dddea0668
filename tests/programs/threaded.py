"""threaded.py — a non-trivial multi-threaded Python workload for goheap's
LD_PRELOAD tests (tests/preload.rs). Its output is deterministic and must be
identical with and without goheap.

It exercises the interpreter's allocator paths (pymalloc arenas come from
malloc/mmap; big objects go straight to malloc), C extensions (json, re,
hashlib, zlib, sqlite3, decimal), threads that hand objects to each other
through queues, a fork-based multiprocessing pool and a subprocess (exec).
"""
import collections
import decimal
import gc
import hashlib
import json
import multiprocessing
import queue
import re
import sqlite3
import subprocess
import sys
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor


def lcg(seed):
    x = seed
    while True:
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        yield x


def job(n):
    rnd = lcg(n)
    words = ["w%d" % (next(rnd) % 5000) for _ in range(20000)]
    counts = collections.Counter(words)
    text = " ".join(words)
    found = len(re.findall(r"w1\d{2}\b", text))
    doc = {"n": n, "top": counts.most_common(5), "nested": [{"i": i, "s": str(i) * (i % 17)} for i in range(2000)]}
    blob = json.dumps(doc, sort_keys=True).encode()
    back = json.loads(zlib.decompress(zlib.compress(blob, 6)))
    digest = hashlib.sha256(blob).hexdigest()[:16]
    big = 1
    for i in range(1, 400 + n):
        big *= i
    decimal.getcontext().prec = 60
    d = sum(decimal.Decimal(1) / decimal.Decimal(k) for k in range(1, 2000))
    lists = sorted((next(rnd) % 100000 for _ in range(50000)))
    return (n, counts.most_common(1)[0], found, len(back["nested"]), digest, len(str(big)), str(d)[:20], lists[len(lists) // 2])


def sql_job(n):
    con = sqlite3.connect(":memory:")
    con.execute("create table t (k integer, v text)")
    con.executemany("insert into t values (?, ?)", ((i % 97, "v" * (i % 50)) for i in range(20000 + n)))
    rows = con.execute("select k, count(*), sum(length(v)) from t group by k order by k limit 3").fetchall()
    con.close()
    return n, rows


def producer(q, n):
    for i in range(5000):
        q.put(("item", n, i, [i] * (i % 32), "x" * (i % 300)))
    q.put(None)


def consumer(q, producers, out):
    done = total = 0
    while done < producers:
        item = q.get()
        if item is None:
            done += 1
            continue
        total += item[2] + len(item[3]) + len(item[4])
    out.append(total)


def square(x):
    return sum(i * i for i in range(x))


def main():
    with ThreadPoolExecutor(max_workers=8) as pool:
        for r in pool.map(job, range(16)):
            print("job", r)
        for r in pool.map(sql_job, range(4)):
            print("sql", r)

    q = queue.Queue(maxsize=1000)
    out = []
    threads = [threading.Thread(target=producer, args=(q, n)) for n in range(4)]
    threads.append(threading.Thread(target=consumer, args=(q, 4, out)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("queue total", out)

    # Lots of garbage with cycles, collected while threads run.
    def churn(k):
        nodes = []
        for i in range(20000):
            a, b = {"i": i}, {"k": k}
            a["b"], b["a"] = b, a
            nodes.append(a)
        del nodes
        return gc.collect() >= 0

    with ThreadPoolExecutor(max_workers=4) as pool:
        print("churn", all(pool.map(churn, range(8))))

    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as p:
        print("fork pool", p.map(square, [10, 100, 1000, 10000]))

    r = subprocess.run([sys.executable, "-c", "import json; print(json.dumps({'exec': [1, 2, 3]}))"],
                       capture_output=True, text=True, check=True)
    print("subprocess", r.stdout.strip())


if __name__ == "__main__":
    main()
