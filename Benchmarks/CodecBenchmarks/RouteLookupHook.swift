/// The route-lookup benchmark (RouteLookupBenchmark.swift) is written with the routing work; until it exists
/// this prints nothing. Replace the body with a call to `runRouteLookupBenchmark()` when that file lands.
func runRouteLookupBenchmarkIfPresent() {}
