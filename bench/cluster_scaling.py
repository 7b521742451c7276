"""Benchmark: Kakao skill requests through HAProxy to 1, then 2 `certmate run` on PostgreSQL.

The same load as bench/kakao_skill.py (64 clients, each one user walking the
menu, a flow step, a choice, the certificate list and "취소", buttons pressed
by their tokens), sent to a real HAProxy on 127.0.0.1 that spreads it round
robin over one process, then over two, both on one fresh PostgreSQL database
and one key file. Prints requests/s and p99 for each and the ratio two/one;
the goal on a 2-core machine is at least 1.6. Also prints the CPU time each part
used per request (certmate, this load generator, the rest: PostgreSQL and
HAProxy), which says where two cores go.

    python bench/cluster_scaling.py [--requests 6000] [--clients 64] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from bench.kakao_skill import PATH, SECRET, STEPS, Result, free_port, load, process  # noqa: E402
from tests.balancer import Balancer  # noqa: E402

ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def _database(admin: sa.URL, drop: str | None = None) -> sa.URL:
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        if drop is not None:
            await connection.execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')
            return admin
        name = f"certmate_bench_{secrets.token_hex(4)}"
        await connection.execute(f'CREATE DATABASE "{name}"')
        return admin.set(database=name)
    finally:
        await connection.close()


@dataclass
class Cpu:
    """CPU seconds spent during a measured run, by whom (Linux /proc)."""

    certmate: float
    load: float
    machine: float

    @property
    def rest(self) -> float:
        """PostgreSQL, HAProxy and anything else running."""
        return self.machine - self.certmate - self.load


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _cpu_now(pids: list[int]) -> Cpu:
    return Cpu(sum(map(_process_cpu, pids)), time.process_time(), _machine_cpu())


async def _through(
    processes: int, env: dict[str, str], requests: int, clients: int
) -> tuple[Result, Cpu]:
    """`processes` runs behind HAProxy: a warm-up round, then the measured one, with the
    CPU each part used during it."""
    folder = Path(tempfile.mkdtemp(prefix="certmate-cluster-"))
    ports = [free_port() for _ in range(processes)]
    async with AsyncExitStack() as stack:
        pids = []
        for port in ports:  # one after another: the first makes the key file
            command = [sys.executable, "-m", "bot", "run"]
            run = await stack.enter_async_context(
                process(command, env | {"CERTMATE_HTTP__PORT": str(port)}, port)
            )
            pids.append(run.pid)
        balancer = await stack.enter_async_context(Balancer(folder, ports))
        url = f"{balancer.url}{PATH}"
        await load(url, clients, max(clients * len(STEPS), 200), f"warm{processes}")
        before = _cpu_now(pids)
        result = await load(url, clients, requests, f"user{processes}")
        after = _cpu_now(pids)
        used = Cpu(
            after.certmate - before.certmate, after.load - before.load,
            after.machine - before.machine,
        )  # fmt: skip
        return result, used


async def measure(requests: int, clients: int) -> dict[str, Any]:
    admin = sa.make_url(os.environ.get("CERTMATE_TEST_DATABASE_URL", ADMIN_URL))
    url = await _database(admin)
    folder = Path(tempfile.mkdtemp(prefix="certmate-cluster-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "CERTMATE_DATABASE__URL": url.render_as_string(hide_password=False),
        "CERTMATE_VAULT__KEY_FILE": str(folder / "master.key"),
        "CERTMATE_KAKAO__ENABLED": "true",
        "CERTMATE_KAKAO__SECRET": SECRET,
        "CERTMATE_LIMITS__MESSAGES_PER_MINUTE": "1000000",
        "CERTMATE_HTTP__REFUSALS_PER_MINUTE": "1000000",
    }
    try:
        one, one_cpu = await _through(1, env, requests, clients)
        two, two_cpu = await _through(2, env, requests, clients)
    finally:
        await _database(admin, drop=url.database)

    def cpu_ms(cpu: Cpu, result: Result) -> dict[str, float]:
        """CPU milliseconds per request, by part, and the cores busy during the run."""
        per = 1000 / result.requests
        return {
            "certmate": round(cpu.certmate * per, 2),
            "load": round(cpu.load * per, 2),
            "rest": round(cpu.rest * per, 2),
            "cores_busy": round(cpu.machine / result.seconds, 2),
        }

    return {
        "requests": one.requests,
        "clients": clients,
        "one_per_s": round(one.per_second, 1),
        "one_p99_ms": round(one.percentile(0.99), 1),
        "two_per_s": round(two.per_second, 1),
        "two_p99_ms": round(two.percentile(0.99), 1),
        "ratio": round(two.per_second / one.per_second, 3),
        "one_cpu_ms": cpu_ms(one_cpu, one),
        "two_cpu_ms": cpu_ms(two_cpu, two),
        "cores": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.requests, args.clients))
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"Kakao skill through HAProxy, PostgreSQL, {figures['clients']} clients,"
        f" {figures['requests']} requests each run\n"
        f"  1 process:   {figures['one_per_s']:8.1f} req/s   p99 {figures['one_p99_ms']} ms\n"
        f"  2 processes: {figures['two_per_s']:8.1f} req/s   p99 {figures['two_p99_ms']} ms\n"
        f"  ratio two/one: {figures['ratio']:.2f} (goal: at least 1.6 on 2 cores)\n"
        f"CPU ms per request (certmate / load generator / PostgreSQL, HAProxy and the rest),"
        f" cores busy of {figures['cores']}:\n"
        f"  1 process:   {_cpu_line(figures['one_cpu_ms'])}\n"
        f"  2 processes: {_cpu_line(figures['two_cpu_ms'])}"
    )


def _cpu_line(cpu: dict[str, float]) -> str:
    return (
        f"{cpu['certmate']:.2f} / {cpu['load']:.2f} / {cpu['rest']:.2f}"
        f"   busy {cpu['cores_busy']:.2f}"
    )


if __name__ == "__main__":
    main()
