import XCTest
import YAML

/// Compact, unambiguous rendering of a parse tree for assertions: `~` null, plain text bare,
/// 'single' and "double" quoted scalars marked, `[a, b]` and `{k: v}` collections.
func render(_ node: YAMLNode) -> String {
    switch node.kind {
    case .null:
        return "~"
    case .scalar(let text, .plain):
        return text
    case .scalar(let text, .singleQuoted):
        return "'\(text)'"
    case .scalar(let text, .doubleQuoted):
        return "\"\(text)\""
    case .sequence(let items):
        return "[" + items.map(render).joined(separator: ", ") + "]"
    case .mapping(let entries):
        return "{" + entries.map { "\($0.key): \(render($0.value))" }.joined(separator: ", ") + "}"
    }
}

func parseYAML(_ text: String, environment: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line) -> YAMLNode? {
    do {
        return try YAMLParser.parse(text, environment: environment)
    } catch {
        XCTFail("unexpected YAML error \(error)", file: file, line: line)
        return nil
    }
}

func assertYAML(_ text: String, _ expected: String, environment: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line) {
    guard let node = parseYAML(text, environment: environment, file: file, line: line) else { return }
    XCTAssertEqual(render(node), expected, file: file, line: line)
}

func assertYAMLError(
    _ text: String, line expectedLine: Int, column expectedColumn: Int, _ message: String,
    environment: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line
) {
    do {
        let node = try YAMLParser.parse(text, environment: environment)
        XCTFail("expected an error, parsed \(render(node))", file: file, line: line)
    } catch {
        XCTAssertEqual(error.line, expectedLine, "line", file: file, line: line)
        XCTAssertEqual(error.column, expectedColumn, "column", file: file, line: line)
        XCTAssertEqual(error.message, message, file: file, line: line)
    }
}

/// A small deterministic generator (SplitMix64) so random tests repeat exactly.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
