/// Route lookup cost with 1, 100 and 10,000 routes (RouteLookupBenchmark.swift).
func runRouteLookupBenchmarkIfPresent() {
    runRouteLookupBenchmark()
}
