"""Plans shared by the sequence tests."""

SEED = 3
WEAK = 12  # the default bench's weak unit
# 48 h at +70 °C: the weak unit fails after ≈ 21-31 h there (default bench file), the others never
PLAN = """\
plan: burn-in test
standard: IEC 62053-21
edition: "2020"
class: "1"
tests:
  - id: bi
    kind: burn_in
    temperature_c: 70
    duration_h: 48
    gradient_k_per_min: 1.0
    end_temperature_c: 23
    monitoring: {interval_s: 60, port_every: 60, chunk_intervals: 30}
"""
