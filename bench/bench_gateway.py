"""Benchmark: the gateway's added latency and its highest sustained rate; prints a table.

Three processes on loopback, as in production: a fake upstream (aiohttp.web, answers at once
with a small chat completion), the gateway (`python -m gateway`) in front of it, and this
load generator. Two measurements:
  1. added latency: the same open-loop schedule (default 200 requests/s) against the upstream
     directly and through the gateway; p50 and p99 of each and the difference.
     Goal on 2 cores: p50 added <= 2 ms, p99 added <= 10 ms.
  2. highest sustained rate: closed loop at several concurrencies, non-streaming; requests/s.
     Goal on 2 cores: >= 1,000 requests/s. Also one streaming row. Each row also gives the
     gateway process's CPU time per request (user + system, from /proc): unlike requests/s it
     hardly moves when other processes load the machine, so it compares two versions fairly.
  3. enforcement overhead (`--limits N`, default 100): a second gateway with N active limits in its
     budgets file (4 match every request: an organisation spend limit, the project's spend limit,
     its requests+tokens per minute, the model's requests per minute; the rest name other
     projects), measured like 1. and in one sustained-rate row. `--state-url redis://...` puts its
     limits state in that (running) Redis or Valkey instead of a SQLite file.
Every loop is bounded in count and time and targets 127.0.0.1 only. Not a test.

    .venv/bin/python bench/bench_gateway.py [--rate 200] [--seconds 10] [--count 6000] [--limits 100]
                                            [--state-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from _common import free_port, records_parser

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
UPSTREAM = r"""
import sys
from aiohttp import web
BODY = (b'{"id":"cmpl-bench","object":"chat.completion","model":"mistral-small-2603","created":1,'
        b'"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}')
CHUNK = (b'data: {"id":"cmpl-bench","object":"chat.completion.chunk","model":"m",'
         b'"choices":[{"index":0,"delta":{"content":"w "}}]}\n\n')
LAST = (b'data: {"id":"cmpl-bench","object":"chat.completion.chunk","model":"m","choices":[],'
        b'"usage":{"prompt_tokens":12,"completion_tokens":10,"total_tokens":22}}\n\ndata: [DONE]\n\n')
HEADERS = {"x-ratelimit-limit-tokens-minute": "2000000", "x-ratelimit-remaining-tokens-minute": "1999000"}
async def chat(request):
    body = await request.read()
    if b'"stream": true' in body or b'"stream":true' in body:
        response = web.StreamResponse(headers={**HEADERS, "content-type": "text/event-stream"})
        await response.prepare(request)
        for _ in range(10):
            await response.write(CHUNK)
        await response.write(LAST)
        return response
    return web.Response(body=BODY, content_type="application/json", headers=HEADERS)
app = web.Application()
app.router.add_post("/v1/chat/completions", chat)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""
PAYLOAD = b'{"model":"mistral-small-latest","messages":[{"role":"user","content":"Say ok."}]}'
STREAM_PAYLOAD = b'{"model":"mistral-small-latest","stream":true,"messages":[{"role":"user","content":"Say ok."}]}'
HEADERS = {"Authorization": "Bearer bench-key", "Content-Type": "application/json", "X-Project": "bench"}


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))


async def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.post(url + "/v1/chat/completions", data=PAYLOAD, headers=HEADERS) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout} s")


async def one(session: aiohttp.ClientSession, url: str, payload: bytes) -> float:
    started = time.perf_counter()
    async with session.post(url + "/v1/chat/completions", data=payload, headers=HEADERS) as response:
        await response.read()
        if response.status != 200:
            raise SystemExit(f"{url}: status {response.status}")
    return (time.perf_counter() - started) * 1000


async def open_loop(url: str, rate: float, seconds: float) -> list[float]:
    """Send at a fixed rate whatever the answers do (no coordinated omission); bounded by count."""
    count = int(rate * seconds)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
        await asyncio.gather(*(one(session, url, PAYLOAD) for _ in range(20)))  # warm the pools
        begin = time.perf_counter()
        tasks = []
        for index in range(count):
            delay = begin + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session, url, PAYLOAD)))
        return list(await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 60))


async def closed_loop(
    url: str, concurrency: int, count: int, payload: bytes, limit_s: float
) -> tuple[float, list[float]]:
    """`concurrency` workers sharing `count` requests; stops early at `limit_s`. Returns (rps, latencies)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + limit_s
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(one(session, url, payload) for _ in range(concurrency)))
        begin = time.perf_counter()

        async def worker() -> None:
            while len(latencies) < count and time.perf_counter() < deadline:
                latencies.append(await one(session, url, payload))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(latencies) / (time.perf_counter() - begin), latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def limits_file(path: Path, count: int) -> Path:
    """`count` limits, 4 of them matching the benchmark's requests (project bench, mistral-small-latest)."""
    matching = [
        '[[limits]]\nname = "organisation"\nperiod = "month"\namount = 1000000\n',
        '[[limits]]\nname = "bench daily"\nproject = "bench"\nperiod = "day"\namount = 100000\n',
        '[[limits]]\nname = "bench rate"\nproject = "bench"\nrequests_per_minute = 100000000\n'
        "tokens_per_minute = 1000000000\n",
        '[[limits]]\nname = "small rate"\nmodel = "mistral-small-latest"\nrequests_per_minute = 100000000\n',
    ]
    others = [
        f'[[limits]]\nname = "p{i}"\nproject = "p{i}"\namount = 10\nrequests_per_minute = 60\n'
        for i in range(max(0, count - len(matching)))
    ]
    path.write_text("\n".join(matching[:count] + others))
    return path


async def run(args: argparse.Namespace, upstream: str, gateway: str, gateway_pid: int, limited: str | None) -> None:
    await wait_ready(upstream)
    await wait_ready(gateway)
    direct = await open_loop(upstream, args.rate, args.seconds)
    through = await open_loop(gateway, args.rate, args.seconds)
    rows = [("upstream direct", direct), ("through gateway", through)]
    if limited is not None:
        await wait_ready(limited)
        rows.append((f"gateway, {args.limits} limits", await open_loop(limited, args.rate, args.seconds)))
    print(
        f"\nAdded latency at {args.rate:.0f} requests/s ({len(direct)} requests each; goal p50 <= 2 ms, p99 <= 10 ms)"
    )
    print(f"{'path':<26}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'added p50':>11}{'added p99':>11}")
    for name, values in rows:
        added = f"{pct(values, 0.5) - pct(direct, 0.5):>11.2f}{pct(values, 0.99) - pct(direct, 0.99):>11.2f}"
        print(f"{name:<26}{pct(values, 0.5):>10.2f}{pct(values, 0.99):>10.2f}{max(values):>10.2f}{added}")
    print(f"\nSustained rate through the gateway ({args.count} requests per row, at most 60 s; goal >= 1,000/s)")
    print(f"{'kind':<12}{'concurrency':>12}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'gw CPU us/req':>15}")
    for kind, payload, concurrency in [
        ("plain", PAYLOAD, 8),
        ("plain", PAYLOAD, 32),
        ("plain", PAYLOAD, 64),
        ("stream", STREAM_PAYLOAD, 32),
    ]:
        used = cpu_seconds(gateway_pid)
        rps, values = await closed_loop(gateway, concurrency, args.count, payload, 60.0)
        cpu = (cpu_seconds(gateway_pid) - used) / (len(values) + concurrency) * 1e6
        print(f"{kind:<12}{concurrency:>12}{rps:>12.0f}{pct(values, 0.5):>10.2f}{pct(values, 0.99):>10.2f}{cpu:>15.0f}")
    if limited is not None:
        rps, values = await closed_loop(limited, 8, args.count, PAYLOAD, 60.0)
        print(f"{'limits':<12}{8:>12}{rps:>12.0f}{pct(values, 0.5):>10.2f}{pct(values, 0.99):>10.2f}")
    rps, values = await closed_loop(upstream, 32, args.count, PAYLOAD, 60.0)
    print(f"{'(direct)':<12}{32:>12}{rps:>12.0f}{pct(values, 0.5):>10.2f}{pct(values, 0.99):>10.2f}")


def start_limited(
    workdir: Path, up_port: int, env: dict[str, str], count: int, state_url: str | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """A second gateway enforcing `count` limits (its own buffer, a limits state file or `state_url`)."""
    port = free_port()
    limits_file(workdir / "budgets.toml", count)
    config = workdir / "limited.toml"
    config.write_text(
        f'port = {port}\nupstream_url = "http://{HOST}:{up_port}"\ndb_path = "limited.sqlite3"\n'
        'budgets_file = "budgets.toml"\nlimits_state_path = "limits.sqlite3"\n'
        + (f'limits_state_url = "{state_url}"\n' if state_url else "")
    )
    proc = start([sys.executable, "-m", "gateway", "--config", str(config)], env, workdir / "limited.log")
    return proc, f"http://{HOST}:{port}"


def main() -> int:
    parser = records_parser(__doc__)
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s for the latency run")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each latency run")
    parser.add_argument("--count", type=int, default=6000, help="requests per sustained-rate row")
    parser.add_argument("--limits", type=int, default=100, help="active limits of the second gateway (0: none)")
    parser.add_argument("--state-url", help="redis://HOST:PORT/DB: the limits gateway's state in a running Redis")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    up_port, gw_port = free_port(), free_port()
    config = workdir / "gateway.toml"
    config.write_text(f'port = {gw_port}\nupstream_url = "http://{HOST}:{up_port}"\ndb_path = "buffer.sqlite3"\n')
    env = {**os.environ, "GATEWAY_USAGE_TOKEN": "bench-token-123456", "GATEWAY_KEY_SALT": "bench-salt-123456"}
    procs = [
        start([sys.executable, "-c", UPSTREAM, str(up_port)], env, workdir / "upstream.log"),
        start([sys.executable, "-m", "gateway", "--config", str(config)], env, workdir / "gateway.log"),
    ]
    limited = None
    if args.limits > 0:
        proc, limited = start_limited(workdir, up_port, env, args.limits, args.state_url)
        procs.append(proc)
    try:
        asyncio.run(run(args, f"http://{HOST}:{up_port}", f"http://{HOST}:{gw_port}", procs[1].pid, limited))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"\n(logs and the buffer in {workdir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
