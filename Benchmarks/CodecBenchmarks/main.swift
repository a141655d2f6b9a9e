print("codec benchmarks: not written yet")
