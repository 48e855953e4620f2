"""Python data workload for the default dump: records, strings, JSON, numpy arrays, blobs.

Generated data only (seeded), about 150 MB resident.  Prints READY and sleeps until killed.
"""

from __future__ import annotations

import json
import random
import sys
import time
import zlib

import numpy as np

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "shi", "vo", "zen", "pa", "qui", "dor", "el", "an"]
DOMAINS = ["example.org", "mail.test", "corp.invalid", "users.example"]
CITIES = ["Aberdeen", "Bergen", "Cork", "Dresden", "Eindhoven", "Florence", "Graz", "Hull"]


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def main() -> None:
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    rng = random.Random(20240601)
    n_users = int(120_000 * scale)
    users = {}
    for i in range(n_users):
        first, last = word(rng).title(), word(rng).title()
        users[i] = {
            "id": i,
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}{i % 97}@{rng.choice(DOMAINS)}",
            "age": rng.randint(18, 90),
            "city": rng.choice(CITIES),
            "score": round(rng.gauss(50, 15), 3),
            "tags": [word(rng) for _ in range(rng.randint(0, 4))],
            "active": rng.random() < 0.8,
        }
    logs = []
    for i in range(int(200_000 * scale)):
        logs.append(
            f"2024-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}Z "
            f"host{rng.randint(1, 40):02d} GET /api/v1/{word(rng)}/{rng.randint(1, 99999)} "
            f"status={rng.choice([200, 200, 200, 304, 404, 500])} ms={rng.expovariate(0.05):.1f}"
        )
    records = json.loads(json.dumps([users[i] for i in range(0, n_users, 2)]))
    index = {u["email"]: u["id"] for u in records}
    nrng = np.random.default_rng(7)
    walk = np.cumsum(nrng.normal(size=int(1_000_000 * scale)))
    ids = np.arange(int(1_000_000 * scale), dtype=np.int64)
    side = int(1400 * scale**0.5)
    grad = np.add.outer(np.arange(side), np.arange(side)) // 11
    image = (grad + nrng.integers(0, 8, size=(side, side))).astype(np.uint8)
    counts = nrng.poisson(4.0, size=int(800_000 * scale)).astype(np.int32)
    embed = nrng.normal(size=(int(1500 * scale), 256)).astype(np.float32)
    blobs = [zlib.compress(" ".join(logs[j : j + 40]).encode(), 6) for j in range(0, 12_000, 40)]
    keep = (users, logs, records, index, walk, ids, image, counts, embed, blobs)
    print("READY", len(keep), flush=True)
    time.sleep(3600)


if __name__ == "__main__":
    main()
