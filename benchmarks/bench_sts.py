"""STS token codec throughput (issue 13): tokens encoded and decoded per second, against the goal of ≥ 10,000/s each.

The tokens are class 0 electricity credit tokens (and, for a mix, every class 2 management token with a TID) for
many meters: each meter has its own decoder key, so the STA's per-key schedule is computed for every new meter; the
first pass over the meters is timed separately (cold keys) from the whole run (key schedules cached, as for meters
tested over and over). The STA lookup tables, built once per process, are timed apart. The decoder keys are derived
once up front (DKGA02): key derivation is not part of the codec's per-token cost.

Run: ``.venv/bin/python benchmarks/bench_sts.py [TOKENS METERS]`` (default 50000 tokens over 200 meters)
"""

from __future__ import annotations

import random
import sys
import time

GOAL_PER_S = 10_000


def main() -> None:
    n, meters = (int(a) for a in (sys.argv[1:3] if len(sys.argv) >= 3 else (50_000, 200)))
    from instruments.sts import TOKEN_TYPES, Token, decode_amount, decode_token, dkga02, encode_token

    rng = random.Random(13)
    vending_key = bytes.fromhex("abababababababab")
    keys = [dkga02(vending_key, f"0000{rng.randrange(10**13):013d}", "123456", 1, 1) for _ in range(meters)]
    tid_types = [t for t in TOKEN_TYPES.values() if t.has_tid]

    def content(i: int) -> Token:
        t = tid_types[0] if i % 4 else tid_types[i // 4 % len(tid_types)]
        fields = {"random": rng.randrange(16), "tid": rng.randrange(1 << 24)}
        last = t.fields[-1]
        fields[last.name] = decode_amount(rng.randrange(1 << 16)) if last.amount else rng.randrange(1 << 16)
        return Token(t.token_class, t.subclass, fields)

    contents = [(content(i), keys[i % meters]) for i in range(n)]
    t_tables = time.perf_counter()
    encode_token(content(0), 0)  # builds the STA lookup tables, once per process
    t_tables = time.perf_counter() - t_tables

    cold = contents[:meters]
    t0 = time.perf_counter()
    cold_digits = [encode_token(c, k) for c, k in cold]
    t1 = time.perf_counter()
    for d, (_, k) in zip(cold_digits, cold, strict=True):
        decode_token(d, k)
    t2 = time.perf_counter()

    t3 = time.perf_counter()
    digits = [encode_token(c, k) for c, k in contents]
    t4 = time.perf_counter()
    decoded = [decode_token(d, k) for d, (_, k) in zip(digits, contents, strict=True)]
    t5 = time.perf_counter()
    assert decoded == [c for c, _ in contents]

    def line(label: str, count: int, seconds: float) -> str:
        rate = count / seconds
        return (f"{label:<34}: {rate:10,.0f} tokens/s   ({seconds / count * 1e6:6.1f} µs each; goal ≥ {GOAL_PER_S:,}/s:"
                f" {'met' if rate >= GOAL_PER_S else 'NOT met'})")

    print(f"== STS codec: {n} tokens over {meters} meters (decoder keys), class 0 and class 2 ==")
    print(line("encode (keys cached)", n, t4 - t3))
    print(line("decode (keys cached)", n, t5 - t4))
    print(line("encode, first token of a meter", len(cold), t1 - t0))
    print(line("decode, first token of a meter", len(cold), t2 - t1))
    print(f"{'STA tables, once per process':<34}: {t_tables * 1000:10.1f} ms")


if __name__ == "__main__":
    main()
