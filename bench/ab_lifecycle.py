"""A/B of two pypod trees (or pypod and podman), interleaved, per life-cycle step: wall and CPU.

CPU is user+sys of the command and the children it waits for (getrusage RUSAGE_CHILDREN); conmon
and the exit command it runs are detached, so they are not in it.  Each engine needs its own roots
with localhost/busybox:latest loaded.  Usage:
  python bench/ab_lifecycle.py REPS '{"old": ["/tmp/old/pypod", "--root", ...], "new": [".venv/bin/pypod", "--root", ...]}'
ONLY_RUN=1 measures `run --rm` alone.
"""
import json, os, resource, statistics, subprocess, sys, time
n = int(sys.argv[1]); trees = json.loads(sys.argv[2])  # label -> [argv prefix]
img = "localhost/busybox:latest"
res = {}
def step(label, name, argv):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN); t0 = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, timeout=120)
    t1 = time.perf_counter(); r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode: print(label, name, out.stderr.decode()[:200], file=sys.stderr)
    w, c = res.setdefault((label, name), ([], []))
    w.append((t1 - t0) * 1000); c.append((r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1000)
    return out.stdout.decode().strip()
for i in range(n + 1):
    for label, pre in trees.items():
        if os.environ.get("ONLY_RUN"):
            step(label, "run --rm", pre + ["run", "--rm", "--network", "none", img, "true"]); continue
        cid = step(label, "create", pre + ["create", "--network", "none", img, "sleep", "100"])
        step(label, "start", pre + ["start", cid]); step(label, "stop -t 0", pre + ["stop", "-t", "0", cid])
        time.sleep(0.3)  # let the exit command finish so it does not land in the next step
        step(label, "rm", pre + ["rm", cid])
        step(label, "run --rm", pre + ["run", "--rm", "--network", "none", img, "true"])
        step(label, "ps -a (0)", pre + ["ps", "-a"])
    if i == 0:
        res.clear()  # warm-up
names = []
for (l, nme) in res:
    if nme not in names: names.append(nme)
print(f"{'step':12s} " + " ".join(f"{l:>24s}" for l in trees))
for nme in names:
    cells = []
    for l in trees:
        w, c = res[(l, nme)]
        cells.append(f"wall {statistics.median(w):5.0f} cpu {statistics.median(c):4.0f}")
    print(f"{nme:12s} " + " ".join(f"{x:>24s}" for x in cells))
