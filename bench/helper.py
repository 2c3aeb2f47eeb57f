#!/usr/bin/env python3
"""Helpers for bench/run.sh: parse hey and wrk output, poll the sentinel's
route, write the 100-provider config, and render the results as Markdown.

Only the standard library; every loop is bounded in count and time.

    helper.py hey FILE               -> one JSON object on stdout
    helper.py wrk FILE               -> one JSON object on stdout
    helper.py poll-route URL WANT OUT [--interval S] [--timeout S]
    helper.py gen-config OUT PORT_A PORT_B [--services N] [--providers N]
    helper.py status PID             -> {"VmRSS":…, "VmHWM":…} (kB)
    helper.py sample-mem PID 10,30,60 -> the same at each mark, one line each
    helper.py summary RESULTS.jsonl  -> Markdown tables on stdout
    helper.py hey-csv FILE           -> percentiles of `hey -o csv` (every request)
    helper.py hold-conns HOST PORT PATH N SECS READY
                                     -> opens N keep-alive connections, one GET
                                        each, holds them SECS s; writes READY
                                        once all are open; JSON counts on stdout
    helper.py tree-rss PID           -> {"rss_kb": …} of PID and its children
    helper.py realistic-backend PORT NAME SEED
                                     -> a backend like a real provider: 20-50 ms,
                                        1 % 500s, 0.2 % stalls of 1 s (until killed)
"""

import json
import re
import sys
import time
import urllib.request

# ---------------------------------------------------------------- backends


def realistic_backend(port, name, seed):
    """An HTTP/1.1 keep-alive backend on 127.0.0.1 that answers like a real
    provider rather than a loopback nginx: every answer after 20-50 ms
    (uniform), 1 % of them a 500, 0.2 % of them stalled for 1 s first.
    Seeded, so two runs draw the same sequence per connection order."""
    import asyncio
    import random

    rng = random.Random(seed)
    body = b'{"status":"ok","value":42,"updated_at":%d}' % int(time.time())

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(min(length, 1 << 20))
                draw = rng.random()
                delay = rng.uniform(0.020, 0.050)
                if draw < 0.002:
                    delay += 1.0
                await asyncio.sleep(delay)
                status = b"500 Internal Server Error" if 0.002 <= draw < 0.012 else b"200 OK"
                out = b"error" if status != b"200 OK" else body
                writer.write(
                    b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
                    b"x-backend: " + name.encode() + b"\r\ncontent-length: "
                    + str(len(out)).encode() + b"\r\n\r\n" + out
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def hold_conns(host, port, path, n, secs, ready):
    """Opens `n` connections (at most 500 connecting at once), sends one
    keep-alive GET on each and reads its answer, then holds them all open
    for `secs` seconds; writes `ready` once every connection has answered
    or failed. Bounded: each connection gets 30 s to answer."""
    import asyncio

    req = ("GET %s HTTP/1.1\r\nhost: %s\r\n\r\n" % (path, host)).encode()
    counts = {"opened": 0, "ok": 0, "failed": 0}
    gate = asyncio.Semaphore(500)
    writers = []

    async def one():
        async with gate:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
                counts["opened"] += 1
                w.write(req)
                head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)
                m = re.search(rb"content-length: *(\d+)", head, re.I)
                if m:
                    await asyncio.wait_for(r.readexactly(int(m.group(1))), 30)
                if head.startswith(b"HTTP/1.1 200"):
                    counts["ok"] += 1
                else:
                    counts["failed"] += 1
                writers.append(w)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                counts["failed"] += 1

    async def run():
        await asyncio.gather(*(one() for _ in range(n)))
        open(ready, "w").write(json.dumps(counts))
        await asyncio.sleep(secs)
        for w in writers:
            w.close()

    asyncio.run(run())
    print(json.dumps(counts))


def tree_rss(pid):
    """VmRSS of `pid` and its direct children, in kB."""
    import os

    pids = [int(pid)]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if int(open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()[1]) == int(pid):
                    pids.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    total = 0
    for p in pids:
        total += proc_status(p).get("VmRSS", 0)
    return {"rss_kb": total, "processes": len(pids)}


# ---------------------------------------------------------------- parsing


def _secs(value, unit):
    v = float(value)
    return v * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


def parse_hey(text):
    """The default (summary) output of `hey`."""
    out = {
        "total_s": None,
        "rps": None,
        "slowest_ms": None,
        "p50_ms": None,
        "p90_ms": None,
        "p99_ms": None,
        "status": {},
        "errors": 0,
        "error_kinds": {},
    }
    m = re.search(r"Total:\s+([\d.]+) secs", text)
    if m:
        out["total_s"] = float(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    m = re.search(r"Slowest:\s+([\d.]+) secs", text)
    if m:
        out["slowest_ms"] = float(m.group(1)) * 1e3
    for pct, key in (("50", "p50_ms"), ("90", "p90_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s+%s%% in ([\d.]+) secs" % pct, text, re.M)
        if m:
            out[key] = float(m.group(1)) * 1e3
    sect = text.split("Status code distribution:", 1)
    if len(sect) == 2:
        body = sect[1].split("Error distribution:", 1)[0]
        for code, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", body):
            out["status"][code] = out["status"].get(code, 0) + int(n)
    sect = text.split("Error distribution:", 1)
    if len(sect) == 2:
        for n, msg in re.findall(r"^\s+\[(\d+)\]\s+(.*)$", sect[1], re.M):
            out["errors"] += int(n)
            # Group by the tail of the message (the address varies).
            kind = re.sub(r".*: ", "", msg.strip())[:80]
            out["error_kinds"][kind] = out["error_kinds"].get(kind, 0) + int(n)
    out["responses"] = sum(out["status"].values())
    out["ok"] = out["status"].get("200", 0)
    out["requests"] = out["responses"] + out["errors"]
    out["failed"] = out["requests"] - out["ok"]
    return out


def parse_wrk(text):
    """`wrk --latency` output."""
    out = {"rps": None, "requests": None, "non2xx": 0, "socket_errors": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        out["non2xx"] = int(m.group(1))
    m = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    if m:
        out["socket_errors"] = sum(int(x) for x in m.groups())
        out["socket_error_kinds"] = dict(
            zip(("connect", "read", "write", "timeout"), (int(x) for x in m.groups()))
        )
    for pct in ("50", "90", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s|m)\s*$" % pct, text, re.M)
        out["p%s_ms" % pct] = _secs(m.group(1), m.group(2)) * 1e3 if m else None
    return out


def parse_hey_csv(text):
    """`hey -o csv`: one line per request, so any percentile is exact."""
    lat, non200, n = [], 0, 0
    for line in text.splitlines()[1:]:
        parts = line.split(",")
        if len(parts) < 7:
            continue
        try:
            lat.append(float(parts[0]) * 1e3)
            n += 1
            if parts[6].strip() != "200":
                non200 += 1
        except ValueError:
            continue
    lat.sort()

    def pct(p):
        if not lat:
            return None
        return lat[min(len(lat) - 1, int(len(lat) * p / 100.0))]

    out = {"requests": n, "non2xx": non200, "p50_ms": pct(50)}
    for p in ("99", "99.9", "99.99"):
        out["tail_p%s_ms" % p] = pct(float(p))
    out["tail_max_ms"] = lat[-1] if lat else None
    return out


# ---------------------------------------------------------------- polling


def poll_route(url, want, out_path, interval=0.1, timeout=30.0):
    """Polls `url` (GET /v1/services/{s}/route) every `interval` seconds and
    writes one JSON line per poll: {"t_ms": epoch ms, "active": …}. Stops
    when `.active` is `want`, or after `timeout` seconds."""
    deadline = time.time() + timeout
    max_polls = int(timeout / interval) + 10
    with open(out_path, "w") as f:
        for _ in range(max_polls):
            t0 = time.time()
            if t0 > deadline:
                break
            active = None
            try:
                with urllib.request.urlopen(url, timeout=1.0) as r:
                    active = json.load(r).get("active")
            except Exception as e:  # noqa: BLE001 - any failure is a data point
                active = "error: %s" % type(e).__name__
            t = time.time()
            f.write(json.dumps({"t_ms": int(t * 1000), "active": active}) + "\n")
            f.flush()
            if active == want:
                return 0
            time.sleep(max(0.0, interval - (time.time() - t0)))
    return 1


def switch_time(poll_path, kill_ms):
    """Milliseconds from the kill to the first poll that saw the switch."""
    last = None
    with open(poll_path) as f:
        for line in f:
            last = json.loads(line)
    if not last:
        return None
    return last["t_ms"] - kill_ms, last["active"]


# ---------------------------------------------------------------- configs


def gen_config(out, port_a, port_b, services=10, providers=10):
    lines = [
        "# %d services x %d providers, all on the two local backends."
        % (services, providers),
        "[sentinel]",
        'id = "bench-mem"',
        "allow_private_targets = true",
        "",
    ]
    for s in range(services):
        lines += [
            "[[service]]",
            'id = "svc%02d"' % s,
            'kind = "api"',
            'probe_interval = "5s"',
            'target_latency = "200ms"',
            "",
            "[service.probe]",
            'path = "/health"',
            'timeout = "1s"',
            "",
            "[service.probe.checks]",
            'assertions = [{ pointer = "/status", equals = "ok" }]',
            "",
        ]
        for p in range(providers):
            port = port_a if p % 2 == 0 else port_b
            lines += [
                "[[service.provider]]",
                'id = "s%02dp%02d"' % (s, p),
                'endpoint = "http://127.0.0.1:%s"' % port,
                'initial = "%s"' % ("active" if p == 0 else "standby"),
                "",
            ]
    with open(out, "w") as f:
        f.write("\n".join(lines))


def sample_mem(pid, marks):
    """VmRSS/VmHWM of `pid` at each mark (seconds from now), one JSON line each."""
    t0 = time.time()
    for m in marks:
        time.sleep(max(0.0, t0 + m - time.time()))
        try:
            st = proc_status(pid)
        except OSError:
            return 1
        st["after"] = "%d s (first minute: probing only)" % m
        print(json.dumps(st), flush=True)
    return 0


def proc_status(pid):
    out = {}
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                out[k] = int(v.split()[0])
    return out


# ---------------------------------------------------------------- summary


def _f(v, nd=0):
    if v is None:
        return "–"
    if nd == 0:
        return "{:,.0f}".format(v)
    return "{:,.{nd}f}".format(v, nd=nd)


def _other(r):
    v = r.get("other_cpu_pct")
    return "–" if v is None else "%.0f %%" % v


def summary(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    by = {}
    for r in rows:
        by.setdefault(r["exp"], []).append(r)
    order = ["direct", "sentinel", "sentinel-100", "sentinel-hedge", "haproxy", "nginx"]

    def key(r):
        return order.index(r["target"]) if r.get("target") in order else 99

    out = []
    for r in by.get("meta", []):
        out.append(
            "Run: %s, commit %s — %s"
            % (r.get("date"), r.get("commit", "?"), r.get("machine"))
        )
        out.append("")
    for rate in sorted({r["rate"] for r in by.get("steady", [])}):
        out.append("### Steady load, %s requests/s for 10 s (hey)" % _f(rate))
        out.append("")
        out.append(
            "| target | achieved req/s | p50 ms | p90 ms | p99 ms | slowest ms "
            "| non-200 + errors | p50 − direct p50 | proxy CPU µs/req | other CPU |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        rs = sorted([r for r in by["steady"] if r["rate"] == rate], key=key)
        d50 = next((r["p50_ms"] for r in rs if r["target"] == "direct"), None)
        for r in rs:
            over = (
                "%+.1f ms" % (r["p50_ms"] - d50)
                if d50 is not None and r.get("p50_ms") is not None
                else "–"
            )
            out.append(
                "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                % (
                    r["target"],
                    _f(r["rps"]),
                    _f(r["p50_ms"], 1),
                    _f(r["p90_ms"], 1),
                    _f(r["p99_ms"], 1),
                    _f(r["slowest_ms"], 1),
                    _f(r["failed"]),
                    over if r["target"] != "direct" else "",
                    _f(r.get("proxy_cpu_us"), 1),
                    _other(r),
                )
            )
        out.append("")
    if by.get("max"):
        out.append(
            "### Max throughput (wrk -t1 -c32 -d10s; rounds in alternating "
            "orders; best round shown, all rounds listed)"
        )
        out.append("")
        out.append(
            "| target | req/s (best) | × direct | req/s per round | p50 ms | p99 ms "
            "| errors | proxy CPU µs/req | other CPU |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        groups = {}
        for r in by["max"]:
            groups.setdefault(r["target"], []).append(r)

        def best(rs):
            return max(rs, key=lambda r: r.get("rps") or 0)

        def mean(rs, k):
            v = [r[k] for r in rs if r.get(k) is not None]
            return sum(v) / len(v) if v else None

        d = best(groups["direct"]) if "direct" in groups else None
        for t in sorted(groups, key=lambda t: order.index(t) if t in order else 99):
            rs = sorted(groups[t], key=lambda r: r.get("round", 1))
            b = best(rs)
            cpu = mean(rs, "proxy_cpu_us")
            other = mean(rs, "other_cpu_pct")
            out.append(
                "| %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                % (
                    t,
                    _f(b["rps"]),
                    "%.2f×" % (b["rps"] / d["rps"]) if d and b.get("rps") else "–",
                    " / ".join(_f(r["rps"]) for r in rs),
                    _f(b["p50_ms"], 2),
                    _f(b["p99_ms"], 2),
                    _f(sum((r["non2xx"] or 0) + (r["socket_errors"] or 0) for r in rs)),
                    _f(cpu, 1),
                    "%.0f %%" % other if other is not None else "–",
                )
            )
        out.append("")
    for fault, title in (
        ("kill", "`kill -9` of backend A at t = 5 s"),
        ("stop", "backend A hung (SIGSTOP) at t = 5 s; hey -t 15"),
    ):
        fo = [
            r
            for r in by.get("failover", [])
            if r.get("load") == "hey" and r.get("fault", "kill") == fault
        ]
        if not fo:
            continue
        out.append(
            "### Failover at 1,000 req/s: 20 s of hey (10 workers × 100 req/s), "
            + title
        )
        out.append("")
        out.append(
            "| proxy | requests sent (of 20,000) | 200 | non-200 | errors | p99 ms "
            "| slowest ms | sentinel names B after |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in sorted(fo, key=key):
            sw = r.get("switch_ms")
            out.append(
                "| %s | %s | %s | %s | %s | %s | %s | %s |"
                % (
                    r["target"],
                    _f(r["requests"]),
                    _f(r["ok"]),
                    _f(r["responses"] - r["ok"]),
                    _f(r["errors"]),
                    _f(r["p99_ms"], 1),
                    _f(r["slowest_ms"], 1),
                    ("%s ms" % _f(sw)) if sw is not None else "n/a",
                )
            )
        out.append("")
        for r in sorted(fo, key=key):
            kinds = dict(r.get("error_kinds", {}))
            codes = {k: v for k, v in r["status"].items() if k != "200"}
            if kinds or codes:
                out.append(
                    "- %s: %s"
                    % (
                        r["target"],
                        ", ".join(
                            ["HTTP %s × %d" % (k, v) for k, v in codes.items()]
                            + ["%s × %d" % (k, v) for k, v in kinds.items()]
                        ),
                    )
                )
        out.append("")
    fw = [r for r in by.get("failover", []) if r.get("load") == "wrk"]
    if fw:
        out.append(
            "### Failover at full load: wrk -t1 -c32 -d20s --timeout 2s, "
            "`kill -9` of backend A at t = 5 s"
        )
        out.append("")
        out.append(
            "| proxy | requests | req/s | non-2xx | socket errors (connect/read/write/timeout) "
            "| p99 ms | sentinel names B after |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        for r in sorted(fw, key=key):
            k = r.get("socket_error_kinds") or {}
            sw = r.get("switch_ms")
            out.append(
                "| %s | %s | %s | %s | %s (%s) | %s | %s |"
                % (
                    r["target"],
                    _f(r["requests"]),
                    _f(r["rps"]),
                    _f(r["non2xx"]),
                    _f(r["socket_errors"]),
                    "/".join(str(k.get(x, 0)) for x in ("connect", "read", "write", "timeout")),
                    _f(r["p99_ms"], 2),
                    ("%s ms" % _f(sw)) if sw is not None else "n/a",
                )
            )
        out.append("")
    rl = by.get("realistic", [])
    if rl:
        out.append(
            "### Realistic backends (20-50 ms, 1 %% 500s, 0.2 %% stalls of 1 s): "
            "hey -z %ss -c 20 -o csv (every request's latency), rounds in alternating orders"
            % _f(rl[0].get("secs", 30))
        )
        out.append("")
        out.append(
            "| target | round | requests | non-2xx | p50 ms | p99 ms | p99.9 ms | p99.99 ms | max ms | proxy CPU µs/req |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in sorted(rl, key=lambda r: (key(r), r.get("round", 0))):
            out.append(
                "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                % (
                    r["target"],
                    r.get("round", 1),
                    _f(r["requests"]),
                    _f(r["non2xx"]),
                    _f(r["p50_ms"], 1),
                    _f(r.get("tail_p99_ms"), 1),
                    _f(r.get("tail_p99.9_ms"), 1),
                    _f(r.get("tail_p99.99_ms"), 1),
                    _f(r.get("tail_max_ms"), 1),
                    _f(r.get("proxy_cpu_us"), 1),
                )
            )
        out.append("")
    cs = by.get("conns", [])
    if cs:
        out.append(
            "### 10,000 idle client connections held open, then wrk -t1 -c32 -d10s beside them"
        )
        out.append("")
        out.append(
            "| proxy | connections open (answered 200) | RSS before MiB | RSS with them MiB "
            "| KiB per connection | req/s beside them | proxy CPU µs/req |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        for r in sorted(cs, key=key):
            held = r.get("held") or {}
            opened = held.get("opened") or 0
            per = (r["rss_held_kb"] - r["rss0_kb"]) / opened if opened else None
            out.append(
                "| %s | %s (%s) | %.1f | %.1f | %s | %s | %s |"
                % (
                    r["target"],
                    _f(opened),
                    _f(held.get("ok")),
                    r["rss0_kb"] / 1024,
                    r["rss_held_kb"] / 1024,
                    _f(per, 1),
                    _f(r["rps"]),
                    _f(r.get("proxy_cpu_us"), 1),
                )
            )
        out.append("")
    if by.get("memory"):
        out.append("### Memory of `sentinel run`")
        out.append("")
        out.append("| config | when | VmRSS MiB | VmHWM MiB |")
        out.append("|---|---|---:|---:|")
        for r in by["memory"]:
            out.append(
                "| %s | %s | %.1f | %.1f |"
                % (r["target"], r["after"], r["VmRSS"] / 1024, r["VmHWM"] / 1024)
            )
        out.append("")
    notes = by.get("note", [])
    if notes:
        out.append("Notes from the run:")
        out.append("")
        for r in notes:
            out.append("- %s" % r["text"])
    return "\n".join(out)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "hey":
        print(json.dumps(parse_hey(open(argv[2]).read())))
    elif cmd == "wrk":
        print(json.dumps(parse_wrk(open(argv[2]).read())))
    elif cmd == "poll-route":
        interval, timeout = 0.1, 30.0
        rest = argv[5:]
        if "--interval" in rest:
            interval = float(rest[rest.index("--interval") + 1])
        if "--timeout" in rest:
            timeout = float(rest[rest.index("--timeout") + 1])
        return poll_route(argv[2], argv[3], argv[4], interval, timeout)
    elif cmd == "switch-time":
        r = switch_time(argv[2], int(argv[3]))
        print(json.dumps({"switch_ms": r[0], "active": r[1]} if r else {}))
    elif cmd == "gen-config":
        rest = argv[5:]
        services = int(rest[rest.index("--services") + 1]) if "--services" in rest else 10
        providers = (
            int(rest[rest.index("--providers") + 1]) if "--providers" in rest else 10
        )
        gen_config(argv[2], argv[3], argv[4], services, providers)
    elif cmd == "sample-mem":
        return sample_mem(argv[2], [int(x) for x in argv[3].split(",")][:10])
    elif cmd == "status":
        print(json.dumps(proc_status(argv[2])))
    elif cmd == "summary":
        print(summary(argv[2]))
    elif cmd == "hey-csv":
        print(json.dumps(parse_hey_csv(open(argv[2]).read())))
    elif cmd == "hold-conns":
        hold_conns(argv[2], int(argv[3]), argv[4], int(argv[5]), float(argv[6]), argv[7])
    elif cmd == "tree-rss":
        print(json.dumps(tree_rss(argv[2])))
    elif cmd == "realistic-backend":
        realistic_backend(int(argv[2]), argv[3], int(argv[4]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
