"""Generated inputs for the default-dump workloads: a C file for gcc and a log for sort.

Deterministic for a given seed; nothing is read from the machine.
"""

from __future__ import annotations

import random
from pathlib import Path

OPS = ["+", "-", "*", "^", "|", "&"]
WORDS = ["alpha", "bravo", "delta", "gamma", "kilo", "lima", "nova", "omega", "sigma", "tango"]


def _expr(rng: random.Random, names: list[str], depth: int = 0) -> str:
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(names) if rng.random() < 0.7 else str(rng.randint(1, 999))
    op = rng.choice(OPS)
    return f"({_expr(rng, names, depth + 1)} {op} {_expr(rng, names, depth + 1)})"


def c_source(n_funcs: int, seed: int = 1) -> str:
    """A C translation unit of ``n_funcs`` functions with loops, switches and structs."""
    rng = random.Random(seed)
    out = [
        "#include <stddef.h>",
        "struct rec { int id; long total; double weight; char tag[16]; struct rec *next; };",
        "static const char *names[] = {" + ", ".join(f'"{w}"' for w in WORDS) + "};",
        "static int table[4096] = {"
        + ", ".join(str(rng.randint(-5000, 5000)) for _ in range(4096))
        + "};",
    ]
    for f in range(n_funcs):
        names = ["a", "b", "c", "x", "y"]
        body = [
            f"long fn_{f}(struct rec *r, int a, int b, const char *s) {{",
            "  long x = a, y = b, c = 0;",
            "  int buf[32];",
            "  for (int i = 0; i < 32; i++) buf[i] = table[(i * 7 + a) & 4095] + i;",
        ]
        for k in range(rng.randint(3, 7)):
            kind = rng.randrange(4)
            if kind == 0:
                body.append(f"  for (int i = 0; i < {rng.randint(4, 64)}; i++) {{")
                body.append(f"    x = {_expr(rng, names)} + buf[i & 31];")
                body.append(f"    if (x > {rng.randint(100, 9999)}) y ^= x >> {rng.randint(1, 9)};")
                body.append("  }")
            elif kind == 1:
                body.append(f"  switch ((a + {k}) & 7) {{")
                for case in range(rng.randint(3, 8)):
                    body.append(f"  case {case}: c += {_expr(rng, names)}; break;")
                body.append(f"  default: c -= {rng.randint(1, 50)};")
                body.append("  }")
            elif kind == 2:
                body.append("  for (struct rec *p = r; p; p = p->next) {")
                body.append(f"    p->total += {_expr(rng, names)};")
                body.append(f"    p->weight = p->weight * {rng.random():.4f} + {rng.random():.4f};")
                body.append(f"    p->tag[{rng.randint(0, 15)}] = s[{rng.randint(0, 7)}];")
                body.append("  }")
            else:
                callee = rng.randrange(f) if f else 0
                if f:
                    body.append(f"  c += fn_{callee}(r, (int){_expr(rng, names)}, b + {k}, s);")
                else:
                    body.append(f"  c += {_expr(rng, names)};")
                body.append(f"  if (s[0] == '{rng.choice('abcdefgh')}') c += (long)names[{k}][0];")
        body.append(f"  return x + y * {rng.randint(2, 17)} + c;")
        body.append("}")
        out.extend(body)
    return "\n".join(out) + "\n"


def access_log(n_lines: int, seed: int = 2) -> bytes:
    """A web-server access log of ``n_lines`` generated lines."""
    rng = random.Random(seed)
    paths = [f"/{a}/{b}" for a in WORDS for b in ("list", "view", "edit", "api/v2/items")]
    agents = ["curl/8.1", "Mozilla/5.0 (X11; Linux x86_64)", "bench-client/1.3", "probe/0.9"]
    lines = []
    for i in range(n_lines):
        ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        ts = f"{1 + i % 28:02d}/Mar/2024:{i % 24:02d}:{(i // 24) % 60:02d}:{i % 60:02d} +0000"
        status = rng.choice((200, 200, 200, 200, 301, 304, 404, 500))
        lines.append(
            f'{ip} - - [{ts}] "GET {rng.choice(paths)}?id={rng.randint(1, 10**6)} HTTP/1.1" '
            f'{status} {rng.randint(120, 90000)} "-" "{rng.choice(agents)}"'
        )
    return ("\n".join(lines) + "\n").encode()


def write_inputs(work: Path, c_funcs: int, log_lines: int) -> tuple[Path, Path]:
    c_file, log_file = work / "gen.c", work / "access.log"
    c_file.write_text(c_source(c_funcs))
    log_file.write_bytes(access_log(log_lines))
    return c_file, log_file
